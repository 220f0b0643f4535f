package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/filter"
)

// testRendering renders every field of a user, prefixed so that two
// renderings tell apart, and counts its calls.
func testRendering(key, prefix string, calls *int) store.UserRendering {
	return store.UserRendering{Key: key, Append: func(dst []byte, u *store.User) []byte {
		*calls++
		c := *u
		c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
		b, err := json.Marshal(&c)
		if err != nil {
			panic(err)
		}
		return append(append(dst, prefix...), b...)
	}}
}

// renderedPage is what StreamRenderedUsers hands out.
func renderedPage(t *testing.T, s *Store, tenantID string, q store.Query, r store.UserRendering) (int, []string) {
	t.Helper()
	var out []string
	total, err := s.StreamRenderedUsers(context.Background(), tenantID, q, r, func(b string) error {
		out = append(out, b)
		return nil
	})
	if err != nil {
		t.Fatalf("StreamRenderedUsers(%+v): %v", q, err)
	}
	return total, out
}

// wantRendered is r.Append over what StreamUsers hands out for q.
func wantRendered(t *testing.T, s *Store, tenantID string, q store.Query, r store.UserRendering) (int, []string) {
	t.Helper()
	var out []string
	total, err := s.StreamUsers(context.Background(), tenantID, q, func(u *store.User) error {
		out = append(out, string(r.Append(nil, u)))
		return nil
	})
	if err != nil {
		t.Fatalf("StreamUsers(%+v): %v", q, err)
	}
	return total, out
}

