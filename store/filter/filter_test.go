package filter

import (
	"fmt"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

func cmp(name, sub, op string, v any) store.Expr {
	return store.Compare{Attr: store.AttrPath{Name: name, Sub: sub}, Op: op, Value: v}
}

func testUser() *store.User {
	return &store.User{
		ID:          "0001",
		ExternalID:  "Ext-1",
		UserName:    "Alice@Example.COM",
		DisplayName: "Alice Liddell",
		Name:        store.Name{GivenName: "Alice", FamilyName: "Liddell"},
		Active:      true,
		Emails: []store.MultiValue{
			{Value: "alice@home.org", Type: "home"},
			{Value: "Alice@Work.com", Type: "work", Primary: true},
		},
		Permissions:  []string{"count", "export"},
		AccountAdmin: true,
		Extra: map[string]any{
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{
				"department": "Research",
				"manager":    map[string]any{"value": "0042"},
			},
			"addresses": []any{map[string]any{"type": "work", "locality": "Oxford"}},
		},
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		UpdatedAt: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
	}
}

func TestMatchUser(t *testing.T) {
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	u := testUser()
	tests := []struct {
		name string
		e    store.Expr
		want bool
	}{
		{"userName eq folds case", cmp("userName", "", "eq", "alice@example.com"), true},
		{"userName ne", cmp("userName", "", "ne", "alice@example.com"), false},
		{"externalId is case-exact", cmp("externalId", "", "eq", "ext-1"), false},
		{"externalId exact", cmp("externalId", "", "eq", "Ext-1"), true},
		{"co", cmp("displayName", "", "co", "ce li"), true},
		{"sw", cmp("userName", "", "sw", "ALICE@"), true},
		{"ew", cmp("userName", "", "ew", ".org"), false},
		{"gt string", cmp("userName", "", "gt", "aa"), true},
		{"lt string", cmp("userName", "", "lt", "aa"), false},
		{"pr present", cmp("displayName", "", "pr", nil), true},
		{"pr absent", cmp("nickName", "", "pr", nil), false},
		{"ne on absent is true", cmp("nickName", "", "ne", "x"), true},
		{"eq null on absent", cmp("nickName", "", "eq", nil), true},
		{"bool eq", cmp("active", "", "eq", true), true},
		{"bool gt is false", cmp("active", "", "gt", false), false},
		{"bool vs string is false", cmp("active", "", "eq", "true"), false},
		{"emails.value any element", cmp("emails", "value", "eq", "ALICE@home.org"), true},
		{"emails without sub means value", cmp("emails", "", "ew", "@work.com"), true},
		{"emails.type", cmp("emails", "type", "eq", "work"), true},
		{"value path same element", store.ValuePath{Attr: store.AttrPath{Name: "emails"}, Filter: store.And{L: cmp("type", "", "eq", "work"), R: cmp("value", "", "ew", "@work.com")}}, true},
		{"value path across elements is false", store.ValuePath{Attr: store.AttrPath{Name: "emails"}, Filter: store.And{L: cmp("type", "", "eq", "home"), R: cmp("value", "", "ew", "@work.com")}}, false},
		{"name.familyName", cmp("name", "familyName", "eq", "liddell"), true},
		{"meta.lastModified gt", cmp("meta", "lastModified", "gt", "2026-05-01T00:00:00Z"), true},
		{"meta.lastModified lt", cmp("meta", "lastModified", "lt", "2026-05-01T00:00:00Z"), false},
		{"meta.created eq instant other zone", cmp("meta", "created", "eq", "2026-01-02T05:04:05+02:00"), true},
		{"meta bad date is false", cmp("meta", "created", "gt", "yesterday"), false},
		{"meta co is false", cmp("meta", "created", "co", "2026"), false},
		{"enterprise extension", store.Compare{Attr: store.AttrPath{URN: ent, Name: "department"}, Op: "eq", Value: "research"}, true},
		{"enterprise manager.value", store.Compare{Attr: store.AttrPath{URN: ent, Name: "manager", Sub: "value"}, Op: "eq", Value: "0042"}, true},
		{"extra multi-valued sub", cmp("addresses", "locality", "eq", "oxford"), true},
		{"roster ext bool", store.Compare{Attr: store.AttrPath{URN: RosterUserURN, Name: "accountAdmin"}, Op: "eq", Value: true}, true},
		{"roster ext multi string", store.Compare{Attr: store.AttrPath{URN: RosterUserURN, Name: "permissions"}, Op: "eq", Value: "export"}, true},
		{"and", store.And{L: cmp("active", "", "eq", true), R: cmp("userName", "", "sw", "bob")}, false},
		{"or", store.Or{L: cmp("active", "", "eq", false), R: cmp("userName", "", "sw", "alice")}, true},
		{"not", store.Not{X: cmp("userName", "", "sw", "alice")}, false},
		{"password never matches", cmp("password", "", "pr", nil), false},
		{"nil matches all", nil, true},
	}
	for _, tt := range tests {
		if got := MatchUser(tt.e, u); got != tt.want {
			t.Errorf("%s: MatchUser(%#v) = %v, want %v", tt.name, tt.e, got, tt.want)
		}
	}
}

func TestMatchGroupMembership(t *testing.T) {
	g := &store.Group{ID: "g1", DisplayName: "Sales"}
	members := map[string]bool{"u1": true}
	isMember := func(id string) bool { return members[id] }
	tests := []struct {
		e    store.Expr
		want bool
	}{
		{cmp("members", "value", "eq", "u1"), true},
		{cmp("members", "", "eq", "u2"), false},
		{cmp("members", "value", "ne", "u2"), true},
		{store.ValuePath{Attr: store.AttrPath{Name: "members"}, Filter: cmp("value", "", "eq", "u1")}, true},
		{store.And{L: cmp("id", "", "eq", "g1"), R: store.ValuePath{Attr: store.AttrPath{Name: "members"}, Filter: cmp("value", "", "eq", "u9")}}, false},
		{cmp("displayName", "", "eq", "SALES"), true},
	}
	for _, tt := range tests {
		if got := MatchGroup(tt.e, g, isMember); got != tt.want {
			t.Errorf("MatchGroup(%#v) = %v, want %v", tt.e, got, tt.want)
		}
	}
}

func TestSplit(t *testing.T) {
	idxA := cmp("userName", "", "eq", "a")
	idxB := cmp("emails", "value", "co", "b")
	rest := cmp("title", "", "eq", "boss")
	mixedOr := store.Or{L: idxA, R: rest}
	e := store.And{L: store.And{L: idxA, R: rest}, R: store.And{L: idxB, R: mixedOr}}
	idx, res := Split(e, UserIndexed)
	if got, want := fmt.Sprint(idx), fmt.Sprint(store.And{L: idxA, R: idxB}); got != want {
		t.Errorf("idx = %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(res), fmt.Sprint(store.And{L: rest, R: mixedOr}); got != want {
		t.Errorf("rest = %s, want %s", got, want)
	}
	u := testUser()
	for _, x := range []store.Expr{e, idxA, mixedOr} {
		i, r := Split(x, UserIndexed)
		if MatchUser(x, u) != (MatchUser(i, u) && MatchUser(r, u)) {
			t.Errorf("Split(%v) changed the meaning", x)
		}
	}
	vp := store.ValuePath{Attr: store.AttrPath{Name: "emails"}, Filter: cmp("type", "", "eq", "work")}
	if i, _ := Split(vp, UserIndexed); i != nil {
		t.Errorf("a value path on emails.type was taken as indexed")
	}
}

func TestCompareUsers(t *testing.T) {
	a := &store.User{ID: "1", UserName: "bob", Emails: []store.MultiValue{{Value: "z@x"}, {Value: "a@x", Primary: true}}}
	b := &store.User{ID: "2", UserName: "Alice", Emails: []store.MultiValue{{Value: "m@x"}}}
	c := &store.User{ID: "3"}
	tests := []struct {
		x, y *store.User
		by   store.AttrPath
		want int
	}{
		{a, b, store.AttrPath{Name: "userName"}, 1},
		{b, a, store.AttrPath{Name: "userName"}, -1},
		{c, a, store.AttrPath{Name: "userName"}, -1},
		{a, b, store.AttrPath{Name: "emails", Sub: "value"}, -1}, // a's primary is a@x
		{a, a, store.AttrPath{Name: "userName"}, 0},
	}
	for _, tt := range tests {
		got := CompareUsers(tt.x, tt.y, tt.by)
		if (got < 0) != (tt.want < 0) || (got > 0) != (tt.want > 0) {
			t.Errorf("CompareUsers(%s, %s, %v) = %d, want sign of %d", tt.x.ID, tt.y.ID, tt.by, got, tt.want)
		}
	}
}

func TestCaseFolding(t *testing.T) {
	u := &store.User{UserName: "STRASSE-Ǆ"}
	if !MatchUser(cmp("userName", "", "eq", "strasse-ǆ"), u) {
		t.Errorf("non-ASCII case pair did not match")
	}
}
