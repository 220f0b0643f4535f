module github.com/roster-scim/roster

go 1.26
