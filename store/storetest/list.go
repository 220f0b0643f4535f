package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/filter"
)

func attr(name, sub string) store.AttrPath { return store.AttrPath{Name: name, Sub: sub} }

func cmp(name, sub, op string, v any) store.Expr {
	return store.Compare{Attr: attr(name, sub), Op: op, Value: v}
}

func and(l, r store.Expr) store.Expr { return store.And{L: l, R: r} }
func or(l, r store.Expr) store.Expr  { return store.Or{L: l, R: r} }
func not(x store.Expr) store.Expr    { return store.Not{X: x} }

// userFixture creates ~50 users whose names, e-mails, externalIds, titles
// and states cover what filters distinguish: case, non-ASCII folding, LIKE
// wildcards, absent values, empty and duplicate e-mails, and spread-out
// timestamps. It returns them as the store reads them back, by id.
func userFixture(t *testing.T, e *env, tenantID string) []*store.User {
	special := []string{"Alice@Example.com", "bob", "Élodie.Durand@Corp.Example", "straße", "ǅemal", "\u212aelvin",
		"x%_y", "Zoë", "ALICE.SMITH@example.com", "a", "z\\", "ΣΊΣΥΦΟΣ"}
	domains := []string{"example.com", "Corp.Example", "mail.test"}
	for i := range 50 {
		name := fmt.Sprintf("user%02d@%s", i, domains[i%3])
		if i < len(special) {
			name = special[i]
		} else if i%5 == 0 {
			name = strings.ToUpper(name[:1]) + name[1:]
		}
		u := &store.User{TenantID: tenantID, UserName: name, Active: i%4 != 0}
		if i%7 != 0 {
			u.DisplayName = []string{"Ann Ash", "bert BAKER", "Céline Côté", "dora day", "Émile", "frank"}[i%6] + fmt.Sprint(" ", i)
		}
		if i%3 != 0 {
			u.ExternalID = fmt.Sprintf("ext-%04d", i)
			if i%9 == 1 {
				u.ExternalID = fmt.Sprintf("EXT-%04d", i)
			}
		}
		switch {
		case i%2 == 0:
			u.Title = "Engineer"
		case i%3 == 0:
			u.Title = "Manager"
		}
		if i%4 == 1 {
			u.Name.FamilyName = []string{"Smith", "smith", "Østergaard", "O'Brien"}[(i/4)%4]
		}
		local := strings.ToLower(strings.SplitN(name, "@", 2)[0])
		switch i % 6 {
		case 1:
			u.Emails = []store.MultiValue{{Value: local + "@Corp.Example", Type: "work"}}
		case 2:
			u.Emails = []store.MultiValue{{Value: local + "@home.test", Type: "home"}, {Value: local + "@corp.example", Type: "work", Primary: true}}
		case 3:
			u.Emails = []store.MultiValue{{Value: "", Type: "work"}}
		case 4:
			u.Emails = []store.MultiValue{{Value: " " + local + "@spaced.test ", Type: "other"}}
		case 5:
			u.Emails = []store.MultiValue{{Value: strings.ToUpper(local) + "@DUP.test"}, {Value: local + "@dup.TEST", Type: "work"}}
		}
		e.must(e.s.CreateUser(e.ctx, u), "CreateUser(%q)", name)
		if i%5 == 4 {
			time.Sleep(2 * time.Millisecond) // spread meta.created
		}
	}
	all := listAll(t, e, tenantID)
	// Touch some users later so meta.lastModified differs from created.
	time.Sleep(3 * time.Millisecond)
	for i, u := range all {
		if i%5 == 2 {
			u.NickName = "touched"
			e.must(e.s.UpdateUser(e.ctx, u), "UpdateUser")
		}
	}
	return listAll(t, e, tenantID)
}

func listAll(t *testing.T, e *env, tenantID string) []*store.User {
	t.Helper()
	p, err := e.s.ListUsers(e.ctx, tenantID, store.Query{Limit: 1000})
	e.must(err, "ListUsers(all)")
	if p.Total != len(p.Users) {
		t.Fatalf("ListUsers(all): Total %d, %d users", p.Total, len(p.Users))
	}
	return p.Users
}

