package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/roster-scim/roster/store"
)

// TestSearchPlansUseTrigramIndex keeps the user search on the trigram
// index: the users are probed by rowid from what the index names, never
// scanned, whatever the tenant's size.
func TestSearchPlansUseTrigramIndex(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	if userColsV != prefixed("v", userCols) {
		t.Fatalf("userColsV %q, want %q", userColsV, prefixed("v", userCols))
	}
	match, _ := trigramMatch("smith")
	for _, q := range []string{searchPage, searchCount, searchWalk} {
		args := []any{"t1", "smith", match, -1}
		switch q {
		case searchPage:
			args = append(args, 50, 0)
		case searchWalk:
			args = append(args, 50, 0, 1000)
		}
		all := queryPlan(t, s, q, args...)
		t.Logf("%s", all)
		if q == searchWalk {
			// In userName order, as the index has them: no sort.
			if !strings.Contains(all, "users_user_name") || strings.Contains(all, "TEMP B-TREE") || strings.Contains(all, "SCAN v") {
				t.Errorf("walk plan %q: want users_user_name in order, and users probed by rowid", all)
			}
			continue
		}
		if !strings.Contains(all, "VIRTUAL TABLE INDEX") || strings.Contains(all, "SCAN v") || strings.Contains(all, "SCAN users") {
			t.Errorf("plan %q: want the trigram index, and users probed by rowid", all)
		}
	} // A search by the start of the userName reads a range of its index,
	// in order.
	for _, q := range []string{prefixPage, prefixCountTo} {
		args := []any{"t1", "sm", "sn", -1, 1001}
		if q == prefixPage {
			args = []any{"t1", "sm", "sn", -1, 50, 0}
		}
		all := queryPlan(t, s, q, args...)
		if !strings.Contains(all, "user_name_norm>? AND user_name_norm<?") || strings.Contains(all, "SCAN users") || strings.Contains(all, "TEMP B-TREE") {
			t.Errorf("prefix plan %q: want a range of the userName index, in order", all)
		}
	}
}

// TestSearchIndexing: the search gives the filter's answer whether the
// users it finds are pending, indexed, or indexed under an older name,
// and after a rowid was freed and taken by a new user; indexing empties
// the pending table.
func TestSearchIndexing(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ten := &store.Tenant{Name: "Acme"}
	check(s.CreateTenant(ctx, ten))
	var users []*store.User
	for i := range 40 {
		u := &store.User{TenantID: ten.ID, UserName: fmt.Sprintf("user%02d@acme.test", i), DisplayName: fmt.Sprintf("Pat Smith%d", i%7),
			Active: i%3 != 0, Emails: []store.MultiValue{{Value: fmt.Sprintf("pat%02d@Example.COM", i)}}}
		if i%4 == 0 { // the e-mail is the userName: indexed once
			u.Emails = []store.MultiValue{{Value: strings.ToUpper(u.UserName)}}
		}
		check(s.CreateUser(ctx, u))
		users = append(users, u)
	}
	pending := func() int {
		var n int
		check(s.r.QueryRow(`SELECT COUNT(*) FROM user_search_pending`).Scan(&n))
		return n
	}
	same := func(step string) {
		t.Helper()
		yes := true
		for _, text := range []string{"smith", "SMITH3", "pat0", "example.com", "user39", "USER2", "acme.test", "renamed", "jones", "new.user", "zz"} {
			for _, active := range []*bool{nil, &yes} {
				q := store.UserSearch{Text: text, Active: active, Limit: 10, Offset: 2}
				got, err := s.SearchUsers(ctx, ten.ID, q)
				check(err)
				want, err := s.ListUsers(ctx, ten.ID, q.Query())
				check(err)
				if g, w := userNames(got.Users), userNames(want.Users); got.Total != want.Total || !slices.Equal(g, w) {
					t.Errorf("%s: SearchUsers(%q, active %v) = %d %q; the filter: %d %q", step, text, active != nil, got.Total, g, want.Total, w)
				}
			}
		}
	}
	if pending() == 0 {
		t.Log("the background indexing came first: nothing pending")
	}
	same("pending")
	check(s.indexSearch(ctx))
	if n := pending(); n != 0 {
		t.Fatalf("pending after indexing: %d", n)
	}
	same("indexed")

	// Renamed: indexed under the old name, pending under the new.
	for _, u := range users[:10] {
		u.UserName, u.DisplayName = "renamed."+u.UserName, "Jones"
		check(s.UpdateUser(ctx, u))
	}
	// The last rowid freed and taken again.
	check(s.DeleteUser(ctx, ten.ID, users[39].ID, 0))
	check(s.CreateUser(ctx, &store.User{TenantID: ten.ID, UserName: "new.user@acme.test", DisplayName: "Pat Smith3", Active: true}))
	same("changed")
	check(s.indexSearch(ctx))
	same("changed, indexed")
	if n := pending(); n != 0 {
		t.Fatalf("pending after indexing: %d", n)
	}
}

