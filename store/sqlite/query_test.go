package sqlite

import (
	"testing"

	"github.com/roster-scim/roster/store"
)

// TestPinsOne: only eq of a non-empty string on a key unique per tenant,
// alone or in a conjunction, pins one row.
func TestPinsOne(t *testing.T) {
	attr := func(name, sub string) store.AttrPath { return store.AttrPath{Name: name, Sub: sub} }
	eq := func(a store.AttrPath, v any) store.Expr { return store.Compare{Attr: a, Op: store.OpEq, Value: v} }
	userName, active := attr("userName", ""), attr("active", "")
	for _, c := range []struct {
		e    store.Expr
		want bool
	}{
		{nil, false},
		{eq(userName, "a"), true},
		{eq(attr("id", ""), "a"), true},
		{eq(attr("externalId", ""), "a"), true},
		{eq(userName, ""), false},
		{eq(userName, nil), false},
		{eq(attr("displayName", ""), "a"), false},
		{store.Compare{Attr: userName, Op: store.OpSw, Value: "a"}, false},
		{store.Compare{Attr: userName, Op: store.OpNe, Value: "a"}, false},
		{store.And{L: eq(active, true), R: eq(userName, "a")}, true},
		{store.Or{L: eq(userName, "b"), R: eq(userName, "a")}, false},
		{store.Not{X: eq(userName, "a")}, false},
		{store.ValuePath{Attr: attr("emails", ""), Filter: eq(attr("value", ""), "a")}, false},
	} {
		if got := pinsOne(users, c.e); got != c.want {
			t.Errorf("pinsOne(users, %#v) = %v, want %v", c.e, got, c.want)
		}
	}
	if !pinsOne(groups, eq(attr("displayName", ""), "a")) {
		t.Errorf("displayName eq pins one group")
	}
}