func countRendered(t *testing.T, s *Store, tenantID, key string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow(`SELECT COUNT(*) FROM user_pages WHERE tenant_id = ? AND render_key = ?`, tenantID, renderKey(key)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRenderedUsers: every page StreamRenderedUsers hands out is the
// rendering of the page StreamUsers hands out, for pages that start and
// end anywhere in parts and runs, both ways, while another handle on
// the file updates, creates and deletes users; the renderings are kept
// (a page read twice is rendered once) and served only under their key.
func TestRenderedUsers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	s, w := openTest(t, path), openTest(t, path) // s reads, w writes
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(5, 6))
	const tenant = "t1"
	var ids []string
	add := func(n int) {
		t.Helper()
		for range n {
			i := rnd.Int64()
			u := &store.User{TenantID: tenant, UserName: fmt.Sprintf("u%d@example.com", i), Active: rnd.IntN(2) == 0,
				DisplayName: fmt.Sprintf("User \"%d\" <é>", i),
				Emails:      []store.MultiValue{{Value: fmt.Sprintf("u%d@example.com", i), Type: "work", Primary: true}}}
			if rnd.IntN(3) == 0 {
				u.ID = fmt.Sprintf("%016x", rnd.Uint64()) // anywhere in the order
				u.Extra = map[string]any{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "R&D"}}
				u.Permissions = []string{"a"}
			}
			if err := w.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, u.ID)
		}
	}
	var calls int
	r := testRendering("k1", "1:", &calls)
	check := func(phase string, r store.UserRendering) {
		t.Helper()
		n := len(ids)
		for _, desc := range []bool{false, true} {
			offsets := []int{0, 1, 31, 32, 33, 255, 256, 257, n - 100, n - 33, n - 1, n, n + 5}
			for range 20 {
				offsets = append(offsets, rnd.IntN(n+1))
			}
			for _, off := range offsets {
				for _, limit := range []int{0, 1, 31, 100, 1000} {
					q := store.Query{Offset: max(off, 0), Limit: limit, Descending: desc}
					wantTotal, want := wantRendered(t, s, tenant, q, r)
					total, got := renderedPage(t, s, tenant, q, r)
					if total != wantTotal || total != n || len(got) != len(want) {
						t.Fatalf("%s: StreamRenderedUsers(%+v) = total %d, %d users; want total %d (%d users), %d users",
							phase, q, total, len(got), wantTotal, n, len(want))
					}
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("%s: StreamRenderedUsers(%+v) user %d:\n got %s\nwant %s", phase, q, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
	add(1200)
	check("created", r)
	if got, parts := countRendered(t, s, tenant, "k1"), countParts(t, s, tenant); got != parts {
		t.Errorf("after reading every page: %d of %d parts rendered", got, parts)
	}

	// A rendering kept is not made again.
	q := store.Query{Offset: 500, Limit: 100}
	calls = 0
	renderedPage(t, s, tenant, q, r)
	if calls != 0 {
		t.Errorf("a page whose parts are rendered called Append %d times", calls)
	}

	// Writes through the other handle: in place, in the middle, at the
	// end, deletes; each drops the renderings of its run.
	for round := range 3 {
		for range 5 {
			u, err := w.GetUser(ctx, tenant, ids[rnd.IntN(len(ids))])
			if err != nil {
				t.Fatal(err)
			}
			u.Title, u.Active = fmt.Sprint("title ", rnd.Int()), !u.Active
			if err := w.UpdateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		check(fmt.Sprintf("round %d: updated", round), r)
		add(40)
		check(fmt.Sprintf("round %d: created", round), r)
		for range 60 {
			i := rnd.IntN(len(ids))
			if err := w.DeleteUser(ctx, tenant, ids[i], 0); err != nil {
				t.Fatal(err)
			}
			ids = slices.Delete(ids, i, i+1)
		}
		check(fmt.Sprintf("round %d: deleted", round), r)
	}

	// Another key: the renderings of k1 are not served, and, made less
	// than a minute ago, not replaced either; older ones are.
	var calls2 int
	r2 := testRendering("k2", "2:", &calls2)
	before := countRendered(t, s, tenant, "k1")
	check("key k2", r2)
	if n := countRendered(t, s, tenant, "k1"); n != before {
		t.Errorf("after reading every page with k2: %d parts rendered with k1, want %d (too young to replace)", n, before)
	}
	if _, err := w.w.Exec(`UPDATE user_pages SET rendered_at = rendered_at - ?`, renderTakeover); err != nil {
		t.Fatal(err)
	}
	check("key k2, k1 older", r2)
	if n, m := countRendered(t, s, tenant, "k1"), countRendered(t, s, tenant, "k2"); n != 0 || m != before {
		t.Errorf("after reading every page with k2: %d parts rendered with k1, %d with k2; want 0 and %d", n, m, before)
	}
	check("key k1 again", r)

	// An update in place drops its run's renderings and no other.
	if _, err := w.w.Exec(`UPDATE user_pages SET rendered_at = rendered_at - ?`, renderTakeover); err != nil {
		t.Fatal(err)
	}
	check("key k1 again, k2 older", r)
	before = countRendered(t, s, tenant, "k1")
	u, err := w.GetUser(ctx, tenant, ids[len(ids)/2])
	if err != nil {
		t.Fatal(err)
	}
	u.NickName = "changed"
	if err := w.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	after := countRendered(t, s, tenant, "k1")
	if after >= before || after < before-nParts(512) {
		t.Errorf("an update left %d of %d rendered parts; want fewer, by at most a run's", after, before)
	}
}

// TestRenderedUsersGuard: a rendering made from records the part no
// longer holds is not written onto it.
func TestRenderedUsersGuard(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	ctx := context.Background()
	for i := range 40 {
		if err := s.CreateUser(ctx, &store.User{TenantID: "t", UserName: fmt.Sprintf("u%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.BuildUserPages(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := plan(users, "t", store.Query{Limit: 40}, filter.UserIndexed)
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	r := testRendering("k", "", &calls)
	pg, err := s.pageParts(ctx, "t", p, renderKey(r.Key))
	if err != nil || pg == nil || len(pg.unrendered) != 2 {
		t.Fatalf("pageParts = %v, %v; want a page of two unrendered parts", pg, err)
	}
	made, err := pg.render(r)
	if err != nil {
		t.Fatal(err)
	}
	// Meanwhile a user of part 0 changes and a reader rebuilds the parts.
	u, err := s.GetUserByUserName(ctx, "t", "u001")
	if err != nil {
		t.Fatal(err)
	}
	u.Title = "new"
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.BuildUserPages(ctx); err != nil {
		t.Fatal(err)
	}
	s.keepRenderings(ctx, "t", renderKey(r.Key), made)
	var part0, part1 int
	if err := s.r.QueryRow(`SELECT COALESCE(SUM(part = 0), 0), COALESCE(SUM(part = 1), 0) FROM user_pages WHERE tenant_id = 't' AND render_key IS NOT NULL`).Scan(&part0, &part1); err != nil {
		t.Fatal(err)
	}
	if part0 != 0 || part1 != 1 {
		t.Errorf("renderings written: part 0 %d (its records changed), part 1 %d (unchanged); want 0 and 1", part0, part1)
	}
	_, got := renderedPage(t, s, "t", store.Query{Limit: 40}, r)
	found := false
	for _, b := range got {
		var back store.User
		if err := json.Unmarshal([]byte(b), &back); err != nil {
			t.Fatalf("rendered %q: %v", b, err)
		}
		if back.UserName == "u001" {
			found = true
			if back.Title != "new" {
				t.Errorf("u001 rendered as %s, want its new title", b)
			}
		}
	}
	if !found {
		t.Errorf("u001 not in the page: %q", got)
	}

	// A reader of another rendering writes nothing over one made less
	// than renderTakeover ago, and replaces older ones.
	for _, age := range []int{0, renderTakeover} {
		if _, err := s.w.Exec(`UPDATE user_pages SET rendered_at = unixepoch() - ?`, age); err != nil {
			t.Fatal(err)
		}
		pg, err := s.pageParts(ctx, "t", p, renderKey("other"))
		if err != nil || pg == nil {
			t.Fatalf("pageParts = %v, %v", pg, err)
		}
		made, err := pg.render(r)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int]int{0: 0, renderTakeover: 2}[age]; len(made) != want {
			t.Errorf("another key's renderings %d s old: %d of 2 parts to write over, want %d", age, len(made), want)
		}
	}
}

// TestRenderedUsersUnsupported: queries the parts do not answer are left
// to the caller, without a call of fn.
func TestRenderedUsersUnsupported(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	ctx := context.Background()
	if err := s.CreateUser(ctx, &store.User{TenantID: "t", UserName: "a"}); err != nil {
		t.Fatal(err)
	}
	var calls int
	r := testRendering("k", "", &calls)
	for _, c := range []struct {
		q store.Query
		r store.UserRendering
	}{
		{store.Query{Limit: 10, Filter: store.Compare{Attr: store.AttrPath{Name: "userName"}, Op: store.OpEq, Value: "a"}}, r},
		{store.Query{Limit: 10, SortBy: store.AttrPath{Name: "userName"}}, r},
		{store.Query{Limit: 10}, store.UserRendering{Append: r.Append}},
	} {
		called := false
		_, err := s.StreamRenderedUsers(ctx, "t", c.q, c.r, func(string) error { called = true; return nil })
		if !errors.Is(err, errors.ErrUnsupported) || called {
			t.Errorf("StreamRenderedUsers(%+v, key %q) = %v, fn called %v; want errors.ErrUnsupported, not called", c.q, c.r.Key, err, called)
		}
	}
}
