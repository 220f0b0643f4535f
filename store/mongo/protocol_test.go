package mongo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/store"
)

// These tests cover what the conformance suite cannot ask of every
// backend: a node dying between the steps of each multi-document
// protocol, and many nodes mixing every seat operation at once.

type fixture struct {
	t     *testing.T
	ctx   context.Context
	uri   string
	db    string
	s     *Store
	ten   *store.Tenant
	prod  *store.Product
	pool  *store.Pool
	users map[string]*store.User
}

func newFixture(t *testing.T, uri string, total int, policy string, names ...string) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: t.Context(), uri: uri, db: freshDB(t, uri), users: map[string]*store.User{}}
	f.s = openT(t, uri, f.db)
	f.ten = &store.Tenant{Name: "t"}
	f.must(f.s.CreateTenant(f.ctx, f.ten))
	f.prod = &store.Product{Code: "p"}
	f.must(f.s.CreateProduct(f.ctx, f.prod))
	f.pool = &store.Pool{TenantID: f.ten.ID, ProductID: f.prod.ID, Total: total, Policy: policy, MaxDevicesPerSeat: 1}
	f.must(f.s.CreatePool(f.ctx, f.pool))
	for _, n := range names {
		u := &store.User{TenantID: f.ten.ID, UserName: n, Active: true}
		f.must(f.s.CreateUser(f.ctx, u))
		f.users[n] = u
	}
	return f
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) claim(s *Store, name string) (*store.Assignment, error) {
	a := &store.Assignment{TenantID: f.ten.ID, PoolID: f.pool.ID, UserID: f.users[name].ID}
	return a, s.ClaimSeat(f.ctx, a, time.Now())
}

// crashing is the store with a node that dies at step.
func (f *fixture) crashing(step string) *Store {
	c := *f.s
	c.hook = func(name string) error {
		if name == step {
			return errCrash
		}
		return nil
	}
	return &c
}

// later is the store as a reconciler sees it once the grace period has
// passed over everything the dead node left.
func (f *fixture) later() *Store {
	c := *f.s
	c.grace = -time.Hour
	return &c
}

func (f *fixture) state(name string) string {
	a, err := f.s.GetAssignment(f.ctx, f.ten.ID, f.pool.ID, f.users[name].ID)
	if errors.Is(err, store.ErrNotFound) {
		return "none"
	}
	f.must(err)
	return a.State
}

// counters returns the pool's Assigned and Overage and the length of its
// journal.
func (f *fixture) counters() (assigned, overage, journal int) {
	p, err := findOne[poolDoc](f.ctx, f.s.c.pools, idFilter(f.ten.ID, f.pool.ID))
	f.must(err)
	return p.Assigned, p.Overage, len(p.Journal)
}

// consistent checks the seat invariant with nothing in flight.
func (f *fixture) consistent(what string) {
	f.t.Helper()
	assigned, overage, journal := f.counters()
	as, err := f.s.ListAssignments(f.ctx, f.ten.ID, store.AssignmentQuery{PoolID: f.pool.ID, State: store.AssignActive})
	f.must(err)
	in, over := 0, 0
	for _, a := range as {
		if a.Over {
			over++
		} else {
			in++
		}
	}
	if assigned != in || overage != over || journal != 0 || assigned > f.pool.Total {
		f.t.Errorf("%s: Assigned %d Overage %d journal %d, active %d + %d over (Total %d)", what, assigned, overage, journal, in, over, f.pool.Total)
	}
}

