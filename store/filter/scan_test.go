package filter

import (
	"context"
	"strings"
	"testing"

	"github.com/roster-scim/roster/store"
)

func TestShape(t *testing.T) {
	notes := store.AttrPath{URN: RosterUserURN, Name: "notes"}
	tests := []struct {
		e    store.Expr
		want string
	}{
		{cmp("userName", "", "eq", "ada@example.com"), `userName eq ?`},
		{cmp("title", "", "pr", nil), `title pr`},
		{cmp("displayName", "", "eq", nil), `displayName eq null`},
		{store.And{L: cmp("active", "", "eq", true), R: store.Or{L: store.Compare{Attr: notes, Op: "co", Value: "secret plan"}, R: cmp("name", "familyName", "sw", "Lovelace")}},
			`active eq ? and (` + RosterUserURN + `:notes co ? or name.familyName sw ?)`},
		{store.Not{X: store.ValuePath{Attr: store.AttrPath{Name: "emails"}, Filter: store.And{L: cmp("type", "", "eq", "work"), R: cmp("value", "", "ew", "@example.com")}}},
			`not (emails[type eq ? and value ew ?])`},
	}
	for _, tt := range tests {
		got := Shape(tt.e)
		if got != tt.want {
			t.Errorf("Shape(%#v)\n got %s\nwant %s", tt.e, got, tt.want)
		}
		for _, secret := range []string{"ada@", "secret", "Lovelace", "work", "true"} {
			if strings.Contains(got, secret) {
				t.Errorf("Shape(%#v) = %s: shows the value %q", tt.e, got, secret)
			}
		}
	}
}

func TestReport(t *testing.T) {
	var got []Scan
	obs := func(_ context.Context, s Scan) { got = append(got, s) }
	q := store.Query{Filter: store.And{L: cmp("userName", "", "sw", "a"), R: cmp("title", "", "eq", "CTO")}}
	Report(context.Background(), obs, "User", q, nil, 10, false)
	Report(context.Background(), nil, "User", q, cmp("title", "", "eq", "CTO"), 10, false)
	if len(got) != 0 {
		t.Fatalf("reported %v for a filter answered by indexes or without an observer", got)
	}
	Report(context.Background(), obs, "User", q, cmp("title", "", "eq", "CTO"), 10, true)
	want := Scan{Resource: "User", Filter: "userName sw ? and title eq ?", Unindexed: "title eq ?", Scanned: 10, Refused: true}
	if len(got) != 1 || got[0] != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
