package store

import "context"

// UserSearch is the portal's user search: the users any part of whose
// userName, displayName or e-mail values contains Text (with Prefix:
// whose userName starts with Text), compared case-insensitively
// (NormUserName), optionally only the active or the inactive ones,
// ordered by userName, then id, and paged.
type UserSearch struct {
	Text string // "" matches every user
	// Prefix matches Text at the start of the userName only: what a
	// search of a letter or two can use, which is in most names.
	Prefix bool
	Active *bool // nil: active and inactive users
	Offset int
	Limit  int
	// CountTo, when above 0, lets the count stop: a Total above CountTo
	// then says only that more than CountTo users match (a page that
	// shows "more than 1,000" need not count 100,000). The users of the
	// page are the same either way.
	CountTo int
}

// Filter is the SCIM filter the search is: Users.ListUsers with it,
// sorted by userName, returns what UserSearcher.SearchUsers returns.
func (q UserSearch) Filter() Expr {
	var f Expr
	if q.Text != "" && q.Prefix {
		f = Compare{Attr: AttrPath{Name: "userName"}, Op: OpSw, Value: q.Text}
	} else if q.Text != "" {
		f = Or{
			L: Or{
				L: Compare{Attr: AttrPath{Name: "userName"}, Op: OpCo, Value: q.Text},
				R: Compare{Attr: AttrPath{Name: "displayName"}, Op: OpCo, Value: q.Text},
			},
			R: Compare{Attr: AttrPath{Name: "emails", Sub: "value"}, Op: OpCo, Value: q.Text},
		}
	}
	if q.Active == nil {
		return f
	}
	st := Compare{Attr: AttrPath{Name: "active"}, Op: OpEq, Value: *q.Active}
	if f == nil {
		return st
	}
	return And{L: f, R: st}
}

// Query is the list request equal to the search.
func (q UserSearch) Query() Query {
	return Query{Filter: q.Filter(), SortBy: AttrPath{Name: "userName"}, Offset: q.Offset, Limit: q.Limit}
}

// UserSearcher is an optional fast path for a door that searches a
// tenant's users by any part of their names (the portal's Users page):
// a search costs what it finds, not the tenant's number of users, where
// the filter's co on three attributes reads every user. Without it, or
// when it answers errors.ErrUnsupported, a caller lists the users with
// UserSearch.Query.
type UserSearcher interface {
	SearchUsers(ctx context.Context, tenantID string, q UserSearch) (*UserPage, error)
}
