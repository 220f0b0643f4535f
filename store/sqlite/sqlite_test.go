package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/filter"
	"github.com/roster-scim/roster/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "roster.db")
		return func(t *testing.T) store.Store { return crashStore{openTest(t, path)} }
	})
}

func openTest(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// crashStore adds the storetest.SeatCrasher hook: it writes what a node
// dying between the steps of the seat protocol leaves behind, which the
// one-transaction ClaimSeat itself never does.
type crashStore struct{ *Store }

func (s crashStore) CrashClaimSeat(ctx context.Context, a *store.Assignment, step int) error {
	return s.tx(ctx, func(tx *wtx) error {
		a.State = store.AssignPending
		if err := saveAssignment(ctx, tx, a, now()); err != nil {
			return err
		}
		if step < 2 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE pools SET assigned = assigned + 1 WHERE tenant_id = ? AND id = ? AND assigned < total`, a.TenantID, a.PoolID)
		return err
	})
}

func TestOpenCreatesDirectoryAndMigratesOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested dir", "données")
	path := filepath.Join(dir, "roster.db")
	// Several nodes starting together on a new file apply each migration
	// exactly once.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(path)
			if err != nil {
				errs <- err
				return
			}
			errs <- s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
	}
	s := openTest(t, path)
	steps, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	var n, latest int
	if err := s.r.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &latest); err != nil {
		t.Fatal(err)
	}
	if n != len(steps) || latest != steps[len(steps)-1].version {
		t.Errorf("schema_migrations has %d rows up to %d, want %d up to %d", n, latest, len(steps), steps[len(steps)-1].version)
	}
	v, err := s.SchemaVersion(context.Background())
	if err != nil || v != latest {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, latest)
	}
	var mode string
	if err := s.w.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := s.r.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys on readers = %d, %v; want 1", fk, err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	// Readers cannot write, whatever a bug would ask of them.
	if _, err := s.r.Exec(`DELETE FROM users`); err == nil {
		t.Errorf("a reader connection wrote")
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a database from a newer build: %v, want an error saying the schema is newer", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(file, []byte(strings.Repeat("not a database\n", 300)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"parent is a file", filepath.Join(file, "roster.db"), "create data directory"},
		{"not a database", file, "not a database"},
		{"empty path", "", "not a database file path"},
		{"query string", filepath.Join(dir, "x.db?mode=ro"), "not a database file path"},
		{"memory", ":memory:", "not a database file path"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "read-only")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct{ name, path, want string }{"unwritable directory", filepath.Join(ro, "roster.db"), "not writable"})
	}
	for _, tt := range tests {
		s, err := Open(tt.path)
		if err == nil {
			s.Close()
			t.Errorf("%s: Open(%q) succeeded", tt.name, tt.path)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Open(%q) = %v, want it to say %q", tt.name, tt.path, err, tt.want)
		}
	}
}

// TestQueryPlansUseIndexes keeps the filters IdPs send on hot paths (and
// delta syncs by meta.lastModified) on an index: a full scan of a large
// tenant would pass every functional test and still be an outage.
func TestQueryPlansUseIndexes(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	c := func(name, sub, op string, v any) store.Expr {
		return store.Compare{Attr: store.AttrPath{Name: name, Sub: sub}, Op: op, Value: v}
	}
	tests := []struct {
		res     resource
		indexed func(store.AttrPath) bool
		q       store.Query
		want    string
	}{
		{users, filter.UserIndexed, store.Query{Filter: c("userName", "", "eq", "Alice")}, "users_user_name"},
		{users, filter.UserIndexed, store.Query{Filter: c("userName", "", "sw", "al")}, "users_user_name"},
		{users, filter.UserIndexed, store.Query{Filter: c("externalId", "", "eq", "00u1")}, "users_external_id"},
		{users, filter.UserIndexed, store.Query{Filter: c("id", "", "eq", "x")}, "sqlite_autoindex_users_1 (tenant_id=? AND id=?)"},
		{users, filter.UserIndexed, store.Query{Filter: c("emails", "value", "eq", "a@b")}, "PRIMARY KEY (tenant_id=? AND value_norm=?)"},
		{users, filter.UserIndexed, store.Query{Filter: c("meta", "lastModified", "gt", "2026-01-01T00:00:00Z")}, "users_updated"},
		{users, filter.UserIndexed, store.Query{SortBy: store.AttrPath{Name: "userName"}}, "users_user_name"},
		{groups, filter.GroupIndexed, store.Query{Filter: c("displayName", "", "eq", "Eng")}, "groups_display_name"},
		{groups, filter.GroupIndexed, store.Query{Filter: c("externalId", "", "eq", "g1")}, "groups_external_id"},
		{groups, filter.GroupIndexed, store.Query{Filter: c("members", "value", "eq", "u1")}, "memberships_member"},
	}
	for _, tt := range tests {
		p, err := plan(tt.res, "t1", tt.q, tt.indexed)
		if err != nil {
			t.Fatal(err)
		}
		table := map[string]string{"u": "users", "g": "groups"}[tt.res.alias]
		all := queryPlan(t, s, `SELECT `+tt.res.alias+`.id FROM `+table+` `+tt.res.alias+` WHERE `+p.where+p.orderBy(tt.res.alias)+` LIMIT 10`, p.args...)
		if !strings.Contains(all, tt.want) || strings.Contains(all, "SCAN "+tt.res.alias) {
			t.Errorf("WHERE %s: plan %q, want it to use %s and not scan", p.where, all, tt.want)
		}
	}
}

// TestSeatClaimsAcrossProcesses runs the seat race between processes (a
// CLI beside a running server, or several servers on one data directory):
// unlike handles in one process, they meet only at the file's POSIX locks.
func TestSeatClaimsAcrossProcesses(t *testing.T) {
	if os.Getenv("ROSTER_SQLITE_CLAIMER") != "" {
		t.Skip("runs as the parent of claimer processes")
	}
	const procs, perProc, seats = 3, 12, 10
	path := filepath.Join(t.TempDir(), "roster.db")
	s := openTest(t, path)
	ctx := context.Background()
	ten := &store.Tenant{Name: "t"}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	p := &store.Product{Code: "p"}
	if err := s.CreateProduct(ctx, p); err != nil {
		t.Fatal(err)
	}
	pool := &store.Pool{TenantID: ten.ID, ProductID: p.ID, Total: seats}
	if err := s.CreatePool(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for i := range procs {
		var ids []string
		for j := range perProc {
			u := &store.User{TenantID: ten.ID, UserName: fmt.Sprintf("u%d-%d", i, j)}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, u.ID)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestClaimerProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ROSTER_SQLITE_CLAIMER="+strings.Join([]string{path, ten.ID, pool.ID, strings.Join(ids, ",")}, ";"))
		out := new(strings.Builder)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	granted := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("claimer %d: %v\n%s", i, err, outs[i])
		}
		var n int
		if _, err := fmt.Sscanf(outs[i].String()[strings.Index(outs[i].String(), "granted="):], "granted=%d", &n); err != nil {
			t.Fatalf("claimer %d output %q: %v", i, outs[i], err)
		}
		granted += n
	}
	got, err := s.GetPool(ctx, ten.ID, pool.ID)
	if err != nil {
		t.Fatal(err)
	}
	active, err := s.ListAssignments(ctx, ten.ID, store.AssignmentQuery{PoolID: pool.ID, State: store.AssignActive})
	if err != nil {
		t.Fatal(err)
	}
	if granted != seats || got.Assigned != seats || len(active) != seats {
		t.Errorf("granted %d, pool Assigned %d, %d active assignments; want %d each", granted, got.Assigned, len(active), seats)
	}
}

// TestClaimerProcess is the child of TestSeatClaimsAcrossProcesses.
func TestClaimerProcess(t *testing.T) {
	spec := os.Getenv("ROSTER_SQLITE_CLAIMER")
	if spec == "" {
		t.Skip("helper process for TestSeatClaimsAcrossProcesses")
	}
	parts := strings.Split(spec, ";")
	s, err := Open(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for _, id := range strings.Split(parts[3], ",") {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.ClaimSeat(context.Background(), &store.Assignment{TenantID: parts[1], PoolID: parts[2], UserID: id}, time.Now())
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				granted++
			case !errors.Is(err, store.ErrNoSeats):
				t.Errorf("ClaimSeat: %v", err)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("granted=%d\n", granted)
}

// TestBackgroundCheckpoint: the WAL reaches the database file without a
// commit paying for it.
func TestBackgroundCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	s := openTest(t, path)
	ctx := context.Background()
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	ten := &store.Tenant{Name: "t"}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := s.CreateUser(ctx, &store.User{TenantID: ten.ID, UserName: fmt.Sprint("u", i)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * checkpointEvery)
	for {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > before.Size() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes after %v: no background checkpoint", fi.Size(), 5*checkpointEvery)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEmailIndexFollowsUsers: whatever creates, updates and deletes do,
// user_emails holds exactly the folded e-mail values of the users there
// are (the triggers of migration 0003 maintain it).
func TestEmailIndexFollowsUsers(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	ctx := context.Background()
	ten := &store.Tenant{Name: "t"}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	mv := func(vs ...string) []store.MultiValue {
		var out []store.MultiValue
		for _, v := range vs {
			out = append(out, store.MultiValue{Value: v})
		}
		return out
	}
	var us []*store.User
	for i, emails := range [][]store.MultiValue{nil, mv("A@x.io"), mv("a@X.io", "b@x.io", "B@X.IO"), mv(""), mv("c@x.io")} {
		u := &store.User{TenantID: ten.ID, UserName: fmt.Sprint("u", i), Emails: emails}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	// A failed create (taken userName) leaves no rows behind.
	if err := s.CreateUser(ctx, &store.User{TenantID: ten.ID, UserName: "U1", Emails: mv("ghost@x.io")}); err == nil {
		t.Fatal("duplicate userName accepted")
	}
	us[1].Emails = mv("new@x.io", "a@x.io")
	us[2].Emails = nil
	us[3].Emails = mv("d@x.io")
	for _, u := range us[1:4] {
		if err := s.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	stale := *us[0]
	stale.Version = 99
	stale.Emails = mv("stale@x.io")
	if err := s.UpdateUser(ctx, &stale); err == nil {
		t.Fatal("stale update accepted")
	}
	if err := s.DeleteUser(ctx, ten.ID, us[4].ID, 0); err != nil {
		t.Fatal(err)
	}

	want := map[string]bool{}
	for _, u := range us[:4] {
		for _, e := range u.Emails {
			want[u.ID+" "+store.NormUserName(e.Value)] = true
		}
	}
	got := map[string]bool{}
	rows, err := s.r.Query(`SELECT user_id, value_norm FROM user_emails`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		got[id+" "+v] = true
	}
	rows.Close()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("user_emails rows = %v\nwant %v", got, want)
	}
}

// queryPlan is SQLite's plan for q on the read pool, its steps joined
// by "; ".
func queryPlan(t *testing.T, s *Store, q string, args ...any) string {
	t.Helper()
	rows, err := s.r.Query(`EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "; ")
}