func ids[T any](xs []T, id func(T) string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func userID(u *store.User) string   { return u.ID }
func groupID(g *store.Group) string { return g.ID }

func rfc(t time.Time) string { return t.Format(time.RFC3339Nano) }

// userFilters is the matrix of filters run against the fixture.
func userFilters(all []*store.User) []store.Expr {
	mid := all[len(all)/2]
	modified := mid.UpdatedAt
	var out []store.Expr
	// Indexed attributes, which backends translate, get every operator
	// with many values; unindexed ones, which the evaluator answers
	// anyway, a few.
	indexed := []store.AttrPath{attr("userName", ""), attr("displayName", ""), attr("externalId", ""), attr("id", ""),
		attr("emails", ""), attr("emails", "value")}
	unindexed := []store.AttrPath{attr("title", ""), attr("name", "familyName"), attr("nickName", "")}
	many := []any{"alice@example.com", "ALICE", "", "@corp.example", "z", "É", "STRAẞE", "ǆ", "k", "x%_", "_", "\\",
		"ext-0002", "EXT-0010", mid.ID, mid.ID[:8], "ann ash", " ", "σίσυφοσ", true, 1.0, nil}
	few := []any{"engineer", "smith", "touched", "", nil}
	ops := []string{store.OpEq, store.OpNe, store.OpCo, store.OpSw, store.OpEw, store.OpGt, store.OpGe, store.OpLt, store.OpLe}
	for _, set := range []struct {
		attrs  []store.AttrPath
		values []any
	}{{indexed, many}, {unindexed, few}} {
		for _, a := range set.attrs {
			out = append(out, store.Compare{Attr: a, Op: store.OpPr})
			for _, op := range ops {
				for _, v := range set.values {
					out = append(out, store.Compare{Attr: a, Op: op, Value: v})
				}
			}
		}
	}
	for _, op := range append(ops, store.OpPr) {
		for _, v := range []any{true, false, "true", nil, 1.0} {
			out = append(out, cmp("active", "", op, v))
		}
	}
	times := []any{rfc(modified), rfc(modified.Add(500 * time.Microsecond)), rfc(modified.Add(-500 * time.Microsecond)),
		modified.In(time.FixedZone("CEST", 2*3600)).Format(time.RFC3339Nano), rfc(all[0].CreatedAt), rfc(all[len(all)-1].UpdatedAt),
		"2001-01-01T00:00:00Z", "not a date", "2026-13-45", true, nil}
	for _, sub := range []string{"created", "lastModified"} {
		for _, op := range append(ops, store.OpPr) {
			for _, v := range times {
				out = append(out, cmp("meta", sub, op, v))
			}
		}
	}
	vp := func(f store.Expr) store.Expr { return store.ValuePath{Attr: attr("emails", ""), Filter: f} }
	val := func(op string, v any) store.Expr { return cmp("value", "", op, v) }
	out = append(out,
		vp(val(store.OpEq, "bob@corp.example")),
		vp(val(store.OpSw, "user")),
		vp(not(val(store.OpPr, nil))),
		vp(val(store.OpEq, nil)),
		vp(val(store.OpNe, "x")),
		vp(and(val(store.OpCo, "corp"), not(val(store.OpEw, ".test")))),
		vp(or(val(store.OpEw, "@dup.test"), val(store.OpEq, ""))),
		vp(and(cmp("type", "", store.OpEq, "work"), val(store.OpCo, "corp"))),
		vp(and(cmp("type", "", store.OpEq, "work"), not(val(store.OpPr, nil)))),
		vp(cmp("primary", "", store.OpEq, true)),
		not(cmp("emails", "", store.OpPr, nil)),
		and(cmp("userName", "", store.OpSw, "user"), cmp("title", "", store.OpEq, "Engineer")),
		or(cmp("userName", "", store.OpSw, "user"), cmp("title", "", store.OpEq, "Engineer")),
		and(not(cmp("active", "", store.OpEq, true)), cmp("displayName", "", store.OpCo, "a")),
		and(cmp("meta", "lastModified", store.OpGt, rfc(modified)), not(cmp("externalId", "", store.OpPr, nil))),
		or(cmp("id", "", store.OpEq, all[5].ID), cmp("id", "", store.OpEq, all[7].ID)),
		and(or(cmp("emails", "value", store.OpEw, "corp.example"), cmp("nickName", "", store.OpPr, nil)), cmp("active", "", store.OpEq, true)),
		not(and(cmp("userName", "", store.OpGe, "m"), cmp("name", "familyName", store.OpPr, nil))),
		and(and(cmp("externalId", "", store.OpSw, "ext-"), cmp("emails", "", store.OpCo, "@")), vp(cmp("type", "", store.OpEq, "home"))),
		and(cmp("userName", "", store.OpEq, "bob"), cmp("title", "", store.OpPr, nil)),
		and(cmp("displayName", "", store.OpLt, "d"), cmp("displayName", "", store.OpGe, "b")),
		store.And{L: cmp("userName", "", store.OpPr, nil), R: vp(val(store.OpCo, "@"))},
	)
	return out
}

func describe(e store.Expr) string {
	switch x := e.(type) {
	case store.And:
		return "(" + describe(x.L) + " and " + describe(x.R) + ")"
	case store.Or:
		return "(" + describe(x.L) + " or " + describe(x.R) + ")"
	case store.Not:
		return "not " + describe(x.X)
	case store.Compare:
		if x.Op == store.OpPr {
			return x.Attr.String() + " pr"
		}
		return fmt.Sprintf("%s %s %#v", x.Attr, x.Op, x.Value)
	case store.ValuePath:
		return x.Attr.String() + "[" + describe(x.Filter) + "]"
	}
	return fmt.Sprintf("%#v", e)
}

func testListUsersFilters(t *testing.T, e *env) {
	ten, other := e.tenant("t"), e.tenant("other")
	all := userFixture(t, e, ten.ID)
	if len(all) != 50 {
		t.Fatalf("fixture has %d users, want 50", len(all))
	}
	// Every user of the other tenant matches most filters and must never
	// appear.
	e.user(other.ID, "alice@example.com", func(u *store.User) {
		u.Emails = []store.MultiValue{{Value: "alice@corp.example"}}
		u.Title = "Engineer"
	})

	// Every filter gives exactly the reference evaluator's answer, in
	// id order.
	for _, f := range userFilters(all) {
		want := []string{}
		for _, u := range all {
			if filter.MatchUser(f, u) {
				want = append(want, u.ID)
			}
		}
		p, err := e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: f, Limit: 1000})
		if err != nil {
			t.Errorf("ListUsers(%s): %v", describe(f), err)
			continue
		}
		got := ids(p.Users, userID)
		if !slices.Equal(got, want) || p.Total != len(want) {
			t.Errorf("ListUsers(%s): total %d, got %d users %v\n want %d %v", describe(f), p.Total, len(got), names(all, got), len(want), names(all, want))
		}
	}

	// Hand-written expectations keep the evaluator honest as well.
	byName := map[string]string{}
	for _, u := range all {
		byName[u.UserName] = u.ID
	}
	tests := []struct {
		f    store.Expr
		want []string // userNames
	}{
		{cmp("userName", "", store.OpEq, "ALICE@EXAMPLE.COM"), []string{"Alice@Example.com"}},
		{cmp("userName", "", store.OpEq, "STRAẞE"), []string{"straße"}},
		{cmp("userName", "", store.OpEq, "ǆemal"), []string{"ǅemal"}},
		{cmp("userName", "", store.OpEq, "KELVIN"), []string{"\u212aelvin"}},
		{cmp("userName", "", store.OpEq, "σίσυφοσ"), []string{"ΣΊΣΥΦΟΣ"}},
		{cmp("userName", "", store.OpCo, "%_"), []string{"x%_y"}},
		{cmp("userName", "", store.OpEw, "\\"), []string{"z\\"}},
		{cmp("userName", "", store.OpSw, "alice"), []string{"Alice@Example.com", "ALICE.SMITH@example.com"}},
		{cmp("externalId", "", store.OpEq, "ext-0002"), []string{"Élodie.Durand@Corp.Example"}},
		{cmp("externalId", "", store.OpEq, "EXT-0002"), nil},
		{cmp("emails", "value", store.OpEq, "BOB@corp.example"), []string{"bob"}},
		{and(cmp("userName", "", store.OpEq, "bob"), cmp("title", "", store.OpEq, "manager")), nil},
		{store.ValuePath{Attr: attr("emails", ""), Filter: and(cmp("type", "", store.OpEq, "work"), cmp("value", "", store.OpSw, "élodie"))},
			[]string{"Élodie.Durand@Corp.Example"}},
	}
	for _, tt := range tests {
		want := []string{}
		for _, n := range tt.want {
			want = append(want, byName[n])
		}
		slices.Sort(want)
		p, err := e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: tt.f, Limit: 100})
		e.must(err, "ListUsers(%s)", describe(tt.f))
		if got := ids(p.Users, userID); !slices.Equal(got, want) {
			t.Errorf("ListUsers(%s) = %v, want %v", describe(tt.f), names(all, got), tt.want)
		}
	}
	p, err := e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: cmp("active", "", store.OpEq, false), Limit: 100})
	e.must(err, "ListUsers(active eq false)")
	same(t, p.Total, 13, "inactive users (every fourth of 50)")
}

