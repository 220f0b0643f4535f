package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/roster-scim/roster/store"
)

// TestUserRuns grows and shrinks a tenant past many runs, with ids that
// land anywhere in the order, and checks after each phase that
// user_runs describe the users exactly (every run
// within its bounds), and that every page of an unfiltered list, read
// through the runs, is the page OFFSET would give, both ways.
func TestUserRuns(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	const tenant, other = "t1", "t2"
	var ids []string
	add := func(tenantID string, n int) {
		t.Helper()
		for range n {
			u := &store.User{TenantID: tenantID, UserName: fmt.Sprintf("u%d@example.com", rnd.Int64())}
			if rnd.IntN(2) == 0 {
				// A client-chosen id, anywhere in the order.
				u.ID = fmt.Sprintf("%016x", rnd.Uint64())
			}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			if tenantID == tenant {
				ids = append(ids, u.ID)
			}
		}
	}
	remove := func(n int) {
		t.Helper()
		for range n {
			i := rnd.IntN(len(ids))
			if err := s.DeleteUser(ctx, tenant, ids[i], 0); err != nil {
				t.Fatal(err)
			}
			ids = slices.Delete(ids, i, i+1)
		}
	}
	check := func(phase string) {
		t.Helper()
		want := slices.Sorted(slices.Values(ids))
		checkRuns(t, s, tenant, want)
		for _, desc := range []bool{false, true} {
			order := slices.Clone(want)
			if desc {
				slices.Reverse(order)
			}
			offsets := []int{0, 1, 255, 256, 257, len(want) - 1, len(want), len(want) + 5}
			for range 40 {
				offsets = append(offsets, rnd.IntN(len(want)+1))
			}
			for _, off := range offsets {
				for _, limit := range []int{0, 1, 100} {
					page, err := s.ListUsers(ctx, tenant, store.Query{Offset: off, Limit: limit, Descending: desc})
					if err != nil {
						t.Fatalf("%s: ListUsers(offset %d, limit %d, desc %v): %v", phase, off, limit, desc, err)
					}
					var got []string
					for _, u := range page.Users {
						got = append(got, u.ID)
					}
					w := order[min(off, len(order)):min(off+limit, len(order))]
					if page.Total != len(want) || !slices.Equal(got, w) {
						t.Fatalf("%s: ListUsers(offset %d, limit %d, desc %v) = total %d, %d ids %.3v; want total %d, %d ids %.3v",
							phase, off, limit, desc, page.Total, len(got), got, len(want), len(w), w)
					}
				}
			}
		}
	}
	page, err := s.ListUsers(ctx, tenant, store.Query{Limit: 10})
	if err != nil || page.Total != 0 || len(page.Users) != 0 || page.Users == nil {
		t.Fatalf("ListUsers of a tenant without users = %+v, %v; want total 0 and an empty page", page, err)
	}
	add(tenant, 1500)
	add(other, 300)
	check("grown")
	remove(1100)
	check("shrunk")
	add(tenant, 700)
	check("grown again")
	remove(len(ids) - 3)
	check("almost empty")
}

// checkRuns checks user_runs against the tenant's ids
// in order.
func checkRuns(t *testing.T, s *Store, tenantID string, ids []string) {
	t.Helper()
	var n int
	if err := s.r.QueryRow(`SELECT n FROM user_runs WHERE tenant_id = ? AND totals = 1 AND lo = ''`, tenantID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(ids) {
		t.Errorf("user_runs totals n = %d, want %d", n, len(ids))
	}
	rows, err := s.r.Query(`SELECT lo, n FROM user_runs WHERE tenant_id = ? AND totals = 0 ORDER BY lo`, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var los []string
	var ns []int
	for rows.Next() {
		var lo string
		var c int
		if err := rows.Scan(&lo, &c); err != nil {
			t.Fatal(err)
		}
		los, ns = append(los, lo), append(ns, c)
	}
	if len(los) == 0 || los[0] != "" {
		t.Fatalf("runs start at %q, want \"\"", los)
	}
	for i, lo := range los {
		from, _ := slices.BinarySearch(ids, lo)
		to := len(ids)
		if i+1 < len(los) {
			to, _ = slices.BinarySearch(ids, los[i+1])
		}
		if to-from != ns[i] {
			t.Errorf("run %d from %q counts %d users, holds %d", i, lo, ns[i], to-from)
		}
		if ns[i] > 512 || i > 0 && ns[i] < 64 {
			t.Errorf("run %d from %q holds %d users, want 64..512 (the first: at most 512)", i, lo, ns[i])
		}
	}
}
