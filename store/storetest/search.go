package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/roster-scim/roster/store"
)

// searcher is the handle's user search, or nil when the backend has none
// (the caller then lists with UserSearch.Query, which needs no test).
func searcher(s store.Store) store.UserSearcher {
	us, _ := s.(store.UserSearcher)
	return us
}

// search runs q through us; ok is false when us answers
// errors.ErrUnsupported (a wrapper around a backend without the search).
func (e *env) search(us store.UserSearcher, tenantID string, q store.UserSearch) (*store.UserPage, bool) {
	e.t.Helper()
	res, err := us.SearchUsers(e.ctx, tenantID, q)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil, false
	}
	e.must(err, "SearchUsers(%q, %+v)", q.Text, q)
	return res, true
}

// testUserSearch: a backend's user search (store.UserSearcher) returns
// what ListUsers returns for the filter the search stands for
// (UserSearch.Query): the same users, total, order and pages, for text
// of every length, in any case, in any script, with characters a query
// language could take for syntax, and with or without the status.
func testUserSearch(t *testing.T, e *env) {
	us := searcher(e.s)
	if us == nil {
		t.Skip("the backend has no UserSearcher")
	}
	ten, other := e.tenant("t"), e.tenant("other")
	type person struct {
		userName, display string
		emails            []string
		inactive          bool
	}
	people := []person{
		{"john.smith@acme.com", "John Smith", []string{"John.Smith@Acme.com", "jsmith@ACME.COM"}, false},
		{"JANE.SMITHERS", "Jane Smithers", []string{"jane@smithers.example"}, true},
		{"a.nother", "", []string{"SMITH@elsewhere.example"}, false},
		{"k.straße", "Karl Straße", []string{"karl@strasse.example"}, false},
		{"STRASSE", "ẞig Letter", nil, true},
		{"ǅemal", "ǄEMAL ǆemal", []string{"ǆemal@example.com"}, false},
		{"sisyphus", "ΣΊΣΥΦΟΣ", []string{"σίσυφος@example.gr"}, false},
		{"kelvin", "\u212aelvin Sign", nil, false},
		{"smile", "🙂 Smile", []string{"smile🙂@example.com"}, false},
		{`o"brien`, `Pat "Bud" O'Brien`, []string{`"pat"@example.com`}, false},
		{"two.mails", "Two Mails", []string{"abc@x.io", "def@y.io"}, false},
		{"lines", "first\nsecond", nil, true},
		{"near", "NEAR(a b) AND c*", []string{"or@not.example"}, false},
		{"sp ace", "  spaced  out  ", nil, false},
	}
	for i := range 60 { // more than a page, half of them inactive
		people = append(people, person{fmt.Sprintf("bulk%02d@acme.com", i), fmt.Sprintf("Bulk Family4%d", i%13),
			[]string{fmt.Sprintf("bulk%02d@acme.com", i)}, i%2 == 1})
	}
	for _, p := range people {
		for _, tn := range []*store.Tenant{ten, other} {
			e.user(tn.ID, p.userName, func(u *store.User) {
				u.DisplayName, u.Active = p.display, !p.inactive
				for _, m := range p.emails {
					u.Emails = append(u.Emails, store.MultiValue{Value: m, Type: "work"})
				}
			})
		}
	}
	texts := []string{
		"", " ", "s", "SM", "smi", "smith", "SMITH", "Smith@acme", "acme.com", "ACME.COM", "@", ".io",
		"io\ndef", "x.io", "abc@x.io\ndef", "st\nse", "t\ns",
		"straße", "STRASSE", "strasse", "ẞ", "ss", "ǆem", "ǅEMAL", "σίσ", "ΣΊΣΥΦΟΣ", "ς@ex", "kelvin", "\u212aEL",
		"🙂", "🙂 s", "e🙂@", `"`, `o"b`, `"bud"`, `"pat"@`, "o'b", "near(", "and c*", "*", "a b",
		"  spaced", "d  o", "family4", "Family41", "bulk0", "bulk59@acme.com", "bulk", "zzzz",
		"john.smith@acme.com.and.something.longer", "a.nother", "sisyphus",
	}
	yes, no := true, false
	pages := [][2]int{{0, 50}, {0, 5}, {3, 4}, {50, 50}, {0, 0}, {200, 10}}
	check := func(what string, us store.UserSearcher, lister store.Store) {
		t.Helper()
		for _, text := range texts {
			for _, active := range []*bool{nil, &yes, &no} {
				for _, pg := range pages {
					q := store.UserSearch{Text: text, Active: active, Offset: pg[0], Limit: pg[1]}
					got, ok := e.search(us, ten.ID, q)
					if !ok {
						t.Skip("the backend answers errors.ErrUnsupported")
					}
					want, err := lister.ListUsers(e.ctx, ten.ID, q.Query())
					e.must(err, "ListUsers(%+v)", q.Query())
					samePage(t, got, want, fmt.Sprintf("%s: SearchUsers(%q, active %v, offset %d, limit %d)", what, text, deref(active), pg[0], pg[1]))
				}
			}
		}
	}
	check("search", us, e.s)
	// The search is not vacuous: texts find what a person expects.
	for _, c := range []struct {
		text string
		want int
	}{{"smith", 3}, {"ACME.COM", 61}, {"straße", 1}, {"ǆEM", 1}, {"\u212aEL", 1}, {"io\ndef", 0}, {"family41", 17}, {`"bud"`, 1}} {
		got, _ := e.search(us, ten.ID, store.UserSearch{Text: c.text, Limit: 100})
		if got.Total != c.want || len(got.Users) != c.want {
			t.Errorf("SearchUsers(%q) = total %d, %d users; want %d", c.text, got.Total, len(got.Users), c.want)
		}
	}

	// Another handle (another node) searches the same data alike.
	h2 := e.open(t)
	if us2 := searcher(h2); us2 != nil {
		check("other handle", us2, e.s)
	}
}

