package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/roster-scim/roster/store"
)

// The lookup connections must answer exactly what the read pool answers:
// the same user, field for field, and the same not-found.
func TestLookupMatchesReadPool(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "r.db"))
	ctx := context.Background()
	ten := &store.Tenant{Name: "t"}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	users := []*store.User{
		benchUser(ten.ID, 1),
		{TenantID: ten.ID, UserName: "Ünïcødé.Ösé@example.com", DisplayName: "\"quoted\" \\ and \u2028", Active: false,
			Emails: []store.MultiValue{{Value: "a@example.com"}, {Value: "b@example.com", Type: "home"}}},
		{TenantID: ten.ID, UserName: "minimal"},
	}
	for _, u := range users {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	pool := func(query string, args ...any) (*store.User, error) {
		u, err := scanUser(s.rd.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE `+query, args...))
		return u, notFound(err)
	}
	for _, u := range users {
		want, err := pool(`tenant_id = ? AND id = ?`, ten.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.lookupUser(ten.ID, u.ID, true)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("lookup by id %s:\n got %+v, %v\nwant %+v", u.ID, got, err, want)
		}
		got, err = s.lookupUser(ten.ID, store.NormUserName(u.UserName), false)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("lookup by userName %q:\n got %+v, %v\nwant %+v", u.UserName, got, err, want)
		}
	}
	for _, c := range []struct {
		tenant, key string
		byID        bool
	}{
		{ten.ID, "no-such-id", true},
		{"other-tenant", users[0].ID, true},
		{ten.ID, "", true},
		{"", "", false},
		{ten.ID, "nobody@example.com", false},
		{"other-tenant", store.NormUserName(users[0].UserName), false},
	} {
		if u, err := s.lookupUser(c.tenant, c.key, c.byID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("lookup(%q, %q, byID %v) = %v, %v; want ErrNotFound", c.tenant, c.key, c.byID, u, err)
		}
	}
}

// Another handle on the file (another process, in production) writes;
// the next lookup sees the write: nothing is cached above SQLite.
func TestLookupSeesOtherHandlesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
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
	for i := range 20 {
		if _, err := a.GetUser(ctx, ten.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		u.Active = i%2 == 0
		if err := b.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		got, err := a.GetUser(ctx, ten.ID, u.ID)
		if err != nil || got.Version != u.Version || got.Active != u.Active {
			t.Fatalf("after write %d: got %+v, %v; want version %d active %v", i, got, err, u.Version, u.Active)
		}
		got, err = a.GetUserByUserName(ctx, ten.ID, u.UserName)
		if err != nil || got.Version != u.Version {
			t.Fatalf("after write %d by userName: got %+v, %v; want version %d", i, got, err, u.Version)
		}
	}
	if err := b.DeleteUser(ctx, ten.ID, u.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetUser(ctx, ten.ID, u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
}

// Many goroutines share a pool smaller than their number; after Close,
// reads still answer (through the read pool) until it closes too.
func TestLookupPoolConcurrency(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "r.db"))
	ctx := context.Background()
	ten := &store.Tenant{Name: "t"}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	var users []*store.User
	for i := range 50 {
		u := benchUser(ten.ID, i)
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				u := users[(g+i)%len(users)]
				got, err := s.GetUser(ctx, ten.ID, u.ID)
				if err != nil || got.UserName != u.UserName {
					t.Errorf("GetUser: %+v, %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := s.look.open; n > s.look.max {
		t.Errorf("%d lookup connections open, more than the %d allowed", n, s.look.max)
	}
	s.look.close()
	if got, err := s.GetUser(ctx, ten.ID, users[0].ID); err != nil || got.ID != users[0].ID {
		t.Errorf("GetUser with the lookup pool closed: %+v, %v", got, err)
	}
}

// idleLookup takes one idle lookup connection of s to look at; the caller
// puts it back.
func idleLookup(t *testing.T, s *Store) *lookupConn {
	t.Helper()
	select {
	case c := <-s.look.idle:
		return c
	default:
		t.Fatal("no idle lookup connection")
		return nil
	}
}

// A lookup connection serves from one read transaction while no commit
// comes, and begins another on the next lookup after one does, whichever
// handle commits.
func TestLookupHoldsSnapshotUntilACommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	a, b := openTest(t, path), openTest(t, path)
	if a.look.watch.Load() == nil {
		t.Fatal("no WAL index header watch: lookups cannot hold a snapshot")
	}
	ctx := context.Background()
	ten := &store.Tenant{Name: "t"}
	if err := a.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	u := benchUser(ten.ID, 1)
	if err := a.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	a.look.close() // from here on, one lookup connection
	a.look = newLookups(path, 1)
	a.look.watch.Store(a.shm)
	if _, err := a.ck.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		t.Fatal(err)
	}

	get := func() *store.User {
		t.Helper()
		got, err := a.GetUser(ctx, ten.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	get()
	c := idleLookup(t, a)
	held, since := c.held, c.since
	a.look.put(c, false)
	if !held {
		t.Fatal("the lookup did not keep its read transaction")
	}
	get()
	c = idleLookup(t, a)
	a.look.put(c, false)
	if !c.held || c.since != since {
		t.Fatalf("a second lookup with no commit between began another transaction (held %v)", c.held)
	}

	u.Active = false
	if err := b.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if got := get(); got.Version != u.Version || got.Active {
		t.Fatalf("after another handle's commit: version %d active %v, want version %d inactive", got.Version, got.Active, u.Version)
	}
	// The commit is in the WAL, not yet in the file: a snapshot of it
	// is not held (it would keep the WAL from starting over).
	c = idleLookup(t, a)
	a.look.put(c, false)
	if c.held {
		t.Fatal("after a commit not yet checkpointed the lookup holds a snapshot")
	}
	if _, err := b.ck.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		t.Fatal(err)
	}
	if got := get(); got.Version != u.Version {
		t.Fatalf("after the checkpoint: version %d, want %d", got.Version, u.Version)
	}
	c = idleLookup(t, a)
	a.look.put(c, false)
	if !c.held || c.since == since {
		t.Fatalf("after the checkpoint the lookup kept its old transaction or holds none (held %v)", c.held)
	}
}

// A held snapshot keeps a checkpoint from copying the commits after it;
// release lets the next checkpoint copy the whole WAL.
func TestLookupReleaseLetsCheckpointFinish(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
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
	checkpoint := func() (log, done int) {
		t.Helper()
		var busy int
		if err := b.ck.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err != nil {
			t.Fatal(err)
		}
		return log, done
	}
	checkpoint()
	if _, err := a.GetUser(ctx, ten.ID, u.ID); err != nil { // a holds this snapshot
		t.Fatal(err)
	}
	for i := range 50 {
		u.Active = i%2 == 0
		if err := b.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if log, done := checkpoint(); done >= log {
		t.Fatalf("checkpoint copied %d of %d frames past a held snapshot: the lookup holds nothing", done, log)
	}
	a.look.release()
	if log, done := checkpoint(); done != log {
		t.Fatalf("after release the checkpoint copied %d of %d frames", done, log)
	}
}

// A writer starts the WAL over while a lookup holds a snapshot: lookups
// hold only snapshots that read the database file alone.
func TestWALStartsOverWhileALookupHolds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
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
	walFrames := func() int {
		t.Helper()
		var busy, log, done int
		if err := b.ck.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err != nil {
			t.Fatal(err)
		}
		return log
	}
	for i := range 20 {
		u.Active = i%2 == 0
		if err := b.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	before := walFrames() // copies the WAL whole
	if _, err := a.GetUser(ctx, ten.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	c := idleLookup(t, a)
	a.look.put(c, false)
	if !c.held {
		t.Fatal("the lookup holds no snapshot: nothing to test")
	}
	u.Active = !u.Active
	if err := b.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if after := walFrames(); after >= before {
		t.Fatalf("the WAL grew from %d to %d frames: the writer could not start it over past the held snapshot", before, after)
	}
}
