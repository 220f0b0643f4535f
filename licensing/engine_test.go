package licensing_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// fixture is one tenant with a product, a pool and helpers, on a real
// SQLite store.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	path   string
	st     store.Store
	eng    *licensing.Engine
	now    time.Time
	tenant string
	prod   *store.Product
	pool   *store.Pool
}

func newFixture(t *testing.T, total int, policy string) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), path: filepath.Join(t.TempDir(), "roster.db"), now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	f.st = f.open()
	f.eng = licensing.New(f.st, licensing.WithClock(func() time.Time { return f.now }))
	tn := &store.Tenant{Name: "acme"}
	must(t, f.st.CreateTenant(f.ctx, tn))
	f.tenant = tn.ID
	f.prod = &store.Product{Code: "counter", Name: "Counter Pro"}
	must(t, f.st.CreateProduct(f.ctx, f.prod))
	f.pool = &store.Pool{TenantID: f.tenant, ProductID: f.prod.ID, Total: total, Policy: policy, MaxDevicesPerSeat: 2}
	must(t, f.st.CreatePool(f.ctx, f.pool))
	return f
}

func (f *fixture) open() store.Store {
	st, err := sqlite.Open(f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { st.Close() })
	return st
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) user(name string) *store.User {
	u := &store.User{TenantID: f.tenant, UserName: name, Active: true, Emails: []store.MultiValue{{Value: name, Primary: true}}}
	must(f.t, f.st.CreateUser(f.ctx, u))
	return u
}

func (f *fixture) group(name string) *store.Group {
	g := &store.Group{TenantID: f.tenant, DisplayName: name}
	must(f.t, f.st.CreateGroup(f.ctx, g))
	return g
}

func (f *fixture) join(g *store.Group, ids ...string) {
	f.t.Helper()
	var ms []store.Member
	for _, id := range ids {
		ms = append(ms, store.Member{MemberID: id})
	}
	_, err := f.st.AddMembers(f.ctx, f.tenant, g.ID, 0, ms)
	must(f.t, err)
	must(f.t, f.eng.GroupChanged(f.ctx, f.tenant, g.ID, ids, licensing.System))
}

func (f *fixture) leave(g *store.Group, ids ...string) {
	f.t.Helper()
	_, err := f.st.RemoveMembers(f.ctx, f.tenant, g.ID, 0, ids)
	must(f.t, err)
	must(f.t, f.eng.GroupChanged(f.ctx, f.tenant, g.ID, ids, licensing.System))
}