// names renders ids as userNames for failure messages.
func names(all []*store.User, idList []string) []string {
	by := map[string]string{}
	for _, u := range all {
		by[u.ID] = u.UserName
	}
	out := make([]string, len(idList))
	for i, id := range idList {
		out[i] = by[id]
	}
	return out
}

func testListUsersSortPage(t *testing.T, e *env) {
	ten := e.tenant("t")
	all := userFixture(t, e, ten.ID)
	if !slices.IsSortedFunc(all, func(a, b *store.User) int { return strings.Compare(a.ID, b.ID) }) {
		t.Errorf("default order is not by id")
	}

	sorts := []store.AttrPath{{}, attr("id", ""), attr("userName", ""), attr("displayName", ""), attr("externalId", ""),
		attr("active", ""), attr("meta", "created"), attr("meta", "lastModified"), attr("title", ""), attr("emails", ""),
		attr("emails", "value"), attr("name", "familyName")}
	for _, by := range sorts {
		// Without a filter, with one SQL answers and with one the
		// evaluator answers (a Go-side pass).
		filters := []store.Expr{nil, cmp("title", "", store.OpPr, nil)}
		if by == attr("userName", "") || by == attr("title", "") {
			filters = append(filters, cmp("userName", "", store.OpSw, "user"))
		}
		for _, desc := range []bool{false, true} {
			for _, f := range filters {
				want := []*store.User{}
				for _, u := range all {
					if filter.MatchUser(f, u) {
						want = append(want, u)
					}
				}
				slices.SortStableFunc(want, func(a, b *store.User) int {
					c := 0
					if by != (store.AttrPath{}) {
						c = filter.CompareUsers(a, b, by)
					}
					if c == 0 {
						c = strings.Compare(a.ID, b.ID)
					}
					if desc {
						c = -c
					}
					return c
				})
				what := fmt.Sprintf("sortBy %q desc=%v filter %s", by.String(), desc, describe(f))
				full, err := e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: f, SortBy: by, Descending: desc, Limit: 1000})
				if err != nil {
					t.Errorf("ListUsers(%s): %v", what, err)
					continue
				}
				if got, w := ids(full.Users, userID), ids(want, userID); !slices.Equal(got, w) {
					t.Errorf("ListUsers(%s):\n got  %v\n want %v", what, names(all, got), names(all, w))
					continue
				}
				// Paging through yields each match exactly once, in order.
				sizes := []int{7, 50}
				if by == (store.AttrPath{}) || by == attr("userName", "") || by == attr("title", "") {
					sizes = append(sizes, 1, 3)
				}
				for _, size := range sizes {
					var paged []string
					for off := 0; off < len(want)+size; off += size {
						p, err := e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: f, SortBy: by, Descending: desc, Offset: off, Limit: size})
						e.must(err, "ListUsers(%s, offset %d, limit %d)", what, off, size)
						if p.Total != len(want) || len(p.Users) > size {
							t.Fatalf("ListUsers(%s, offset %d, limit %d): Total %d, %d users", what, off, size, p.Total, len(p.Users))
						}
						paged = append(paged, ids(p.Users, userID)...)
					}
					if !slices.Equal(paged, ids(want, userID)) {
						t.Errorf("pages of %d (%s) = %v, want %v", size, what, names(all, paged), names(all, ids(want, userID)))
					}
				}
			}
		}
	}

	// Limit 0 returns only the total.
	p, err := e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: cmp("active", "", store.OpEq, true)})
	e.must(err, "ListUsers(limit 0)")
	if p.Total != 37 || len(p.Users) != 0 {
		t.Errorf("ListUsers(limit 0) = total %d, %d users; want 37 and none", p.Total, len(p.Users))
	}
}