func testSeatCrashes(t *testing.T, uri string) {
	tests := []struct {
		name string
		step string
		run  func(f *fixture, s *Store) error
		// right after the crash
		assigned           int
		annState, benState string
		// after a late Recount
		wantAssigned          int
		wantAnnState, wantBen string
	}{
		{"claim: pending written", "claim.pending", func(f *fixture, s *Store) error { _, err := f.claim(s, "ben"); return err },
			1, "active", "pending", 2, "active", "active"},
		{"claim: seat counted", "claim.counted", func(f *fixture, s *Store) error { _, err := f.claim(s, "ben"); return err },
			2, "active", "pending", 2, "active", "active"},
		{"claim: activated, entry left", "claim.activated", func(f *fixture, s *Store) error { _, err := f.claim(s, "ben"); return err },
			2, "active", "active", 2, "active", "active"},
		{"suspend: noted", "return.noted", func(f *fixture, s *Store) error {
			return s.Suspend(f.ctx, f.ten.ID, f.pool.ID, f.users["ann"].ID, "inactive")
		}, 1, "active", "none", 1, "active", "none"},
		{"suspend: applied", "return.applied", func(f *fixture, s *Store) error {
			return s.Suspend(f.ctx, f.ten.ID, f.pool.ID, f.users["ann"].ID, "inactive")
		}, 1, "suspended", "none", 0, "suspended", "none"},
		{"release: deleted", "return.applied", func(f *fixture, s *Store) error {
			_, err := s.ReleaseSource(f.ctx, f.ten.ID, f.pool.ID, f.users["ann"].ID, store.SourceDirect)
			return err
		}, 1, "none", "none", 0, "none", "none"},
		{"move: noted", "move.noted", func(f *fixture, s *Store) error {
			_, err := s.MoveSeat(f.ctx, f.ten.ID, f.pool.ID, f.users["ann"].ID, f.users["ben"].ID)
			return err
		}, 1, "active", "none", 1, "active", "none"},
		{"move: giver released", "move.released", func(f *fixture, s *Store) error {
			_, err := s.MoveSeat(f.ctx, f.ten.ID, f.pool.ID, f.users["ann"].ID, f.users["ben"].ID)
			return err
		}, 1, "none", "none", 1, "active", "none"}, // not moved: the giver keeps the seat
		{"move: receiver active, entry left", "move.received", func(f *fixture, s *Store) error {
			_, err := s.MoveSeat(f.ctx, f.ten.ID, f.pool.ID, f.users["ann"].ID, f.users["ben"].ID)
			return err
		}, 1, "none", "active", 1, "none", "active"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, uri, 2, store.PolicyDeny, "ann", "ben")
			_, err := f.claim(f.s, "ann")
			f.must(err)
			if err := tt.run(f, f.crashing(tt.step)); !errors.Is(err, errCrash) {
				t.Fatalf("operation did not stop at %s: %v", tt.step, err)
			}
			assigned, _, _ := f.counters()
			if assigned != tt.assigned || f.state("ann") != tt.annState || f.state("ben") != tt.benState {
				t.Errorf("after the crash: Assigned %d, ann %s, ben %s; want %d, %s, %s",
					assigned, f.state("ann"), f.state("ben"), tt.assigned, tt.annState, tt.benState)
			}
			// Within the grace period Recount leaves a step that may still
			// be running alone, and never breaks the invariant Assigned ≤
			// Total.
			if _, err := f.s.Recount(f.ctx, f.ten.ID, f.pool.ID); err != nil && !errors.Is(err, store.ErrPrecondition) {
				t.Fatalf("early Recount: %v", err)
			}
			if assigned, _, _ := f.counters(); assigned > f.pool.Total {
				t.Errorf("early Recount over-assigned: %d", assigned)
			}
			if _, err := f.later().Recount(f.ctx, f.ten.ID, f.pool.ID); err != nil {
				t.Fatalf("Recount: %v", err)
			}
			assigned, _, _ = f.counters()
			if assigned != tt.wantAssigned || f.state("ann") != tt.wantAnnState || f.state("ben") != tt.wantBen {
				t.Errorf("after Recount: Assigned %d, ann %s, ben %s; want %d, %s, %s",
					assigned, f.state("ann"), f.state("ben"), tt.wantAssigned, tt.wantAnnState, tt.wantBen)
			}
			f.consistent("after Recount")
			n, err := f.s.Recount(f.ctx, f.ten.ID, f.pool.ID)
			f.must(err)
			if n != 0 {
				t.Errorf("second Recount corrected %d", n)
			}
		})
	}

	// The next operation on an assignment settles what a dead node left on
	// it at once, without waiting for the reconciler.
	t.Run("next claim settles a half-done return", func(t *testing.T) {
		f := newFixture(t, uri, 1, store.PolicyDeny, "ann")
		_, err := f.claim(f.s, "ann")
		f.must(err)
		err = f.crashing("return.applied").Suspend(f.ctx, f.ten.ID, f.pool.ID, f.users["ann"].ID, "inactive")
		if !errors.Is(err, errCrash) {
			t.Fatal(err)
		}
		a, err := f.claim(f.s, "ann")
		if err != nil || a.State != store.AssignActive {
			t.Fatalf("claim after a crashed suspend: %+v, %v", a, err)
		}
		f.consistent("after the claim")
	})
}

