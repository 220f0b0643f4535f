package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/roster-scim/roster/store"
)

// streamed collects what StreamUsers hands out, copied (fn's user is
// reused).
func streamed(t *testing.T, s *Store, tenantID string, q store.Query) (int, []store.User) {
	t.Helper()
	var out []store.User
	total, err := s.StreamUsers(context.Background(), tenantID, q, func(u *store.User) error {
		c := *u
		c.Emails, c.PhoneNumbers, c.Permissions = slices.Clone(u.Emails), slices.Clone(u.PhoneNumbers), slices.Clone(u.Permissions)
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatalf("StreamUsers(%+v): %v", q, err)
	}
	return total, out
}

func countParts(t *testing.T, s *Store, tenantID string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow(`SELECT COUNT(*) FROM user_pages WHERE tenant_id = ?`, tenantID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestUserPages grows, edits and shrinks a tenant across many runs and
// checks that every page StreamUsers reads from user_pages is the page
// ListUsers reads from the rows, field for field, both ways, and that
// the parts are in use (and dropped by writes).
func TestUserPages(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(3, 4))
	const tenant, other = "t1", "t2"
	var ids []string
	add := func(tenantID string, n int) {
		t.Helper()
		for range n {
			i := rnd.Int64()
			u := &store.User{TenantID: tenantID, UserName: fmt.Sprintf("u%d@example.com", i), Active: rnd.IntN(2) == 0,
				Name:        store.Name{GivenName: "G", FamilyName: fmt.Sprint(i)},
				DisplayName: fmt.Sprintf("User \"%d\" <é>", i),
				Emails:      []store.MultiValue{{Value: fmt.Sprintf("u%d@example.com", i), Type: "work", Primary: true}}}
			switch rnd.IntN(4) {
			case 0:
				u.ID = fmt.Sprintf("%016x", rnd.Uint64()) // anywhere in the order
			case 1:
				u.Extra = map[string]any{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "R&D", "n": 1.5}}
				u.PhoneNumbers = []store.MultiValue{{Value: "+1 555", Type: "mobile"}, {Value: "+1 556"}}
				u.Permissions, u.AccountAdmin, u.Notes = []string{"a", "b"}, true, "note"
			}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			if tenantID == tenant {
				ids = append(ids, u.ID)
			}
		}
	}
	edit := func(n int) {
		t.Helper()
		for range n {
			u, err := s.GetUser(ctx, tenant, ids[rnd.IntN(len(ids))])
			if err != nil {
				t.Fatal(err)
			}
			u.Title = fmt.Sprint("title ", rnd.Int())
			if err := s.UpdateUser(ctx, u); err != nil {
				t.Fatal(err)
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
		n := len(ids)
		for _, desc := range []bool{false, true} {
			offsets := []int{0, 1, 31, 32, 33, 255, 256, 257, n - 100, n - 1, n, n + 5}
			for range 30 {
				offsets = append(offsets, rnd.IntN(n+1))
			}
			for _, off := range offsets {
				off = max(off, 0)
				for _, limit := range []int{0, 1, 100, 1000} {
					q := store.Query{Offset: off, Limit: limit, Descending: desc}
					page, err := s.ListUsers(ctx, tenant, q)
					if err != nil {
						t.Fatal(err)
					}
					total, got := streamed(t, s, tenant, q)
					want := make([]store.User, len(page.Users))
					for i, u := range page.Users {
						want[i] = *u
					}
					if total != page.Total || len(got) != len(want) {
						t.Fatalf("%s: StreamUsers(%+v) = total %d, %d users; ListUsers: total %d, %d users", phase, q, total, len(got), page.Total, len(want))
					}
					for i := range got {
						if !reflect.DeepEqual(got[i], want[i]) {
							t.Fatalf("%s: StreamUsers(%+v) user %d:\n got %+v\nwant %+v", phase, q, i, got[i], want[i])
						}
					}
				}
			}
		}
		if parts := countParts(t, s, tenant); parts < nParts(n) {
			t.Errorf("%s: %d parts in user_pages after reading every run, want at least %d", phase, parts, nParts(n))
		}
	}
	if total, got := streamed(t, s, tenant, store.Query{Limit: 10}); total != 0 || len(got) != 0 {
		t.Fatalf("StreamUsers of a tenant without users = %d, %d users", total, len(got))
	}
	add(tenant, 1500)
	add(other, 300)
	check("grown")
	edit(50)
	check("edited")
	remove(1100)
	check("shrunk")
	add(tenant, 700)
	edit(20)
	check("grown again")
	remove(len(ids) - 3)
	check("almost empty")

	// A write drops the parts of its run, and only those.
	before := countParts(t, s, tenant)
	edit(1)
	if after := countParts(t, s, tenant); after != before-1 {
		t.Errorf("an update left %d of %d parts, want %d (its run's one dropped)", after, before, before-1)
	}
	if err := s.BuildUserPages(ctx); err != nil {
		t.Fatal(err)
	}
	if others := countParts(t, s, other); others != nParts(300) {
		t.Errorf("BuildUserPages wrote %d parts of the other tenant's 300 users, want %d", others, nParts(300))
	}
	if after := countParts(t, s, tenant); after != before {
		t.Errorf("BuildUserPages left %d parts, want %d", after, before)
	}
}

// TestUserPagesStale: parts in another format, or that disagree with
// the run, are never handed out: the rows answer and the parts are
// written again.
func TestUserPagesStale(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	ctx := context.Background()
	for i := range 100 {
		if err := s.CreateUser(ctx, &store.User{TenantID: "t", UserName: fmt.Sprintf("u%03d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.BuildUserPages(ctx); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListUsers(ctx, "t", store.Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, corrupt := range []string{
		`UPDATE user_pages SET data = CAST(X'02' || substr(data, 2) AS BLOB) WHERE part = 1`,
		`UPDATE user_pages SET data = CAST(substr(data, 1, length(data) - 1) AS BLOB) WHERE part = 2`,
		`UPDATE user_pages SET n = n - 1 WHERE part = 0`,
		`DELETE FROM user_pages WHERE part = 3`,
	} {
		if _, err := s.w.Exec(corrupt); err != nil {
			t.Fatal(err)
		}
		total, got := streamed(t, s, "t", store.Query{Limit: 100})
		if total != 100 || len(got) != 100 || got[0].ID != page.Users[0].ID || got[99].UserName != page.Users[99].UserName {
			t.Fatalf("after %s: total %d, %d users", corrupt, total, len(got))
		}
		if parts := countParts(t, s, "t"); parts != nParts(100) {
			t.Errorf("after %s and a read: %d parts, want %d", corrupt, parts, nParts(100))
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	ctx := context.Background()
	users := []*store.User{
		{TenantID: "t", UserName: "min"},
		{TenantID: "t", ExternalID: "x", UserName: "full", Name: store.Name{Formatted: "F", FamilyName: "Fa", GivenName: "G",
			MiddleName: "M", HonorificPrefix: "Dr", HonorificSuffix: "III"}, DisplayName: "D", NickName: "N", ProfileURL: "https://p",
			Title: "T", UserType: "E", PreferredLanguage: "en", Locale: "en-US", Timezone: "Europe/Paris", Active: true,
			Emails:       []store.MultiValue{{Value: "a@x", Type: "work", Primary: true}, {Value: "b@x", Display: "B"}},
			PhoneNumbers: []store.MultiValue{{Value: "1"}}, PasswordHash: "$argon2id$x", Notes: "n\u2028\x00", Permissions: []string{"p"},
			AccountAdmin: true, CustomerCode: "c", UDID: "u", NoSystemMessages: true, Activation: store.ActivationPending,
			Extra: map[string]any{"x509Certificates": []any{map[string]any{"value": "v"}}, "ims": nil}},
	}
	for _, u := range users {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.ListUsers(ctx, "t", store.Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	d := recDecoder{tenantID: "t"}
	for _, want := range page.Users {
		rec, err := appendRecord(nil, want)
		if err != nil {
			t.Fatal(err)
		}
		var got store.User
		if !d.user(string(rec), &got) || !reflect.DeepEqual(&got, want) {
			t.Errorf("record round trip:\n got %+v\nwant %+v", got, *want)
		}
		for cut := range len(rec) {
			if d.user(string(rec[:cut]), &got) {
				t.Errorf("record cut at %d of %d decodes", cut, len(rec))
			}
		}
	}
}

// BenchmarkListPage100 reads pages of a hundred users at random offsets
// of a 20,000-user tenant: from the rows (ListUsers) and from user_pages
// (StreamUsers, parts built first).
func BenchmarkListPage100(b *testing.B) {
	s, ten := benchStore(b)
	const n = 20_000
	ctx := context.Background()
	for from := 0; from < n; from += 1000 {
		us := make([]*store.User, 0, 1000)
		for i := from; i < from+1000; i++ {
			us = append(us, benchUser(ten.ID, i))
		}
		var wg sync.WaitGroup
		for _, u := range us {
			wg.Go(func() {
				if err := s.CreateUser(ctx, u); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if err := s.BuildUserPages(ctx); err != nil {
		b.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 1))
	b.Run("ListUsers", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.ListUsers(ctx, ten.ID, store.Query{Offset: rnd.IntN(n - 100), Limit: 100}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("StreamUsers", func(b *testing.B) {
		seen := 0
		for b.Loop() {
			if _, err := s.StreamUsers(ctx, ten.ID, store.Query{Offset: rnd.IntN(n - 100), Limit: 100}, func(u *store.User) error {
				seen += len(u.UserName)
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Pages come through the lookup connections, or through the read pool
// when those cannot serve: the same pages either way.
func TestUserPagesWithoutLookups(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "l.db"))
	ctx := context.Background()
	ten := &store.Tenant{Name: "t"}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if err := s.CreateUser(ctx, benchUser(ten.ID, i)); err != nil {
			t.Fatal(err)
		}
	}
	queries := []store.Query{{Offset: 0, Limit: 100}, {Offset: 37, Limit: 100}, {Offset: 250, Limit: 100}, {Offset: 10, Limit: 50, Descending: true}}
	var through [][]store.User
	for _, q := range queries {
		streamed(t, s, ten.ID, q) // builds the parts
		_, page := streamed(t, s, ten.ID, q)
		through = append(through, page)
	}
	if countParts(t, s, ten.ID) == 0 {
		t.Fatal("no parts: the pages came from the rows")
	}
	s.look.mu.Lock()
	s.look.broken = true // the pool hands out no connection from here on
	s.look.mu.Unlock()
	for len(s.look.idle) > 0 {
		s.look.put(<-s.look.idle, true)
	}
	for i, q := range queries {
		if _, page := streamed(t, s, ten.ID, q); !reflect.DeepEqual(page, through[i]) {
			t.Fatalf("%+v through the read pool differs from the lookup connections' page", q)
		}
	}
}