func testListUsersScanLimit(t *testing.T, e *env) {
	ten := e.tenant("t")
	var bob *store.User
	for i := range 30 {
		u := e.user(ten.ID, fmt.Sprintf("u%02d", i), func(u *store.User) { u.Title = "Engineer" })
		if i == 7 {
			bob = u
		}
	}
	unindexed := cmp("title", "", store.OpEq, "Engineer")
	_, err := e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: unindexed, Limit: 10, MaxScan: 10})
	wantInvalid(t, err, "filter", "ListUsers(unindexed filter over more than MaxScan users)")

	// An indexed conjunct narrows the candidates below the bound.
	p, err := e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: and(cmp("userName", "", store.OpEq, "U07"), unindexed), Limit: 10, MaxScan: 10})
	e.must(err, "ListUsers(narrowed unindexed filter)")
	if p.Total != 1 || p.Users[0].ID != bob.ID {
		t.Errorf("narrowed filter: total %d, want u07", p.Total)
	}
	p, err = e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: and(cmp("userName", "", store.OpSw, "u0"), unindexed), Limit: 100, MaxScan: 10})
	e.must(err, "ListUsers(u0* and unindexed)")
	same(t, p.Total, 10, "users u00..u09")

	// Indexed filters are not bounded by MaxScan.
	p, err = e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: cmp("userName", "", store.OpSw, "u"), Limit: 100, MaxScan: 10})
	e.must(err, "ListUsers(indexed filter over more than MaxScan users)")
	same(t, p.Total, 30, "indexed filter total")

	// Sorting by an unindexed attribute needs the same bound.
	_, err = e.s.ListUsers(e.ctx, ten.ID, store.Query{SortBy: attr("title", ""), Limit: 10, MaxScan: 10})
	wantInvalid(t, err, "", "ListUsers(unindexed sort over more than MaxScan users)")
	// MaxScan 0 means the backend's default, well above 30.
	_, err = e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: unindexed, Limit: 10})
	e.must(err, "ListUsers(default MaxScan)")
}