// testSeatChurn: three nodes mix claims, releases, suspensions, moves and
// recounts on a small pool. No step may oversell. Without crashes the
// counters are exact once everything is done: Recount finds nothing to
// correct. With crashes (operations stopped at a random step) and a grace
// period so short that slow live nodes are taken for dead too, one late
// Recount repairs everything, and nothing is left mid-step.
func testSeatChurn(t *testing.T, uri string) {
	const total = 3
	steps := []string{"claim.pending", "claim.counted", "claim.activated", "return.noted", "return.applied",
		"move.noted", "move.released", "move.received"}
	names := make([]string, 8)
	for i := range names {
		names[i] = fmt.Sprintf("u%d", i)
	}
	for _, crashes := range []bool{false, true} {
		for _, policy := range []string{store.PolicyDeny, store.PolicyAllowOver} {
			t.Run(fmt.Sprintf("%s/crashes=%v", policy, crashes), func(t *testing.T) {
				f := newFixture(t, uri, total, policy, names...)
				nodes := []*Store{f.s, openT(t, uri, f.db), openT(t, uri, f.db)}
				if crashes {
					for _, n := range nodes {
						n.grace = 150 * time.Millisecond
					}
				}
				var wg sync.WaitGroup
				var mu sync.Mutex
				var failures []error
				for g := range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := rand.New(rand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))
						for range 20 {
							s := nodes[g%len(nodes)]
							if crashes && r.IntN(5) == 0 {
								c := *s
								step := steps[r.IntN(len(steps))]
								c.hook = func(n string) error {
									if n == step {
										return errCrash
									}
									return nil
								}
								s = &c
							}
							u := f.users[names[r.IntN(len(names))]].ID
							v := f.users[names[r.IntN(len(names))]].ID
							var err error
							op := r.IntN(6)
							switch op {
							case 0, 1:
								err = s.ClaimSeat(f.ctx, &store.Assignment{TenantID: f.ten.ID, PoolID: f.pool.ID, UserID: u}, time.Now())
							case 2:
								_, err = s.ReleaseSource(f.ctx, f.ten.ID, f.pool.ID, u, store.SourceDirect)
							case 3:
								err = s.Suspend(f.ctx, f.ten.ID, f.pool.ID, u, "inactive")
							case 4:
								_, err = s.MoveSeat(f.ctx, f.ten.ID, f.pool.ID, u, v)
							case 5:
								_, err = s.Recount(f.ctx, f.ten.ID, f.pool.ID)
							}
							// Expected refusals; ErrPrecondition when an operation
							// keeps meeting steps in flight (a Recount under
							// churn, or anything behind a crashed step).
							_, invalid := store.IsInvalid(err)
							ok := err == nil || invalid || errors.Is(err, store.ErrNoSeats) || errors.Is(err, store.ErrNotFound) ||
								(errors.Is(err, store.ErrPrecondition) && (op == 5 || crashes)) || errors.Is(err, errCrash)
							assigned, _, _ := f.counters()
							mu.Lock()
							if !ok {
								failures = append(failures, err)
							}
							if assigned > total {
								failures = append(failures, fmt.Errorf("Assigned %d above Total %d", assigned, total))
							}
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				for _, err := range failures {
					t.Error(err)
				}
				if crashes {
					if _, err := f.later().Recount(f.ctx, f.ten.ID, f.pool.ID); err != nil {
						t.Fatalf("late Recount: %v", err)
					}
				}
				f.consistent("after the churn")
				n, err := f.s.Recount(f.ctx, f.ten.ID, f.pool.ID)
				f.must(err)
				if n != 0 {
					t.Errorf("Recount after the churn corrected %d seats", n)
				}
				as, err := findAll[assignmentDoc](f.ctx, f.s.c.assignments, poolFilter(f.ten.ID, f.pool.ID))
				f.must(err)
				for _, a := range as {
					if a.State == store.AssignPending || a.State == stateReleased {
						t.Errorf("assignment of %s left %s", a.UserID, a.State)
					}
				}
			})
		}
	}
}

