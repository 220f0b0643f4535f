// Package scim is Roster's SCIM 2.0 door (RFC 7643, RFC 7644): the HTTP
// handler identity providers such as Okta and Microsoft Entra ID provision
// Users and Groups through.
//
// It owns what the elimity-com/scim library does not: mapping between
// store records and SCIM JSON, filters turned into store.Expr (never the
// library's PassesFilter), the PATCH engine, projection
// (attributes/excludedAttributes), ETags, /Bulk and the IdP quirks listed
// in DESIGN.md §4. From the library it uses the schema definitions and
// their validation; filters and PATCH paths are parsed with
// github.com/scim2/filter-parser, the parser the library itself uses.
//
// Hot paths avoid generic maps: a GET renders a store.User straight into
// bytes, the common `userName eq "…"` lookup skips the filter parser, and
// parsed filters and paths are cached. Group members are read and written
// through store.Memberships one edge at a time, so changing a member of a
// 100,000-member group costs what it costs in a 10-member group.
package scim
