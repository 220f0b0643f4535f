package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"

	"github.com/roster-scim/roster/store"
)

// UpdateUserFrom leaves alone the columns that did not change, and the
// ones that did reach every index and side table exactly as UpdateUser's
// would: each change below is checked through the reads that use them.
func TestUpdateUserFromWritesWhatChanged(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "u.db"))
	ctx := context.Background()
	ten := &store.Tenant{Name: "t"}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	other := benchUser(ten.ID, 2)
	if err := s.CreateUser(ctx, other); err != nil {
		t.Fatal(err)
	}
	u := benchUser(ten.ID, 1)
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	eq := func(name, sub string, v any) store.Query {
		return store.Query{Filter: store.Compare{Attr: store.AttrPath{Name: name, Sub: sub}, Op: store.OpEq, Value: v}, Limit: 10}
	}
	finds := func(q store.Query) bool {
		t.Helper()
		page, err := s.ListUsers(ctx, ten.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range page.Users {
			if x.ID == u.ID {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		name   string
		change func(*store.User)
		check  func() error
	}{
		{"nothing but the title", func(x *store.User) { x.Title = "Manager" }, nil},
		{"active", func(x *store.User) { x.Active = false }, func() error {
			if !finds(eq("active", "", false)) || finds(eq("active", "", true)) {
				return errors.New("active filter does not see the change")
			}
			return nil
		}},
		{"userName case", func(x *store.User) { x.UserName = "USER0000001@example.com" }, nil},
		{"userName", func(x *store.User) { x.UserName = "renamed@example.com" }, func() error {
			if _, err := s.GetUserByUserName(ctx, ten.ID, "user0000001@example.com"); !errors.Is(err, store.ErrNotFound) {
				return errors.New("the old userName still finds the user")
			}
			if !finds(eq("userName", "", "RENAMED@example.com")) {
				return errors.New("the new userName does not find the user")
			}
			return nil
		}},
		{"externalId", func(x *store.User) { x.ExternalID = "ext-new" }, func() error {
			if !finds(eq("externalId", "", "ext-new")) || finds(eq("externalId", "", "00u0000001")) {
				return errors.New("externalId filter does not see the change")
			}
			return nil
		}},
		{"e-mail", func(x *store.User) { x.Emails = []store.MultiValue{{Value: "New@Example.com", Type: "work"}} }, func() error {
			if !finds(eq("emails", "value", "new@example.com")) || finds(eq("emails", "value", "user0000001@example.com")) {
				return errors.New("emails filter does not see the change")
			}
			return nil
		}},
		{"displayName", func(x *store.User) { x.DisplayName = "Zed Zebra" }, func() error {
			if err := s.indexSearch(ctx); err != nil {
				return err
			}
			page, err := s.SearchUsers(ctx, ten.ID, store.UserSearch{Text: "zebra", Limit: 10})
			if err != nil {
				return err
			}
			if page.Total != 1 || page.Users[0].ID != u.ID {
				return errors.New("the search does not find the new displayName")
			}
			return nil
		}},
	} {
		before, err := s.GetUser(ctx, ten.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		next := *before
		c.change(&next)
		if err := s.UpdateUserFrom(ctx, before, &next); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := s.GetUser(ctx, ten.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, &next) {
			t.Fatalf("%s: stored %+v, want %+v", c.name, got, &next)
		}
		if c.check != nil {
			if err := c.check(); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
	}

	// The unique index still refuses, and a stale version still misses.
	before, err := s.GetUser(ctx, ten.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	taken := *before
	taken.UserName = other.UserName
	var conflict *store.ErrConflict
	if err := s.UpdateUserFrom(ctx, before, &taken); !errors.As(err, &conflict) || conflict.Attr != "userName" {
		t.Fatalf("userName of another user: %v, want ErrConflict{userName}", err)
	}
	stale := *before
	stale.Version--
	staleBefore := *before
	staleBefore.Version--
	if err := s.UpdateUserFrom(ctx, &staleBefore, &stale); !errors.Is(err, store.ErrPrecondition) {
		t.Fatalf("stale version: %v, want ErrPrecondition", err)
	}
}

// A PATCH of active through UpdateUserFrom puts fewer pages in the WAL
// than UpdateUser, which rewrites every index of the users table.
func TestUpdateUserFromWritesFewerPages(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "p.db"))
	ctx := context.Background()
	ten := &store.Tenant{Name: "t"}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	var users []*store.User
	for i := range 2000 {
		u := benchUser(ten.ID, i)
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	frames := func(write func(before, u *store.User) error) int {
		t.Helper()
		var busy, log, done int
		if err := s.ck.QueryRow(`PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &log, &done); err != nil || busy != 0 {
			t.Fatalf("checkpoint: busy %d, %v", busy, err)
		}
		for i := 0; i < 200; i++ {
			u := users[(i*7919)%len(users)]
			before := *u
			u.Active = !u.Active
			if err := write(&before, u); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.ck.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err != nil {
			t.Fatal(err)
		}
		return log
	}
	all := frames(func(_, u *store.User) error { return s.UpdateUser(ctx, u) })
	changed := frames(func(before, u *store.User) error { return s.UpdateUserFrom(ctx, before, u) })
	t.Logf("200 PATCHes of active: %d WAL pages through UpdateUser, %d through UpdateUserFrom", all, changed)
	if changed*5 > all*4 {
		t.Fatalf("UpdateUserFrom wrote %d pages, UpdateUser %d: want at least a fifth fewer", changed, all)
	}
}

func TestModifyUser(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "m.db"))
	ctx := context.Background()
	ten := &store.Tenant{Name: "t"}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	other := benchUser(ten.ID, 2)
	u := benchUser(ten.ID, 1)
	for _, x := range []*store.User{other, u} {
		if err := s.CreateUser(ctx, x); err != nil {
			t.Fatal(err)
		}
	}

	before, after, err := s.ModifyUser(ctx, ten.ID, u.ID, func(x *store.User) error { x.Active = false; return nil })
	if err != nil || before.Version != u.Version || after.Version != u.Version+1 || after.Active || !before.Active {
		t.Fatalf("deactivate: before %+v after %+v, %v", before, after, err)
	}
	if got, err := s.GetUser(ctx, ten.ID, u.ID); err != nil || !reflect.DeepEqual(got, after) {
		t.Fatalf("stored %+v, %v; ModifyUser returned %+v", got, err, after)
	}

	// A change that changes nothing writes nothing.
	before, after, err = s.ModifyUser(ctx, ten.ID, u.ID, func(x *store.User) error { x.Active = false; return nil })
	if err != nil || after != before || after.Version != u.Version+1 {
		t.Fatalf("no-op: before %p after %p version %d, %v", before, after, after.Version, err)
	}

	// A refusal, a panic, a taken userName and a missing user write
	// nothing and say why.
	refused := errors.New("refused")
	if _, _, err := s.ModifyUser(ctx, ten.ID, u.ID, func(x *store.User) error { x.Title = "x"; return refused }); !errors.Is(err, refused) {
		t.Fatalf("refusing change: %v", err)
	}
	if _, _, err := s.ModifyUser(ctx, ten.ID, u.ID, func(x *store.User) error { panic("boom") }); err == nil {
		t.Fatal("panicking change: no error")
	}
	var conflict *store.ErrConflict
	if _, _, err := s.ModifyUser(ctx, ten.ID, u.ID, func(x *store.User) error { x.UserName = other.UserName; return nil }); !errors.As(err, &conflict) || conflict.Attr != "userName" {
		t.Fatalf("taken userName: %v, want ErrConflict{userName}", err)
	}
	if _, _, err := s.ModifyUser(ctx, ten.ID, "no-such-id", func(*store.User) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing user: %v, want ErrNotFound", err)
	}
	if got, err := s.GetUser(ctx, ten.ID, u.ID); err != nil || got.Version != u.Version+1 || got.Title != u.Title || got.UserName != u.UserName {
		t.Fatalf("after the failed changes: %+v, %v", got, err)
	}
}

// Concurrent changes of one user all apply, each on the one before: no
// lost update, no compare-and-set to run out of retries on.
func TestModifyUserConcurrently(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "c.db"))
	ctx := context.Background()
	ten := &store.Tenant{Name: "t"}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	u := benchUser(ten.ID, 1)
	u.Title = "0"
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, _, err := s.ModifyUser(ctx, ten.ID, u.ID, func(x *store.User) error {
				v, err := strconv.Atoi(x.Title)
				x.Title = strconv.Itoa(v + 1)
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetUser(ctx, ten.ID, u.ID)
	if err != nil || got.Title != strconv.Itoa(n) || got.Version != u.Version+n {
		t.Fatalf("after %d concurrent increments: title %q version %d (from %d), %v", n, got.Title, got.Version, u.Version, err)
	}
}

// Another process writing between ModifyUser's read and its write (run
// alone, they are two statements) sends it round again: both changes
// stay.
func TestModifyUserAcrossHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	a, b := openTest(t, path), openTest(t, path)
	ctx := context.Background()
	ten := &store.Tenant{Name: "t"}
	if err := a.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	u := benchUser(ten.ID, 1)
	if err := a.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	calls := 0
	_, after, err := a.ModifyUser(ctx, ten.ID, u.ID, func(x *store.User) error {
		if calls++; calls == 1 {
			other := *u
			other.DisplayName = "Written Between"
			if err := b.UpdateUser(ctx, &other); err != nil {
				return err
			}
		}
		x.Title = "Changed"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || after.DisplayName != "Written Between" || after.Title != "Changed" || after.Version != u.Version+2 {
		t.Fatalf("%d calls, after %+v: want the change run again on the other handle's write", calls, after)
	}
}