// testDeletesResume: a cascade that died half-way is finished by the next
// call, whatever version it names.
func testDeletesResume(t *testing.T, uri string) {
	f := newFixture(t, uri, 1, store.PolicyDeny, "ann", "ben")
	g := &store.Group{TenantID: f.ten.ID, DisplayName: "g"}
	f.must(f.s.CreateGroup(f.ctx, g))
	_, err := f.s.AddMembers(f.ctx, f.ten.ID, g.ID, 0, []store.Member{{MemberID: f.users["ann"].ID}, {MemberID: f.users["ben"].ID}})
	f.must(err)
	_, err = f.claim(f.s, "ann")
	f.must(err)

	ann := f.users["ann"]
	err = f.crashing("deleteUser.marked").DeleteUser(f.ctx, f.ten.ID, ann.ID, ann.Version)
	if !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	// The retry names the version the caller read before; the cascade
	// started, so it finishes.
	f.must(f.s.DeleteUser(f.ctx, f.ten.ID, ann.ID, ann.Version))
	if _, err := f.s.GetUser(f.ctx, f.ten.ID, ann.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user after a resumed delete: %v", err)
	}
	n, err := f.s.CountMembers(f.ctx, f.ten.ID, g.ID)
	f.must(err)
	if n != 1 {
		t.Errorf("%d members after a resumed user delete, want 1", n)
	}
	f.consistent("after a resumed user delete")

	err = f.crashing("deleteGroup.dependents").DeleteGroup(f.ctx, f.ten.ID, g.ID, 0)
	if !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	if _, err := f.s.AddMembers(f.ctx, f.ten.ID, g.ID, 0, []store.Member{{MemberID: f.users["ben"].ID}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AddMembers to a group being deleted: %v, want ErrNotFound", err)
	}
	f.must(f.s.DeleteGroup(f.ctx, f.ten.ID, g.ID, 1))
	if _, err := f.s.GetGroup(f.ctx, f.ten.ID, g.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("group after a resumed delete: %v", err)
	}

	_, err = f.claim(f.s, "ben")
	f.must(err)
	err = f.crashing("deletePool.dependents").DeletePool(f.ctx, f.ten.ID, f.pool.ID)
	if !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	if _, err := f.s.GetPool(f.ctx, f.ten.ID, f.pool.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetPool of a pool being deleted: %v, want ErrNotFound", err)
	}
	f.must(f.s.DeletePool(f.ctx, f.ten.ID, f.pool.ID))
	as, err := f.s.ListAssignments(f.ctx, f.ten.ID, store.AssignmentQuery{PoolID: f.pool.ID})
	f.must(err)
	if len(as) != 0 {
		t.Errorf("%d assignments of a deleted pool", len(as))
	}
}

// testDeviceSlotLeak: a bind that died after taking its slot holds it only
// until the grace period has passed.
func testDeviceSlotLeak(t *testing.T, uri string) {
	f := newFixture(t, uri, 1, store.PolicyDeny, "ann")
	seat, err := f.claim(f.s, "ann")
	f.must(err)
	bind := func(s *Store, code string) error {
		return s.BindDevice(f.ctx, &store.Device{TenantID: f.ten.ID, DeviceCode: code, UserID: seat.UserID, AssignmentID: seat.ID}, 1)
	}
	if err := bind(f.crashing("bind.slot"), "D1"); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	a, _ := f.s.GetAssignment(f.ctx, f.ten.ID, f.pool.ID, seat.UserID)
	if a.Devices != 1 {
		t.Errorf("Devices after a crashed bind = %d, want the leaked slot counted", a.Devices)
	}
	if err := bind(f.s, "D2"); !errors.Is(err, store.ErrDeviceLimit) {
		t.Errorf("bind while the leaked slot is young: %v, want ErrDeviceLimit", err)
	}
	// Recount frees it once it is old.
	if _, err := f.later().Recount(f.ctx, f.ten.ID, f.pool.ID); err != nil {
		t.Fatal(err)
	}
	a, _ = f.s.GetAssignment(f.ctx, f.ten.ID, f.pool.ID, seat.UserID)
	if a.Devices != 0 {
		t.Errorf("Devices after Recount = %d, want the leaked slot freed", a.Devices)
	}
	if err := bind(f.s, "D2"); err != nil {
		t.Errorf("bind once the leaked slot is freed: %v", err)
	}
	d2, err := f.s.GetDeviceByCode(f.ctx, f.ten.ID, f.prod.ID, "D2")
	f.must(err)
	f.must(f.s.UnbindDevice(f.ctx, f.ten.ID, d2.ID))
	if err := bind(f.crashing("bind.slot"), "D3"); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	// A bind finding the seat full frees old leaked slots itself.
	if err := bind(f.later(), "D4"); err != nil {
		t.Errorf("bind onto a seat full of an old leaked slot: %v", err)
	}
	// The crashed code was never stored, so it can be bound afresh later.
	if _, err := f.s.GetDeviceByCode(f.ctx, f.ten.ID, f.prod.ID, "D1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("device of a crashed bind: %v", err)
	}
	a, _ = f.s.GetAssignment(f.ctx, f.ten.ID, f.pool.ID, seat.UserID)
	if a.Devices != 1 {
		t.Errorf("Devices = %d, want 1", a.Devices)
	}
}

// testLeaseTakeover: a node holding the outbox lease and a claim on its
// messages dies; another node takes both over once they expire and
// delivers each message once; the first node, back, finds it lost both.
func testLeaseTakeover(t *testing.T, uri string) {
	f := newFixture(t, uri, 1, store.PolicyDeny)
	a, b := f.s, openT(t, uri, f.db)
	t0 := store.Timestamp(time.Now())
	ttl := 30 * time.Second
	for i := range 3 {
		f.must(a.Enqueue(f.ctx, &store.OutboxMessage{TenantID: f.ten.ID, Channel: "email", To: fmt.Sprintf("u%d@x", i), NextAttemptAt: t0}))
	}
	ok, err := a.AcquireLease(f.ctx, "outbox", "node-a", t0, ttl)
	f.must(err)
	if !ok {
		t.Fatal("node a did not get a free lease")
	}
	claimed, err := a.ClaimOutbox(f.ctx, "node-a", t0, ttl, 10)
	f.must(err)
	if len(claimed) != 3 {
		t.Fatalf("node a claimed %d messages, want 3", len(claimed))
	}
	f.must(a.MarkSent(f.ctx, claimed[0].ID, "node-a", t0)) // then node a dies

	t1 := t0.Add(10 * time.Second)
	if ok, _ := b.AcquireLease(f.ctx, "outbox", "node-b", t1, ttl); ok {
		t.Error("node b took an unexpired lease")
	}
	if got, _ := b.ClaimOutbox(f.ctx, "node-b", t1, ttl, 10); len(got) != 0 {
		t.Errorf("node b claimed %d messages under node a's live claim", len(got))
	}

	t2 := t0.Add(ttl + time.Second)
	if ok, err := b.AcquireLease(f.ctx, "outbox", "node-b", t2, ttl); err != nil || !ok {
		t.Fatalf("node b could not take over the expired lease: %v, %v", ok, err)
	}
	got, err := b.ClaimOutbox(f.ctx, "node-b", t2, ttl, 10)
	f.must(err)
	if len(got) != 2 {
		t.Fatalf("node b claimed %d messages, want the 2 node a left", len(got))
	}
	for _, m := range got {
		if m.ID == claimed[0].ID {
			t.Errorf("node b got the message node a had sent")
		}
		f.must(b.MarkSent(f.ctx, m.ID, "node-b", t2))
	}

	// Node a comes back.
	if ok, _ := a.AcquireLease(f.ctx, "outbox", "node-a", t2.Add(time.Second), ttl); ok {
		t.Error("node a got its lease back while node b holds it")
	}
	for _, m := range claimed[1:] {
		if err := a.MarkSent(f.ctx, m.ID, "node-a", t2); !errors.Is(err, store.ErrPrecondition) {
			t.Errorf("node a marking a message it lost: %v, want ErrPrecondition", err)
		}
	}
	for _, m := range claimed {
		msg, err := a.GetOutboxMessage(f.ctx, m.ID)
		f.must(err)
		if msg.State != store.OutboxSent || msg.Attempts != 1 {
			t.Errorf("message %s: state %s after %d attempts, want sent once", m.ID, msg.State, msg.Attempts)
		}
	}
}

// testIndexes: Open ensures the unique indexes, a second Open is a no-op,
// and an index that exists with other options fails Open.
func testIndexes(t *testing.T, uri string) {
	db := freshDB(t, uri)
	s := openT(t, uri, db)
	openT(t, uri, db) // again: nothing to do, no error
	cur, err := s.c.users.Indexes().List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var specs []bson.M
	if err := cur.All(t.Context(), &specs); err != nil {
		t.Fatal(err)
	}
	found := map[string]bson.M{}
	for _, sp := range specs {
		found[sp["name"].(string)] = sp
	}
	if sp := found["users_userName"]; sp == nil || sp["unique"] != true {
		t.Errorf("users_userName: %v, want a unique index", sp)
	}
	if sp := found["users_externalId"]; sp == nil || sp["unique"] != true || sp["partialFilterExpression"] == nil {
		t.Errorf("users_externalId: %v, want a partial unique index", sp)
	}

	other := freshDB(t, uri)
	client, err := mongodrv.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	_, err = client.Database(other).Collection(collUsers).Indexes().CreateOne(t.Context(), mongodrv.IndexModel{
		Keys: keys("tenantId", "userName"), Options: options.Index().SetName("users_userName"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), uri, other); err == nil || !strings.Contains(err.Error(), "users") {
		t.Errorf("Open over a conflicting index: %v, want an error naming it", err)
	}
}