func deref(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

// testUserSearchFresh: a user created, renamed, deactivated or deleted
// through one handle is found, or no longer found, by the search at once,
// through that handle and through another one (another node, or the CLI
// beside a server), whatever index the backend keeps for the search.
func testUserSearchFresh(t *testing.T, e *env) {
	h1, h2 := e.s, e.open(t)
	us1, us2 := searcher(h1), searcher(h2)
	if us1 == nil || us2 == nil {
		t.Skip("the backend has no UserSearcher")
	}
	ten := e.tenant("t")
	for i := range 20 {
		e.user(ten.ID, fmt.Sprintf("someone%02d@acme.test", i), func(u *store.User) { u.DisplayName = "Some One" })
	}
	yes, no := true, false
	// find reports the userNames a search finds through both handles,
	// which must agree.
	find := func(step, text string, active *bool) []string {
		t.Helper()
		var out [2][]string
		for i, us := range []store.UserSearcher{us1, us2} {
			res, ok := e.search(us, ten.ID, store.UserSearch{Text: text, Active: active, Limit: 50})
			if !ok {
				t.Skip("the backend answers errors.ErrUnsupported")
			}
			for _, u := range res.Users {
				out[i] = append(out[i], u.UserName)
			}
			if res.Total != len(res.Users) {
				t.Fatalf("%s: SearchUsers(%q) on handle %d: total %d, %d users", step, text, i+1, res.Total, len(res.Users))
			}
		}
		if !slices.Equal(out[0], out[1]) {
			t.Fatalf("%s: SearchUsers(%q): handle 1 finds %q, handle 2 %q", step, text, out[0], out[1])
		}
		return out[0]
	}
	expect := func(step, text string, active *bool, want ...string) {
		t.Helper()
		if got := find(step, text, active); !slices.Equal(got, want) {
			t.Fatalf("%s: SearchUsers(%q, active %v) = %q; want %q", step, text, deref(active), got, want)
		}
	}
	// Searched before any write, so whatever a backend keeps exists.
	expect("before", "lee", nil)
	expect("before", "kim", nil)

	u := &store.User{TenantID: ten.ID, UserName: "ann.lee@acme.test", DisplayName: "Ann Lee", Active: true,
		Emails: []store.MultiValue{{Value: "Ann.Lee@Example.com", Type: "work"}}}
	e.must(h1.CreateUser(e.ctx, u), "CreateUser")
	expect("created on handle 1", "lee", nil, "ann.lee@acme.test")
	expect("created on handle 1", "LEE@EXAMPLE", nil, "ann.lee@acme.test")

	u, err := h2.GetUser(e.ctx, ten.ID, u.ID)
	e.must(err, "GetUser")
	u.UserName, u.DisplayName = "ann.kim@acme.test", "Ann Kim"
	u.Emails = []store.MultiValue{{Value: "ann.kim@example.com", Type: "work"}}
	e.must(h2.UpdateUser(e.ctx, u), "UpdateUser")
	expect("renamed on handle 2", "lee", nil)
	expect("renamed on handle 2", "kim", nil, "ann.kim@acme.test")
	expect("renamed on handle 2", "ann.", nil, "ann.kim@acme.test")

	// An e-mail alone changes.
	u.Emails = append(u.Emails, store.MultiValue{Value: "annie@other.example", Type: "home"})
	e.must(h1.UpdateUser(e.ctx, u), "UpdateUser")
	expect("e-mail added on handle 1", "annie", nil, "ann.kim@acme.test")
	u.Emails = u.Emails[1:]
	e.must(h2.UpdateUser(e.ctx, u), "UpdateUser")
	expect("e-mail changed on handle 2", "kim@example", nil)
	expect("e-mail changed on handle 2", "annie", nil, "ann.kim@acme.test")

	u.Active = false
	e.must(h1.UpdateUser(e.ctx, u), "UpdateUser")
	expect("deactivated on handle 1", "kim", &yes)
	expect("deactivated on handle 1", "kim", &no, "ann.kim@acme.test")

	e.must(h2.DeleteUser(e.ctx, ten.ID, u.ID, 0), "DeleteUser")
	expect("deleted on handle 2", "kim", nil)
	expect("deleted on handle 2", "annie", nil)
	if got := find("deleted on handle 2", "some one", nil); len(got) != 20 {
		t.Fatalf("SearchUsers(%q) finds %d users; want 20", "some one", len(got))
	}

	// A userName freed by the deletion is taken by a new user.
	n := &store.User{TenantID: ten.ID, UserName: "ann.kim@acme.test", DisplayName: "New Ann", Active: true}
	e.must(h2.CreateUser(e.ctx, n), "CreateUser")
	expect("created again on handle 2", "new ann", nil, "ann.kim@acme.test")
	expect("created again on handle 2", "annie", nil)
}