// TestSearchWalk: a search with many hits (walkSearch) gives the
// filter's pages wherever they lie, with the hits spread evenly, packed
// at the end of the userName order (the walk runs out of budget), or
// with a status.
func TestSearchWalk(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	ten := &store.Tenant{Name: "Acme"}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 2000 {
		// Every other of the first 1,400 is a Smith; of the last 600
		// (zz…), all are Smythes.
		name, display := fmt.Sprintf("a%04d@acme.test", i), "Pat Jones"
		if i%2 == 0 {
			display = fmt.Sprintf("Pat Smith%d", i)
		}
		if i >= 1400 {
			name, display = fmt.Sprintf("zz%04d@acme.test", i), "Pat Smythe"
		}
		u := &store.User{TenantID: ten.ID, UserName: name, DisplayName: display, Active: i%3 != 0}
		wg.Go(func() {
			if err := s.CreateUser(ctx, u); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := s.indexSearch(ctx); err != nil {
		t.Fatal(err)
	}
	yes := true
	for _, search := range []struct {
		text   string
		prefix bool
	}{{"smith", false}, {"smyth", false}, {"pat s", false}, {"acme.test", false}, {"a", true}, {"Z", true}, {"a01", true}, {"q", true}} {
		text := search.text
		for _, active := range []*bool{nil, &yes} {
			for _, offset := range []int{0, 50, 350, 650, 699, 1300, 1999, 2500} {
				q := store.UserSearch{Text: text, Prefix: search.prefix, Active: active, Offset: offset, Limit: 50}
				got, err := s.SearchUsers(ctx, ten.ID, q)
				if err != nil {
					t.Fatal(err)
				}
				want, err := s.ListUsers(ctx, ten.ID, q.Query())
				if err != nil {
					t.Fatal(err)
				}
				if g, w := userNames(got.Users), userNames(want.Users); got.Total != want.Total || !slices.Equal(g, w) {
					t.Errorf("SearchUsers(%q, active %v, offset %d) = %d %q; the filter: %d %q", text, active != nil, offset, got.Total, g, want.Total, w)
				}
				// Counting only so far gives the same page, and a total
				// that is exact up to the cap and says "more" beyond it.
				for _, countTo := range []int{1, 100, 699, 5000} {
					q.CountTo = countTo
					capped, err := s.SearchUsers(ctx, ten.ID, q)
					if err != nil {
						t.Fatal(err)
					}
					totalOK := capped.Total == want.Total
					if want.Total > countTo {
						totalOK = capped.Total > countTo && capped.Total <= want.Total
					}
					if g, w := userNames(capped.Users), userNames(want.Users); !totalOK || !slices.Equal(g, w) {
						t.Errorf("SearchUsers(%q, active %v, offset %d, count to %d) = %d %q; the filter: %d %q", text, active != nil, offset, countTo, capped.Total, g, want.Total, w)
					}
				}
			}
		}
	}
}

func userNames(us []*store.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.UserName)
	}
	return out
}

// BenchmarkSearchUsers searches a tenant of 100,000 users shaped like
// the portal benchmark's (admin BenchmarkPortalPages) for "family4",
// which 11,111 of them match, and one of 100 users every one of whom
// matches, for the Users page's first page of 50 and its total. The
// large tenant's users are all indexed; pending ones are what the
// indexing has not reached yet (up to a second's worth of writes).
//
//	go test -run '^$' -bench SearchUsers ./store/sqlite/
func BenchmarkSearchUsers(b *testing.B) {
	ctx := context.Background()
	fill := func(n int, name func(i int) (userName, display string)) (*Store, string) {
		s, ten := benchStore(b)
		for from := 0; from < n; from += 1000 {
			var wg sync.WaitGroup
			for i := from; i < min(n, from+1000); i++ {
				un, dn := name(i)
				u := &store.User{TenantID: ten.ID, UserName: un, DisplayName: dn, Active: i%10 != 9,
					Name:   store.Name{GivenName: "Given", FamilyName: strings.TrimPrefix(dn, "Given ")},
					Emails: []store.MultiValue{{Value: un, Type: "work", Primary: true}}}
				wg.Go(func() {
					if err := s.CreateUser(ctx, u); err != nil {
						b.Error(err)
					}
				})
			}
			wg.Wait()
		}
		if err := s.indexSearch(ctx); err != nil {
			b.Fatal(err)
		}
		return s, ten.ID
	}
	large, largeT := fill(100_000, func(i int) (string, string) {
		return fmt.Sprintf("user%06d@acme.test", i), fmt.Sprintf("Given Family%d", i)
	})
	dense, denseT := fill(100, func(i int) (string, string) {
		return fmt.Sprintf("user%06d@acme.test", i), fmt.Sprintf("Given Family4%02d", i)
	})
	for _, bc := range []struct {
		name   string
		s      *Store
		tenant string
		text   string
		total  int
	}{
		{"100/family4", dense, denseT, "family4", 100},
		{"100k/family4", large, largeT, "family4", 11111},
		{"100k/user099999", large, largeT, "user099999", 1},
		{"100k/acme.test", large, largeT, "acme.test", 100000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				res, err := bc.s.SearchUsers(ctx, bc.tenant, store.UserSearch{Text: bc.text, Limit: 50})
				if err != nil {
					b.Fatal(err)
				}
				if res.Total != bc.total {
					b.Fatalf("total %d, want %d", res.Total, bc.total)
				}
			}
		})
	}
}