// state is the user's assignment state in the pool, "" for none.
func (f *fixture) state(u *store.User) string {
	a, err := f.st.GetAssignment(f.ctx, f.tenant, f.pool.ID, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	must(f.t, err)
	return a.State
}

func (f *fixture) counts() (assigned, overage int) {
	p, err := f.st.GetPool(f.ctx, f.tenant, f.pool.ID)
	must(f.t, err)
	return p.Assigned, p.Overage
}

func (f *fixture) setActive(u *store.User, active bool) {
	cur, err := f.st.GetUser(f.ctx, f.tenant, u.ID)
	must(f.t, err)
	cur.Active = active
	must(f.t, f.st.UpdateUser(f.ctx, cur))
	must(f.t, f.eng.SyncUser(f.ctx, f.tenant, u.ID, licensing.System))
}

func TestRuleTransitions(t *testing.T) {
	tests := []struct {
		name string
		run  func(f *fixture) (got, want string)
	}{
		{"join grants a seat", func(f *fixture) (string, string) {
			g, u := f.group("sales"), f.user("a@x.io")
			_, err := f.eng.AddRule(f.ctx, f.tenant, g.ID, f.pool.ID, licensing.System)
			must(f.t, err)
			f.join(g, u.ID)
			return f.state(u), store.AssignActive
		}},
		{"leave returns the seat", func(f *fixture) (string, string) {
			g, u := f.group("sales"), f.user("a@x.io")
			_, _ = f.eng.AddRule(f.ctx, f.tenant, g.ID, f.pool.ID, licensing.System)
			f.join(g, u.ID)
			f.leave(g, u.ID)
			a, _ := f.counts()
			return fmt.Sprintf("%q assigned=%d", f.state(u), a), `"" assigned=0`
		}},
		{"nested group grants through the parent's rule", func(f *fixture) (string, string) {
			parent, child, u := f.group("all"), f.group("team"), f.user("a@x.io")
			_, _ = f.eng.AddRule(f.ctx, f.tenant, parent.ID, f.pool.ID, licensing.System)
			f.join(child, u.ID)
			f.join(parent, child.ID)
			return f.state(u), store.AssignActive
		}},
		{"second group keeps the seat when the first is left", func(f *fixture) (string, string) {
			g1, g2, u := f.group("g1"), f.group("g2"), f.user("a@x.io")
			_, _ = f.eng.AddRule(f.ctx, f.tenant, g1.ID, f.pool.ID, licensing.System)
			_, _ = f.eng.AddRule(f.ctx, f.tenant, g2.ID, f.pool.ID, licensing.System)
			f.join(g1, u.ID)
			f.join(g2, u.ID)
			f.leave(g1, u.ID)
			a, _ := f.counts()
			return fmt.Sprintf("%s assigned=%d", f.state(u), a), "active assigned=1"
		}},
		{"deactivate suspends and frees the seat", func(f *fixture) (string, string) {
			g, u := f.group("sales"), f.user("a@x.io")
			_, _ = f.eng.AddRule(f.ctx, f.tenant, g.ID, f.pool.ID, licensing.System)
			f.join(g, u.ID)
			f.setActive(u, false)
			a, _ := f.counts()
			return fmt.Sprintf("%s assigned=%d", f.state(u), a), "suspended assigned=0"
		}},
		{"reactivate at a full pool waits", func(f *fixture) (string, string) {
			g, u, v := f.group("sales"), f.user("a@x.io"), f.user("b@x.io")
			_, _ = f.eng.AddRule(f.ctx, f.tenant, g.ID, f.pool.ID, licensing.System)
			f.join(g, u.ID)
			f.setActive(u, false)
			must(f.t, f.eng.Resize(f.ctx, f.tenant, f.pool.ID, 1, licensing.System))
			f.join(g, v.ID) // takes the only seat
			f.setActive(u, true)
			return f.state(u) + "," + f.state(v), "waiting,active"
		}},
		{"a freed seat goes to the first waiting user", func(f *fixture) (string, string) {
			must(f.t, f.eng.Resize(f.ctx, f.tenant, f.pool.ID, 1, licensing.System))
			g, a, b, c := f.group("sales"), f.user("a@x.io"), f.user("b@x.io"), f.user("c@x.io")
			_, _ = f.eng.AddRule(f.ctx, f.tenant, g.ID, f.pool.ID, licensing.System)
			f.join(g, a.ID)
			f.now = f.now.Add(time.Second)
			f.join(g, b.ID)
			f.now = f.now.Add(time.Second)
			f.join(g, c.ID)
			f.leave(g, a.ID)
			return f.state(b) + "," + f.state(c), "active,waiting"
		}},
		{"delete returns the seat", func(f *fixture) (string, string) {
			g, u := f.group("sales"), f.user("a@x.io")
			_, _ = f.eng.AddRule(f.ctx, f.tenant, g.ID, f.pool.ID, licensing.System)
			f.join(g, u.ID)
			must(f.t, f.st.DeleteUser(f.ctx, f.tenant, u.ID, 0))
			a, _ := f.counts()
			return fmt.Sprintf("assigned=%d", a), "assigned=0"
		}},
		{"rule added later grants existing members", func(f *fixture) (string, string) {
			g, u := f.group("sales"), f.user("a@x.io")
			f.join(g, u.ID)
			_, err := f.eng.AddRule(f.ctx, f.tenant, g.ID, f.pool.ID, licensing.System)
			must(f.t, err)
			return f.state(u), store.AssignActive
		}},
		{"rule removed takes the seat back", func(f *fixture) (string, string) {
			g, u := f.group("sales"), f.user("a@x.io")
			r, _ := f.eng.AddRule(f.ctx, f.tenant, g.ID, f.pool.ID, licensing.System)
			f.join(g, u.ID)
			must(f.t, f.eng.RemoveRule(f.ctx, f.tenant, r.ID, licensing.System))
			a, _ := f.counts()
			return fmt.Sprintf("%q assigned=%d", f.state(u), a), `"" assigned=0`
		}},
		{"expired pool grants nothing new", func(f *fixture) (string, string) {
			p, _ := f.st.GetPool(f.ctx, f.tenant, f.pool.ID)
			p.EndsAt = f.now.Add(-time.Hour)
			must(f.t, f.st.UpdatePool(f.ctx, p))
			g, u := f.group("sales"), f.user("a@x.io")
			_, _ = f.eng.AddRule(f.ctx, f.tenant, g.ID, f.pool.ID, licensing.System)
			f.join(g, u.ID)
			a, _ := f.counts()
			return fmt.Sprintf("%q assigned=%d", f.state(u), a), `"" assigned=0`
		}},
		{"growing a pool serves the waiting list", func(f *fixture) (string, string) {
			must(f.t, f.eng.Resize(f.ctx, f.tenant, f.pool.ID, 0, licensing.System))
			g, u := f.group("sales"), f.user("a@x.io")
			_, _ = f.eng.AddRule(f.ctx, f.tenant, g.ID, f.pool.ID, licensing.System)
			f.join(g, u.ID)
			before := f.state(u)
			must(f.t, f.eng.Resize(f.ctx, f.tenant, f.pool.ID, 1, licensing.System))
			return before + "," + f.state(u), "waiting,active"
		}},
		{"allow-over counts overage", func(f *fixture) (string, string) {
			p, _ := f.st.GetPool(f.ctx, f.tenant, f.pool.ID)
			p.Total, p.Policy = 1, store.PolicyAllowOver
			must(f.t, f.st.UpdatePool(f.ctx, p))
			g, u, v := f.group("sales"), f.user("a@x.io"), f.user("b@x.io")
			_, _ = f.eng.AddRule(f.ctx, f.tenant, g.ID, f.pool.ID, licensing.System)
			f.join(g, u.ID, v.ID)
			a, o := f.counts()
			return fmt.Sprintf("%s %s assigned=%d overage=%d", f.state(u), f.state(v), a, o), "active active assigned=1 overage=1"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 5, store.PolicyDeny)
			if got, want := tt.run(f); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestAdminOperations(t *testing.T) {
	f := newFixture(t, 1, store.PolicyDeny)
	a, b := f.user("a@x.io"), f.user("b@x.io")
	must(t, f.eng.Assign(f.ctx, f.tenant, f.pool.ID, a.ID, "admin:test"))
	if err := f.eng.Assign(f.ctx, f.tenant, f.pool.ID, b.ID, "admin:test"); !errors.Is(err, store.ErrNoSeats) {
		t.Fatalf("Assign on a full pool = %v, want ErrNoSeats", err)
	}
	if got := f.state(b); got != "" {
		t.Errorf("a refused Assign left an assignment in state %q", got)
	}
	var inv *store.ErrInvalid
	if err := f.eng.FlagInactive(f.ctx, f.tenant, a.ID, "admin:test"); !errors.As(err, &inv) {
		t.Errorf("FlagInactive on a licensed user = %v, want ErrInvalid", err)
	}
	must(t, f.eng.Move(f.ctx, f.tenant, f.pool.ID, a.ID, b.ID, "admin:test"))
	if got := f.state(a) + "," + f.state(b); got != ",active" {
		t.Errorf("after Move states = %s, want ,active", got)
	}
	if n, _ := f.counts(); n != 1 {
		t.Errorf("after Move assigned = %d, want 1", n)
	}
	must(t, f.eng.FlagInactive(f.ctx, f.tenant, a.ID, "admin:test"))
	must(t, f.eng.SetNote(f.ctx, f.tenant, a.ID, "counts PVC pipes", "admin:test"))
	u, _ := f.st.GetUser(f.ctx, f.tenant, a.ID)
	if u.Active || u.Notes != "counts PVC pipes" {
		t.Errorf("user after FlagInactive+SetNote: active=%v notes=%q", u.Active, u.Notes)
	}
	if err := f.eng.Resize(f.ctx, f.tenant, f.pool.ID, 0, "admin:test"); !errors.As(err, &inv) {
		t.Errorf("shrinking below assigned = %v, want ErrInvalid naming the seats to free", err)
	}
	must(t, f.eng.Unassign(f.ctx, f.tenant, f.pool.ID, b.ID, "admin:test"))
	if n, _ := f.counts(); n != 0 {
		t.Errorf("after Unassign assigned = %d, want 0", n)
	}
	events, err := f.st.ListAudit(f.ctx, f.tenant, store.AuditQuery{Limit: 100})
	must(t, err)
	if len(events) < 5 {
		t.Errorf("audit has %d events after five admin changes", len(events))
	}
}

// TestConcurrentJoinsAcrossNodes: three store handles (three nodes) add
// users to a licensed group at once; the pool never exceeds its total and
// everyone else waits.
func TestConcurrentJoinsAcrossNodes(t *testing.T) {
	f := newFixture(t, 10, store.PolicyDeny)
	g := f.group("everyone")
	_, err := f.eng.AddRule(f.ctx, f.tenant, g.ID, f.pool.ID, licensing.System)
	must(t, err)
	var users []*store.User
	for i := range 40 {
		users = append(users, f.user(fmt.Sprintf("u%02d@x.io", i)))
	}
	nodes := []store.Store{f.st, f.open(), f.open()}
	var wg sync.WaitGroup
	errs := make(chan error, len(users))
	for i, u := range users {
		wg.Add(1)
		go func(st store.Store, u *store.User) {
			defer wg.Done()
			eng := licensing.New(st)
			if _, err := st.AddMembers(f.ctx, f.tenant, g.ID, 0, []store.Member{{MemberID: u.ID}}); err != nil {
				errs <- err
				return
			}
			errs <- eng.GroupChanged(f.ctx, f.tenant, g.ID, []string{u.ID}, licensing.System)
		}(nodes[i%3], u)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("join: %v", err)
		}
	}
	active, waiting := 0, 0
	for _, u := range users {
		switch f.state(u) {
		case store.AssignActive:
			active++
		case store.AssignWaiting:
			waiting++
		}
	}
	assigned, _ := f.counts()
	if active != 10 || waiting != 30 || assigned != 10 {
		t.Errorf("active=%d waiting=%d assigned=%d, want 10, 30, 10", active, waiting, assigned)
	}
}

// TestReprocessConvergesMissedChanges: changes written to the store
// without telling the engine (a node that died before converging) are
// converged by a reprocess, and a converged tenant is left alone.
func TestReprocessConvergesMissedChanges(t *testing.T) {
	f := newFixture(t, 2, store.PolicyDeny)
	parent, child := f.group("all"), f.group("team")
	_, err := f.eng.AddRule(f.ctx, f.tenant, parent.ID, f.pool.ID, licensing.System)
	must(t, err)
	a, b, c := f.user("a@x.io"), f.user("b@x.io"), f.user("c@x.io")
	// Straight to the store: no GroupChanged, no SyncUser.
	_, err = f.st.AddMembers(f.ctx, f.tenant, parent.ID, 0, []store.Member{{MemberID: a.ID}, {MemberID: child.ID}})
	must(t, err)
	_, err = f.st.AddMembers(f.ctx, f.tenant, child.ID, 0, []store.Member{{MemberID: b.ID}})
	must(t, err)
	if _, err := f.eng.Reprocess(f.ctx, f.tenant, licensing.System); err != nil {
		t.Fatal(err)
	}
	if got := f.state(a) + "," + f.state(b) + "," + f.state(c); got != "active,active," {
		t.Fatalf("after reprocess: %s, want active,active,", got)
	}
	cur, _ := f.st.GetUser(f.ctx, f.tenant, a.ID)
	cur.Active = false
	must(t, f.st.UpdateUser(f.ctx, cur))
	_, err = f.st.RemoveMembers(f.ctx, f.tenant, child.ID, 0, []string{b.ID})
	must(t, err)
	_, err = f.st.AddMembers(f.ctx, f.tenant, child.ID, 0, []store.Member{{MemberID: c.ID}})
	must(t, err)
	if _, err := f.eng.Reprocess(f.ctx, f.tenant, licensing.System); err != nil {
		t.Fatal(err)
	}
	if got := f.state(a) + "," + f.state(b) + "," + f.state(c); got != "suspended,,active" {
		t.Errorf("after the second reprocess: %s, want suspended,,active", got)
	}
	before, _ := f.st.ListAudit(f.ctx, f.tenant, store.AuditQuery{Limit: 1000})
	if _, err := f.eng.Reprocess(f.ctx, f.tenant, licensing.System); err != nil {
		t.Fatal(err)
	}
	after, _ := f.st.ListAudit(f.ctx, f.tenant, store.AuditQuery{Limit: 1000})
	if len(after) != len(before) {
		t.Errorf("a reprocess of a converged tenant changed something: %d audit events, was %d", len(after), len(before))
	}
}

// TestConcurrentMovesAndUnassigns: admins on three nodes assign, move and
// remove seats of one pool at once; whatever interleaving wins, the pool
// count equals the active assignments and never exceeds the total.
func TestConcurrentMovesAndUnassigns(t *testing.T) {
	f := newFixture(t, 5, store.PolicyDeny)
	var users []*store.User
	for i := range 12 {
		users = append(users, f.user(fmt.Sprintf("m%02d@x.io", i)))
	}
	for _, u := range users[:5] {
		must(t, f.eng.Assign(f.ctx, f.tenant, f.pool.ID, u.ID, "admin:test"))
	}
	nodes := []*licensing.Engine{f.eng, licensing.New(f.open()), licensing.New(f.open())}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			eng := nodes[w%3]
			for i := range 20 {
				a, b := users[(w+i)%len(users)], users[(w*7+i*5+3)%len(users)]
				switch i % 3 {
				case 0:
					_ = eng.Move(f.ctx, f.tenant, f.pool.ID, a.ID, b.ID, "admin:test")
				case 1:
					_ = eng.Unassign(f.ctx, f.tenant, f.pool.ID, a.ID, "admin:test")
				default:
					_ = eng.Assign(f.ctx, f.tenant, f.pool.ID, b.ID, "admin:test")
				}
			}
		}()
	}
	wg.Wait()
	active, err := f.st.ListAssignments(f.ctx, f.tenant, store.AssignmentQuery{PoolID: f.pool.ID, State: store.AssignActive})
	must(t, err)
	assigned, _ := f.counts()
	if assigned != len(active) || assigned > 5 {
		t.Errorf("assigned = %d, active assignments = %d, total 5", assigned, len(active))
	}
	if n, err := f.st.Recount(f.ctx, f.tenant, f.pool.ID); err != nil || n != 0 {
		t.Errorf("Recount after the storm corrected %d (%v), want 0", n, err)
	}
}