func testListGroups(t *testing.T, e *env) {
	ten, other := e.tenant("t"), e.tenant("other")
	var us []*store.User
	for i := range 8 {
		us = append(us, e.user(ten.ID, fmt.Sprintf("u%d", i)))
	}
	names := []string{"Engineering", "engineering-emea", "Sales", "Ålesund office", "Ops", "ops-oncall", "Finance", "Legal", "HR", "Admins", "Ümlaut", "x%_"}
	var gs []*store.Group
	for i, n := range names {
		g := e.group(ten.ID, n, func(g *store.Group) {
			if i%2 == 0 {
				g.ExternalID = fmt.Sprintf("g-%02d", i)
			}
			if i%3 == 0 {
				g.Extra = map[string]any{"description": "team " + n}
			}
		})
		var ms []store.Member
		for j := i; j < i+3 && j < len(us); j++ {
			ms = append(ms, store.Member{MemberID: us[j].ID})
		}
		if i > 0 && i%4 == 0 {
			ms = append(ms, store.Member{MemberID: gs[0].ID})
		}
		if len(ms) > 0 {
			_, err := e.s.AddMembers(e.ctx, ten.ID, g.ID, 0, ms)
			e.must(err, "AddMembers")
		}
		gs = append(gs, g)
		if i%4 == 3 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	e.group(other.ID, "Engineering")
	p, err := e.s.ListGroups(e.ctx, ten.ID, store.Query{Limit: 100})
	e.must(err, "ListGroups")
	all := p.Groups
	if len(all) != len(names) || p.Total != len(names) {
		t.Fatalf("ListGroups: %d groups (total %d), want %d", len(all), p.Total, len(names))
	}
	members := map[string]map[string]bool{}
	for _, g := range all {
		members[g.ID] = map[string]bool{}
		for _, id := range e.memberIDs(ten.ID, g.ID, 100) {
			members[g.ID][id] = true
		}
	}

	mid := all[len(all)/2]
	filters := []store.Expr{
		cmp("members", "", store.OpPr, nil),
		not(cmp("members", "value", store.OpPr, nil)),
		cmp("members", "value", store.OpCo, "-"),
		cmp("members", "value", store.OpEq, nil),
		cmp("members", "value", store.OpNe, nil),
		cmp("meta", "created", store.OpGe, rfc(mid.CreatedAt)),
		cmp("meta", "lastModified", store.OpLt, rfc(mid.UpdatedAt)),
		cmp("description", "", store.OpCo, "team"),
		or(cmp("description", "", store.OpPr, nil), cmp("members", "", store.OpEq, us[7].ID)),
		and(cmp("displayName", "", store.OpSw, "e"), cmp("description", "", store.OpPr, nil)),
		store.ValuePath{Attr: attr("members", ""), Filter: cmp("value", "", store.OpEq, us[2].ID)},
		store.ValuePath{Attr: attr("members", ""), Filter: cmp("value", "", store.OpNe, us[2].ID)},
		store.ValuePath{Attr: attr("members", ""), Filter: or(cmp("value", "", store.OpEq, us[2].ID), cmp("value", "", store.OpEq, us[3].ID))},
		not(store.ValuePath{Attr: attr("members", ""), Filter: cmp("value", "", store.OpEq, gs[0].ID)}),
	}
	for _, n := range []any{"engineering", "ENG", "ops", "ålesund", "ÅLESUND OFFICE", "%", "x%_", "", "z", nil, true} {
		for _, op := range []string{store.OpEq, store.OpNe, store.OpCo, store.OpSw, store.OpEw, store.OpGt, store.OpLe} {
			filters = append(filters, cmp("displayName", "", op, n))
		}
	}
	for _, v := range []any{us[0].ID, us[3].ID, gs[0].ID, "nobody", nil, 1.0} {
		for _, op := range []string{store.OpEq, store.OpNe, store.OpSw} {
			filters = append(filters, cmp("members", "value", op, v), cmp("members", "", op, v))
		}
	}
	for _, v := range []any{"g-00", "G-00", "g-", nil} {
		for _, op := range []string{store.OpEq, store.OpNe, store.OpSw, store.OpPr} {
			filters = append(filters, cmp("externalId", "", op, v), cmp("id", "", op, v))
		}
	}
	for _, f := range filters {
		want := []string{}
		for _, g := range all {
			if filter.MatchGroup(f, g, func(id string) bool { return members[g.ID][id] }) {
				want = append(want, g.ID)
			}
		}
		p, err := e.s.ListGroups(e.ctx, ten.ID, store.Query{Filter: f, Limit: 100})
		if err != nil {
			t.Errorf("ListGroups(%s): %v", describe(f), err)
			continue
		}
		if got := ids(p.Groups, groupID); !slices.Equal(got, want) || p.Total != len(want) {
			t.Errorf("ListGroups(%s): total %d, got %v, want %v", describe(f), p.Total, got, want)
		}
	}
	// By hand: the groups u3 is a member of, and a case-insensitive name.
	p, err = e.s.ListGroups(e.ctx, ten.ID, store.Query{Filter: cmp("members", "value", store.OpEq, us[3].ID), Limit: 100})
	e.must(err, "ListGroups(members eq u3)")
	same(t, ids(p.Groups, groupID), sorted(gs[1].ID, gs[2].ID, gs[3].ID), "groups of u3")
	p, err = e.s.ListGroups(e.ctx, ten.ID, store.Query{Filter: cmp("displayName", "", store.OpEq, "ÅLESUND OFFICE"), Limit: 100})
	e.must(err, "ListGroups(displayName eq)")
	same(t, ids(p.Groups, groupID), []string{gs[3].ID}, "group by display name")

	// Sort and page.
	for _, by := range []store.AttrPath{{}, attr("displayName", ""), attr("externalId", ""), attr("meta", "created"), attr("description", "")} {
		for _, desc := range []bool{false, true} {
			want := slices.Clone(all)
			slices.SortStableFunc(want, func(a, b *store.Group) int {
				c := 0
				if by != (store.AttrPath{}) {
					c = filter.CompareGroups(a, b, by)
				}
				if c == 0 {
					c = strings.Compare(a.ID, b.ID)
				}
				if desc {
					c = -c
				}
				return c
			})
			var paged []string
			for off := 0; off < len(want); off += 5 {
				p, err := e.s.ListGroups(e.ctx, ten.ID, store.Query{SortBy: by, Descending: desc, Offset: off, Limit: 5})
				e.must(err, "ListGroups(sort %s)", by)
				paged = append(paged, ids(p.Groups, groupID)...)
			}
			if !slices.Equal(paged, ids(want, groupID)) {
				t.Errorf("ListGroups sorted by %q desc=%v in pages of 5:\n got  %v\n want %v", by.String(), desc, paged, ids(want, groupID))
			}
		}
	}
	_, err = e.s.ListGroups(e.ctx, ten.ID, store.Query{Filter: cmp("description", "", store.OpPr, nil), Limit: 10, MaxScan: 5})
	wantInvalid(t, err, "filter", "ListGroups(unindexed filter over more than MaxScan groups)")
}

// testFilterScanReports: DESIGN §3 wants a filter the indexes cannot
// answer to say so; a backend reports each such list request, with the
// filter's shape and never its values, and reports nothing for filters
// its indexes answer.
func testFilterScanReports(t *testing.T, e *env) {
	o, ok := e.s.(interface{ ObserveFilterScans(filter.ScanObserver) })
	if !ok {
		t.Fatalf("%T has no ObserveFilterScans(filter.ScanObserver)", e.s)
	}
	var mu sync.Mutex
	var got []filter.Scan
	o.ObserveFilterScans(func(_ context.Context, s filter.Scan) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, s)
	})
	reports := func() []filter.Scan {
		mu.Lock()
		defer mu.Unlock()
		r := got
		got = nil
		return r
	}
	ten := e.tenant("t")
	for i := range 12 {
		e.user(ten.ID, fmt.Sprintf("u%02d", i), func(u *store.User) { u.Title = "Engineer" })
	}
	e.group(ten.ID, "Staff")

	_, err := e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: cmp("userName", "", store.OpSw, "u0"), Limit: 10})
	e.must(err, "ListUsers(indexed)")
	if r := reports(); len(r) != 0 {
		t.Errorf("indexed filter reported as a scan: %+v", r)
	}

	unindexed := cmp("title", "", store.OpEq, "Engineer")
	_, err = e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: and(cmp("userName", "", store.OpSw, "u0"), unindexed), Limit: 10})
	e.must(err, "ListUsers(u0* and title)")
	want := filter.Scan{Resource: "User", Filter: "userName sw ? and title eq ?", Unindexed: "title eq ?", Scanned: 10}
	if r := reports(); len(r) != 1 || r[0] != want {
		t.Errorf("partly unindexed filter: reports %+v, want one %+v", r, want)
	}

	_, err = e.s.ListUsers(e.ctx, ten.ID, store.Query{Filter: unindexed, Limit: 10, MaxScan: 5})
	wantInvalid(t, err, "filter", "ListUsers(unindexed over more than MaxScan)")
	if r := reports(); len(r) != 1 || !r[0].Refused || r[0].Unindexed != "title eq ?" || r[0].Scanned <= 5 {
		t.Errorf("refused scan: reports %+v, want one refused title eq ? over more than 5 candidates", r)
	}

	ext := store.Compare{Attr: store.AttrPath{URN: "urn:example:params:scim:schemas:extension:acme:2.0:Group", Name: "costCenter"}, Op: store.OpEq, Value: "C-17"}
	_, err = e.s.ListGroups(e.ctx, ten.ID, store.Query{Filter: ext, Limit: 10})
	e.must(err, "ListGroups(extension attribute)")
	if r := reports(); len(r) != 1 || r[0].Resource != "Group" || r[0].Filter != ext.Attr.String()+" eq ?" || r[0].Refused {
		t.Errorf("unindexed group filter: reports %+v, want one Group scan", r)
	}
}
