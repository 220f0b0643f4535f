package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

// checkPool verifies the seat invariant: the counters equal the active
// assignments and Assigned never exceeds Total.
func (e *env) checkPool(s store.Store, tenantID, poolID string, wantAssigned, wantOverage int) {
	e.t.Helper()
	p, err := s.GetPool(e.ctx, tenantID, poolID)
	e.must(err, "GetPool")
	as, err := s.ListAssignments(e.ctx, tenantID, store.AssignmentQuery{PoolID: poolID, State: store.AssignActive})
	e.must(err, "ListAssignments(active)")
	in, over := 0, 0
	for _, a := range as {
		if a.Over {
			over++
		} else {
			in++
		}
	}
	if p.Assigned != wantAssigned || p.Overage != wantOverage || in != wantAssigned || over != wantOverage || p.Assigned > p.Total {
		e.t.Errorf("pool: Total %d Assigned %d Overage %d, active assignments %d + %d over; want Assigned %d, Overage %d",
			p.Total, p.Assigned, p.Overage, in, over, wantAssigned, wantOverage)
	}
}

func (e *env) claim(tenantID, poolID, userID string, sources ...string) (*store.Assignment, error) {
	a := &store.Assignment{TenantID: tenantID, PoolID: poolID, UserID: userID, Sources: sources}
	err := e.s.ClaimSeat(e.ctx, a, time.Now())
	return a, err
}

func testPools(t *testing.T, e *env) {
	ten := e.tenant("t")
	pr, pr2 := e.product("p1"), e.product("p2")
	ends := store.Timestamp(time.Now().Add(365 * 24 * time.Hour))
	p := &store.Pool{TenantID: ten.ID, ProductID: pr.ID, Total: 3, Assigned: 7, Overage: 2, EndsAt: ends, MaxDevicesPerSeat: 2, AutoAssign: true}
	e.must(e.s.CreatePool(e.ctx, p), "CreatePool")
	if p.ID == "" || p.Version != 1 || p.Assigned != 0 || p.Overage != 0 || p.Policy != store.PolicyDeny {
		t.Errorf("CreatePool: ID %q Version %d Assigned %d Overage %d Policy %q; want counters 0, policy deny",
			p.ID, p.Version, p.Assigned, p.Overage, p.Policy)
	}
	got := e.getPool(ten.ID, p.ID)
	same(t, got, p, "GetPool")
	got, err := e.s.GetPoolByProduct(e.ctx, ten.ID, pr.ID)
	e.must(err, "GetPoolByProduct")
	same(t, got.ID, p.ID, "GetPoolByProduct")
	wantConflict(t, e.s.CreatePool(e.ctx, &store.Pool{TenantID: ten.ID, ProductID: pr.ID, Total: 1}), "productId",
		"CreatePool(second pool of a product)")
	wantInvalid(t, e.s.CreatePool(e.ctx, &store.Pool{TenantID: ten.ID, ProductID: pr2.ID, Total: -1}), "total", "CreatePool(negative total)")
	wantInvalid(t, e.s.CreatePool(e.ctx, &store.Pool{TenantID: ten.ID, ProductID: pr2.ID, Total: 1, Policy: "maybe"}), "policy",
		"CreatePool(unknown policy)")
	p2 := e.pool(ten.ID, pr2.ID, 1, func(p *store.Pool) { p.Policy = store.PolicyAllowOver })

	us := []*store.User{e.user(ten.ID, "a"), e.user(ten.ID, "b")}
	for _, u := range us {
		_, err := e.claim(ten.ID, p.ID, u.ID)
		e.must(err, "ClaimSeat")
	}

	// Terms change under compare-and-set; counters stay.
	stale := *p
	p.Total, p.MaxDevicesPerSeat, p.Policy, p.AutoAssign = 2, 3, store.PolicyAllowOver, false
	e.must(e.s.UpdatePool(e.ctx, p), "UpdatePool")
	got = e.getPool(ten.ID, p.ID)
	same(t, got, p, "GetPool after UpdatePool")
	if got.Total != 2 || got.MaxDevicesPerSeat != 3 || got.Policy != store.PolicyAllowOver || got.AutoAssign || got.Assigned != 2 || got.Version != 2 {
		t.Errorf("after UpdatePool: %+v", got)
	}
	stale.Total = 10
	wantErr(t, e.s.UpdatePool(e.ctx, &stale), store.ErrPrecondition, "UpdatePool(stale)")

	p.Total = 1
	wantInvalid(t, e.s.UpdatePool(e.ctx, p), "total", "UpdatePool(total below assigned)")
	same(t, e.getPool(ten.ID, p.ID).Total, 2, "Total after a refused shrink")
	e.checkPool(e.s, ten.ID, p.ID, 2, 0)

	pools, err := e.s.ListPools(e.ctx, ten.ID)
	e.must(err, "ListPools")
	same(t, len(pools), 2, "ListPools count")

	e.must(e.s.DeletePool(e.ctx, ten.ID, p2.ID), "DeletePool")
	_, err = e.s.GetPool(e.ctx, ten.ID, p2.ID)
	wantErr(t, err, store.ErrNotFound, "GetPool after DeletePool")
	wantErr(t, e.s.DeletePool(e.ctx, ten.ID, p2.ID), store.ErrNotFound, "DeletePool twice")
	e.must(e.s.DeletePool(e.ctx, ten.ID, p.ID), "DeletePool(with seats)")
	as, err := e.s.ListAssignments(e.ctx, ten.ID, store.AssignmentQuery{PoolID: p.ID})
	e.must(err, "ListAssignments")
	same(t, len(as), 0, "assignments of a deleted pool")
}

func testRules(t *testing.T, e *env) {
	ten := e.tenant("t")
	g := e.group(ten.ID, "g")
	pool := e.pool(ten.ID, e.product("p").ID, 5)
	r := &store.Rule{TenantID: ten.ID, GroupID: g.ID, PoolID: pool.ID}
	e.must(e.s.CreateRule(e.ctx, r), "CreateRule")
	if r.ID == "" || r.Version != 1 || r.CreatedAt.IsZero() {
		t.Errorf("CreateRule filled %+v", r)
	}
	wantConflict(t, e.s.CreateRule(e.ctx, &store.Rule{TenantID: ten.ID, GroupID: g.ID, PoolID: pool.ID}), "rule", "CreateRule(duplicate)")
	wantInvalid(t, e.s.CreateRule(e.ctx, &store.Rule{TenantID: ten.ID, GroupID: "nope", PoolID: pool.ID}), "groupId", "CreateRule(unknown group)")
	wantInvalid(t, e.s.CreateRule(e.ctx, &store.Rule{TenantID: ten.ID, GroupID: g.ID, PoolID: "nope"}), "poolId", "CreateRule(unknown pool)")
	rules, err := e.s.ListRules(e.ctx, ten.ID)
	e.must(err, "ListRules")
	if len(rules) != 1 {
		t.Fatalf("ListRules: %d rules, want 1", len(rules))
	}
	same(t, rules[0], r, "ListRules entry")
	e.must(e.s.DeleteRule(e.ctx, ten.ID, r.ID), "DeleteRule")
	wantErr(t, e.s.DeleteRule(e.ctx, ten.ID, r.ID), store.ErrNotFound, "DeleteRule twice")
}

func testSeats(t *testing.T, e *env) {
	ten := e.tenant("t")
	pool := e.pool(ten.ID, e.product("p").ID, 2)
	ann, ben, cat, dan := e.user(ten.ID, "ann"), e.user(ten.ID, "ben"), e.user(ten.ID, "cat"), e.user(ten.ID, "dan")
	g1, g2 := store.GroupSource("g1"), store.GroupSource("g2")

	a, err := e.claim(ten.ID, pool.ID, ann.ID, g1)
	e.must(err, "ClaimSeat")
	if a.ID == "" || a.State != store.AssignActive || a.Over || a.Version == 0 || !slicesEqual(a.Sources, []string{g1}) {
		t.Errorf("ClaimSeat filled %+v", a)
	}
	got, err := e.s.GetAssignment(e.ctx, ten.ID, pool.ID, ann.ID)
	e.must(err, "GetAssignment")
	same(t, got, a, "GetAssignment")
	e.checkPool(e.s, ten.ID, pool.ID, 1, 0)

	// A second source joins the same seat.
	a, err = e.claim(ten.ID, pool.ID, ann.ID, g2, g1)
	e.must(err, "ClaimSeat(second source)")
	same(t, a.Sources, []string{g1, g2}, "sources merged")
	e.checkPool(e.s, ten.ID, pool.ID, 1, 0)

	_, err = e.claim(ten.ID, pool.ID, ben.ID, store.SourceDirect)
	e.must(err, "ClaimSeat(ben)")
	e.checkPool(e.s, ten.ID, pool.ID, 2, 0)

	// Full: cat and then dan wait, first come first served.
	w, err := e.claim(ten.ID, pool.ID, cat.ID, g1)
	wantErr(t, err, store.ErrNoSeats, "ClaimSeat on a full pool")
	if w.State != store.AssignWaiting || w.Reason != "no seats" || w.ID == "" {
		t.Errorf("waiting assignment = %+v, want state waiting, reason \"no seats\"", w)
	}
	time.Sleep(2 * time.Millisecond)
	_, err = e.claim(ten.ID, pool.ID, dan.ID, g1)
	wantErr(t, err, store.ErrNoSeats, "ClaimSeat(dan) on a full pool")
	got, err = e.s.GetAssignment(e.ctx, ten.ID, pool.ID, cat.ID)
	e.must(err, "GetAssignment(waiting)")
	same(t, got.State, store.AssignWaiting, "stored state of a waiting assignment")
	waiting, err := e.s.ListAssignments(e.ctx, ten.ID, store.AssignmentQuery{PoolID: pool.ID, State: store.AssignWaiting})
	e.must(err, "ListAssignments(waiting)")
	if len(waiting) != 2 || waiting[0].UserID != cat.ID || waiting[1].UserID != dan.ID {
		t.Errorf("waiting list = %v, want cat then dan", assignmentUsers(waiting))
	}
	e.checkPool(e.s, ten.ID, pool.ID, 2, 0)

	// Trying again while still full keeps the place in the queue.
	w2, err := e.claim(ten.ID, pool.ID, cat.ID, g2)
	wantErr(t, err, store.ErrNoSeats, "ClaimSeat(cat) again")
	same(t, w2.CreatedAt, w.CreatedAt, "CreatedAt of a waiting assignment that asked again")

	// Releasing one of two sources keeps the seat.
	a, err = e.s.ReleaseSource(e.ctx, ten.ID, pool.ID, ann.ID, g1)
	e.must(err, "ReleaseSource(g1)")
	if a == nil || !slicesEqual(a.Sources, []string{g2}) || a.State != store.AssignActive {
		t.Errorf("ReleaseSource(one of two) = %+v", a)
	}
	e.checkPool(e.s, ten.ID, pool.ID, 2, 0)
	// Releasing a source it does not have changes nothing.
	a, err = e.s.ReleaseSource(e.ctx, ten.ID, pool.ID, ann.ID, "group:other")
	e.must(err, "ReleaseSource(absent source)")
	if a == nil || a.State != store.AssignActive {
		t.Errorf("ReleaseSource(absent source) = %+v", a)
	}
	// The last source returns the seat.
	a, err = e.s.ReleaseSource(e.ctx, ten.ID, pool.ID, ann.ID, g2)
	e.must(err, "ReleaseSource(last)")
	if a != nil {
		t.Errorf("ReleaseSource(last source) returned %+v, want nil", a)
	}
	_, err = e.s.GetAssignment(e.ctx, ten.ID, pool.ID, ann.ID)
	wantErr(t, err, store.ErrNotFound, "GetAssignment after the last source went")
	e.checkPool(e.s, ten.ID, pool.ID, 1, 0)
	_, err = e.s.ReleaseSource(e.ctx, ten.ID, pool.ID, ann.ID, g2)
	wantErr(t, err, store.ErrNotFound, "ReleaseSource(no assignment)")

	// The first waiting user can now take the freed seat.
	a, err = e.claim(ten.ID, pool.ID, cat.ID, g1)
	e.must(err, "ClaimSeat(cat) after a seat freed")
	if a.State != store.AssignActive || a.Reason != "" || !slicesEqual(a.Sources, []string{g1, g2}) {
		t.Errorf("reactivated waiting assignment = %+v", a)
	}
	same(t, a.CreatedAt, w.CreatedAt, "CreatedAt kept on activation")
	e.checkPool(e.s, ten.ID, pool.ID, 2, 0)

	// Suspend returns the seat and keeps the sources.
	e.must(e.s.Suspend(e.ctx, ten.ID, pool.ID, cat.ID, "user inactive"), "Suspend")
	got, _ = e.s.GetAssignment(e.ctx, ten.ID, pool.ID, cat.ID)
	if got.State != store.AssignSuspended || got.Reason != "user inactive" || !slicesEqual(got.Sources, []string{g1, g2}) {
		t.Errorf("suspended assignment = %+v", got)
	}
	e.checkPool(e.s, ten.ID, pool.ID, 1, 0)
	wantErr(t, e.s.Suspend(e.ctx, ten.ID, pool.ID, ann.ID, "x"), store.ErrNotFound, "Suspend(no assignment)")
	a, err = e.claim(ten.ID, pool.ID, cat.ID, g1)
	e.must(err, "ClaimSeat reactivates a suspended assignment")
	same(t, a.State, store.AssignActive, "state after reactivation")
	e.checkPool(e.s, ten.ID, pool.ID, 2, 0)

	// No sources given means a direct assignment.
	e.must(e.s.Suspend(e.ctx, ten.ID, pool.ID, ben.ID, "user inactive"), "Suspend(ben)")
	a, err = e.claim(ten.ID, pool.ID, ann.ID)
	e.must(err, "ClaimSeat(no sources)")
	same(t, a.Sources, []string{store.SourceDirect}, "sources of a claim without any")

	_, err = e.claim(ten.ID, pool.ID, "no-such-user")
	wantInvalid(t, err, "userId", "ClaimSeat(unknown user)")
	_, err = e.claim(ten.ID, "no-such-pool", ann.ID)
	wantErr(t, err, store.ErrNotFound, "ClaimSeat(unknown pool)")
	all, err := e.s.ListAssignments(e.ctx, ten.ID, store.AssignmentQuery{UserID: ann.ID})
	e.must(err, "ListAssignments(user)")
	same(t, len(all), 1, "ann's assignments")
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func assignmentUsers(as []*store.Assignment) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.UserID)
	}
	return out
}

func testSeatPolicies(t *testing.T, e *env) {
	ten := e.tenant("t")
	now := time.Now()
	over := e.pool(ten.ID, e.product("over").ID, 1, func(p *store.Pool) { p.Policy = store.PolicyAllowOver })
	ended := e.pool(ten.ID, e.product("ended").ID, 5, func(p *store.Pool) {
		p.StartsAt, p.EndsAt = now.Add(-48*time.Hour), now.Add(-time.Hour)
	})
	future := e.pool(ten.ID, e.product("future").ID, 5, func(p *store.Pool) { p.StartsAt = now.Add(time.Hour) })
	ann, ben, cat := e.user(ten.ID, "ann"), e.user(ten.ID, "ben"), e.user(ten.ID, "cat")

	_, err := e.claim(ten.ID, over.ID, ann.ID)
	e.must(err, "ClaimSeat")
	b, err := e.claim(ten.ID, over.ID, ben.ID)
	e.must(err, "ClaimSeat beyond Total with allow-over")
	if b.State != store.AssignActive || !b.Over {
		t.Errorf("overage assignment = %+v, want active and Over", b)
	}
	_, err = e.claim(ten.ID, over.ID, cat.ID)
	e.must(err, "ClaimSeat beyond Total with allow-over")
	e.checkPool(e.s, ten.ID, over.ID, 1, 2)
	// Releasing an overage seat decrements the overage.
	_, err = e.s.ReleaseSource(e.ctx, ten.ID, over.ID, ben.ID, store.SourceDirect)
	e.must(err, "ReleaseSource(overage)")
	e.checkPool(e.s, ten.ID, over.ID, 1, 1)
	e.must(e.s.Suspend(e.ctx, ten.ID, over.ID, cat.ID, "inactive"), "Suspend(overage)")
	e.checkPool(e.s, ten.ID, over.ID, 1, 0)

	for _, p := range []*store.Pool{ended, future} {
		_, err := e.claim(ten.ID, p.ID, ann.ID)
		wantErr(t, err, store.ErrExpired, "ClaimSeat outside the pool's validity")
		_, err = e.s.GetAssignment(e.ctx, ten.ID, p.ID, ann.ID)
		wantErr(t, err, store.ErrNotFound, "assignment written by a refused claim")
		e.checkPool(e.s, ten.ID, p.ID, 0, 0)
	}
	// The validity window is judged at the time given.
	a := &store.Assignment{TenantID: ten.ID, PoolID: future.ID, UserID: ann.ID}
	e.must(e.s.ClaimSeat(e.ctx, a, now.Add(2*time.Hour)), "ClaimSeat once the pool started")
}

func testMoveSeat(t *testing.T, e *env) {
	ten := e.tenant("t")
	pool := e.pool(ten.ID, e.product("p").ID, 2)
	ann, ben, cat, dan := e.user(ten.ID, "ann"), e.user(ten.ID, "ben"), e.user(ten.ID, "cat"), e.user(ten.ID, "dan")
	_, err := e.claim(ten.ID, pool.ID, ann.ID, store.GroupSource("g"))
	e.must(err, "ClaimSeat(ann)")
	_, err = e.claim(ten.ID, pool.ID, ben.ID)
	e.must(err, "ClaimSeat(ben)")
	_, err = e.claim(ten.ID, pool.ID, cat.ID)
	wantErr(t, err, store.ErrNoSeats, "ClaimSeat(cat) on a full pool")

	// To a user with no assignment.
	to, err := e.s.MoveSeat(e.ctx, ten.ID, pool.ID, ann.ID, dan.ID)
	e.must(err, "MoveSeat")
	if to == nil || to.UserID != dan.ID || to.State != store.AssignActive {
		t.Fatalf("MoveSeat returned %+v", to)
	}
	_, err = e.s.GetAssignment(e.ctx, ten.ID, pool.ID, ann.ID)
	wantErr(t, err, store.ErrNotFound, "mover's assignment after MoveSeat")
	e.checkPool(e.s, ten.ID, pool.ID, 2, 0)

	// To a waiting user: the waiting assignment becomes the seat.
	to, err = e.s.MoveSeat(e.ctx, ten.ID, pool.ID, ben.ID, cat.ID)
	e.must(err, "MoveSeat to a waiting user")
	if to.State != store.AssignActive || to.Reason != "" {
		t.Errorf("MoveSeat to a waiting user: %+v", to)
	}
	e.checkPool(e.s, ten.ID, pool.ID, 2, 0)

	// Refusals change nothing.
	_, err = e.s.MoveSeat(e.ctx, ten.ID, pool.ID, cat.ID, dan.ID)
	wantInvalid(t, err, "", "MoveSeat to a user who holds a seat")
	_, err = e.s.MoveSeat(e.ctx, ten.ID, pool.ID, ann.ID, ben.ID)
	wantErr(t, err, store.ErrNotFound, "MoveSeat from a user without a seat")
	_, err = e.s.MoveSeat(e.ctx, ten.ID, pool.ID, cat.ID, "no-such-user")
	wantInvalid(t, err, "", "MoveSeat to an unknown user")
	e.checkPool(e.s, ten.ID, pool.ID, 2, 0)
	for _, u := range []*store.User{cat, dan} {
		a, err := e.s.GetAssignment(e.ctx, ten.ID, pool.ID, u.ID)
		e.must(err, "GetAssignment")
		same(t, a.State, store.AssignActive, "state of "+u.UserName+" after refused moves")
	}
}

// testSeatConcurrency is the seat protocol's proof: three handles (three
// nodes) and 64 concurrent claims on a 10-seat pool.
func testSeatConcurrency(t *testing.T, e *env) {
	const claims, seats = 64, 10
	ten := e.tenant("t")
	pool := e.pool(ten.ID, e.product("p").ID, seats)
	users := make([]*store.User, claims)
	for i := range users {
		users[i] = e.user(ten.ID, fmt.Sprintf("user%02d", i))
	}
	handles := []store.Store{e.s, e.open(t), e.open(t)}

	var (
		wg                  sync.WaitGroup
		mu                  sync.Mutex
		granted, noSeats    int
		other               []error
		start               = make(chan struct{})
		grantedIDs, waiting = map[string]bool{}, map[string]bool{}
	)
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a := &store.Assignment{TenantID: ten.ID, PoolID: pool.ID, UserID: u.ID, Sources: []string{store.SourceDirect}}
			err := handles[i%len(handles)].ClaimSeat(e.ctx, a, time.Now())
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				granted++
				grantedIDs[u.ID] = true
			case errors.Is(err, store.ErrNoSeats):
				noSeats++
				waiting[u.ID] = true
			default:
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("%d claims failed with errors other than ErrNoSeats, first: %v", len(other), other[0])
	}
	if granted != seats || noSeats != claims-seats {
		t.Fatalf("%d claims granted, %d refused with ErrNoSeats; want %d and %d", granted, noSeats, seats, claims-seats)
	}
	for _, h := range handles {
		e.checkPool(h, ten.ID, pool.ID, seats, 0)
	}
	active, err := e.s.ListAssignments(e.ctx, ten.ID, store.AssignmentQuery{PoolID: pool.ID, State: store.AssignActive})
	e.must(err, "ListAssignments(active)")
	for _, a := range active {
		if !grantedIDs[a.UserID] {
			t.Errorf("user %s is active but its claim was refused", a.UserID)
		}
	}
	ws, err := e.s.ListAssignments(e.ctx, ten.ID, store.AssignmentQuery{PoolID: pool.ID, State: store.AssignWaiting})
	e.must(err, "ListAssignments(waiting)")
	if len(ws) != claims-seats {
		t.Errorf("%d waiting assignments, want %d", len(ws), claims-seats)
	}
	for _, a := range ws {
		if !waiting[a.UserID] || a.Reason != "no seats" {
			t.Errorf("waiting assignment %+v: its claim was granted or its reason is wrong", a)
		}
	}
}

func testRecount(t *testing.T, e *env) {
	crasher, ok := e.s.(SeatCrasher)
	if !ok {
		t.Skip("store does not implement storetest.SeatCrasher")
	}
	ten := e.tenant("t")
	pool := e.pool(ten.ID, e.product("p").ID, 3)
	ann, ben, cat, dan := e.user(ten.ID, "ann"), e.user(ten.ID, "ben"), e.user(ten.ID, "cat"), e.user(ten.ID, "dan")
	_, err := e.claim(ten.ID, pool.ID, ann.ID)
	e.must(err, "ClaimSeat")

	n, err := e.s.Recount(e.ctx, ten.ID, pool.ID)
	e.must(err, "Recount(consistent pool)")
	same(t, n, 0, "corrections on a consistent pool")

	// A node died after writing ben's pending assignment (step 1) and
	// another after also counting cat's seat (step 2).
	e.must(crasher.CrashClaimSeat(e.ctx, &store.Assignment{TenantID: ten.ID, PoolID: pool.ID, UserID: ben.ID, Sources: []string{store.SourceDirect}}, 1),
		"CrashClaimSeat(step 1)")
	e.must(crasher.CrashClaimSeat(e.ctx, &store.Assignment{TenantID: ten.ID, PoolID: pool.ID, UserID: cat.ID, Sources: []string{store.SourceDirect}}, 2),
		"CrashClaimSeat(step 2)")
	p := e.getPool(ten.ID, pool.ID)
	same(t, p.Assigned, 2, "Assigned after the crashes (ann + cat's counted seat)")

	n, err = e.s.Recount(e.ctx, ten.ID, pool.ID)
	e.must(err, "Recount")
	if n == 0 {
		t.Errorf("Recount of a pool with leftover pending assignments reported no correction")
	}
	e.checkPool(e.s, ten.ID, pool.ID, 3, 0)
	for _, u := range []*store.User{ben, cat} {
		a, err := e.s.GetAssignment(e.ctx, ten.ID, pool.ID, u.ID)
		e.must(err, "GetAssignment")
		same(t, a.State, store.AssignActive, "pending assignment after Recount")
	}
	n, err = e.s.Recount(e.ctx, ten.ID, pool.ID)
	e.must(err, "Recount again")
	same(t, n, 0, "corrections on a second Recount")

	// With the pool full, a leftover pending claim waits.
	e.must(crasher.CrashClaimSeat(e.ctx, &store.Assignment{TenantID: ten.ID, PoolID: pool.ID, UserID: dan.ID, Sources: []string{store.SourceDirect}}, 1),
		"CrashClaimSeat(full pool)")
	_, err = e.s.Recount(e.ctx, ten.ID, pool.ID)
	e.must(err, "Recount(full pool)")
	a, err := e.s.GetAssignment(e.ctx, ten.ID, pool.ID, dan.ID)
	e.must(err, "GetAssignment")
	if a.State != store.AssignWaiting || a.Reason != "no seats" {
		t.Errorf("pending claim on a full pool after Recount = %+v, want waiting", a)
	}
	e.checkPool(e.s, ten.ID, pool.ID, 3, 0)
	_, err = e.s.Recount(e.ctx, ten.ID, "missing")
	wantErr(t, err, store.ErrNotFound, "Recount(missing pool)")
}

func testDevices(t *testing.T, e *env) {
	ten := e.tenant("t")
	pr, pr2 := e.product("p"), e.product("p2")
	pool := e.pool(ten.ID, pr.ID, 5, func(p *store.Pool) { p.MaxDevicesPerSeat = 2 })
	pool2 := e.pool(ten.ID, pr2.ID, 5)
	ann, ben := e.user(ten.ID, "ann"), e.user(ten.ID, "ben")
	seat, err := e.claim(ten.ID, pool.ID, ann.ID)
	e.must(err, "ClaimSeat(ann)")
	bseat, err := e.claim(ten.ID, pool.ID, ben.ID)
	e.must(err, "ClaimSeat(ben)")
	seat2, err := e.claim(ten.ID, pool2.ID, ann.ID)
	e.must(err, "ClaimSeat(ann, p2)")

	bind := func(user *store.User, a *store.Assignment, productID, code string) (*store.Device, error) {
		d := &store.Device{TenantID: ten.ID, ProductID: productID, DeviceCode: code, Name: code + " laptop", UserID: user.ID, AssignmentID: a.ID}
		return d, e.s.BindDevice(e.ctx, d, 2)
	}
	d1, err := bind(ann, seat, pr.ID, "DEV-1")
	e.must(err, "BindDevice")
	if d1.ID == "" || d1.State != store.DeviceActive || d1.Version != 1 || d1.LastSeenAt.IsZero() {
		t.Errorf("BindDevice filled %+v", d1)
	}
	got, err := e.s.GetDevice(e.ctx, ten.ID, d1.ID)
	e.must(err, "GetDevice")
	same(t, got, d1, "GetDevice")
	got, err = e.s.GetDeviceByCode(e.ctx, ten.ID, pr.ID, "DEV-1")
	e.must(err, "GetDeviceByCode")
	same(t, got.ID, d1.ID, "GetDeviceByCode")
	_, err = bind(ann, seat, pr.ID, "DEV-2")
	e.must(err, "BindDevice(second)")

	// Same code, same user: a refresh, not a new slot.
	again, err := bind(ann, seat, pr.ID, "DEV-1")
	e.must(err, "BindDevice(same code again)")
	same(t, again.ID, d1.ID, "device id after binding the same code again")
	if again.Version <= d1.Version {
		t.Errorf("re-binding did not bump the device version")
	}
	a, _ := e.s.GetAssignment(e.ctx, ten.ID, pool.ID, ann.ID)
	same(t, a.Devices, 2, "devices on the seat")

	_, err = bind(ann, seat, pr.ID, "DEV-3")
	wantErr(t, err, store.ErrDeviceLimit, "BindDevice beyond maxPerSeat")
	_, err = bind(ben, bseat, pr.ID, "DEV-1")
	wantConflict(t, err, "deviceCode", "BindDevice(code bound by another user)")
	// The same code for another product is another device.
	_, err = bind(ann, seat2, pr2.ID, "DEV-1")
	e.must(err, "BindDevice(same code, other product)")

	// Blocking frees the slot; unblocking needs it back.
	e.must(e.s.SetDeviceState(e.ctx, ten.ID, d1.ID, store.DeviceBlocked), "SetDeviceState(blocked)")
	got, _ = e.s.GetDevice(e.ctx, ten.ID, d1.ID)
	same(t, got.State, store.DeviceBlocked, "state after blocking")
	d3, err := bind(ann, seat, pr.ID, "DEV-3")
	e.must(err, "BindDevice after blocking one")
	wantErr(t, e.s.SetDeviceState(e.ctx, ten.ID, d1.ID, store.DeviceActive), store.ErrDeviceLimit, "unblocking onto a full seat")
	_, err = bind(ann, seat, pr.ID, "DEV-1")
	wantInvalid(t, err, "deviceCode", "BindDevice(blocked device)")
	wantInvalid(t, e.s.SetDeviceState(e.ctx, ten.ID, d1.ID, "lost"), "state", "SetDeviceState(unknown state)")

	// Unbinding deletes the device and frees its slot.
	e.must(e.s.UnbindDevice(e.ctx, ten.ID, d3.ID), "UnbindDevice")
	_, err = e.s.GetDevice(e.ctx, ten.ID, d3.ID)
	wantErr(t, err, store.ErrNotFound, "GetDevice after UnbindDevice")
	wantErr(t, e.s.UnbindDevice(e.ctx, ten.ID, d3.ID), store.ErrNotFound, "UnbindDevice twice")
	e.must(e.s.SetDeviceState(e.ctx, ten.ID, d1.ID, store.DeviceActive), "SetDeviceState(active) with a free slot")

	// Seats that are not the user's or not active refuse devices.
	_, err = bind(ann, bseat, pr.ID, "DEV-9")
	wantInvalid(t, err, "", "BindDevice to another user's seat")
	e.must(e.s.Suspend(e.ctx, ten.ID, pool.ID, ben.ID, "inactive"), "Suspend(ben)")
	_, err = bind(ben, bseat, pr.ID, "DEV-9")
	wantInvalid(t, err, "", "BindDevice to a suspended seat")
	_, err = bind(ann, &store.Assignment{ID: "missing"}, pr.ID, "DEV-9")
	wantErr(t, err, store.ErrNotFound, "BindDevice to a missing assignment")

	list, err := e.s.ListDevices(e.ctx, ten.ID, ann.ID)
	e.must(err, "ListDevices(ann)")
	same(t, len(list), 3, "ann's devices")
	list, err = e.s.ListDevices(e.ctx, ten.ID, ben.ID)
	e.must(err, "ListDevices(ben)")
	same(t, len(list), 0, "ben's devices")
	list, err = e.s.ListDevices(e.ctx, ten.ID, "")
	e.must(err, "ListDevices(all)")
	same(t, len(list), 3, "tenant's devices")

	// Releasing the seat unbinds its devices: the code becomes free.
	_, err = e.s.ReleaseSource(e.ctx, ten.ID, pool.ID, ann.ID, store.SourceDirect)
	e.must(err, "ReleaseSource")
	got, err = e.s.GetDeviceByCode(e.ctx, ten.ID, pr.ID, "DEV-2")
	e.must(err, "GetDeviceByCode after the seat went")
	same(t, got.AssignmentID, "", "AssignmentID of a device whose seat went")
	_, err = e.claim(ten.ID, pool.ID, ben.ID)
	e.must(err, "ClaimSeat(ben) again")
	bseat, _ = e.s.GetAssignment(e.ctx, ten.ID, pool.ID, ben.ID)
	d, err := bind(ben, bseat, pr.ID, "DEV-2")
	e.must(err, "BindDevice(unbound code, other user)")
	same(t, d.UserID, ben.ID, "new owner of an unbound code")

	// Deleting a pool leaves its devices, unbound.
	e.must(e.s.DeletePool(e.ctx, ten.ID, pool2.ID), "DeletePool")
	got, err = e.s.GetDeviceByCode(e.ctx, ten.ID, pr2.ID, "DEV-1")
	e.must(err, "GetDeviceByCode after DeletePool")
	same(t, got.AssignmentID, "", "AssignmentID of a device whose pool was deleted")
}

func testDeleteUserCascade(t *testing.T, e *env) {
	ten := e.tenant("t")
	pr, pr2 := e.product("p"), e.product("p2")
	pool := e.pool(ten.ID, pr.ID, 1)
	over := e.pool(ten.ID, pr2.ID, 0, func(p *store.Pool) { p.Policy = store.PolicyAllowOver })
	ann, ben, cat := e.user(ten.ID, "ann"), e.user(ten.ID, "ben"), e.user(ten.ID, "cat")
	g1, g2 := e.group(ten.ID, "g1"), e.group(ten.ID, "g2")
	for _, g := range []*store.Group{g1, g2} {
		_, err := e.s.AddMembers(e.ctx, ten.ID, g.ID, 0, []store.Member{{MemberID: ann.ID}, {MemberID: ben.ID}})
		e.must(err, "AddMembers")
	}
	g1v, _ := e.s.GetGroup(e.ctx, ten.ID, g1.ID)
	seat, err := e.claim(ten.ID, pool.ID, ann.ID)
	e.must(err, "ClaimSeat(ann)")
	_, err = e.claim(ten.ID, over.ID, ann.ID)
	e.must(err, "ClaimSeat(ann, overage)")
	_, err = e.claim(ten.ID, pool.ID, ben.ID)
	wantErr(t, err, store.ErrNoSeats, "ClaimSeat(ben)")
	d := &store.Device{TenantID: ten.ID, ProductID: pr.ID, DeviceCode: "D1", UserID: ann.ID, AssignmentID: seat.ID}
	e.must(e.s.BindDevice(e.ctx, d, 0), "BindDevice")
	inv := &store.Invitation{TenantID: ten.ID, UserID: ann.ID, Kind: store.InviteActivate, TokenHash: "inv-ann", ExpiresAt: time.Now().Add(time.Hour)}
	e.must(e.s.CreateInvitation(e.ctx, inv), "CreateInvitation")
	// cat waits for nothing and keeps everything.
	e.must(e.s.DeleteUser(e.ctx, ten.ID, ann.ID, 0), "DeleteUser")

	for _, g := range []*store.Group{g1, g2} {
		same(t, e.memberIDs(ten.ID, g.ID, 10), []string{ben.ID}, "members after DeleteUser")
	}
	got, _ := e.s.GetGroup(e.ctx, ten.ID, g1.ID)
	if got.Version <= g1v.Version {
		t.Errorf("group version %d not bumped past %d when a member was deleted", got.Version, g1v.Version)
	}
	refs, err := e.s.GroupsOf(e.ctx, ten.ID, ann.ID)
	e.must(err, "GroupsOf")
	same(t, len(refs), 0, "groups of a deleted user")
	as, err := e.s.ListAssignments(e.ctx, ten.ID, store.AssignmentQuery{UserID: ann.ID})
	e.must(err, "ListAssignments")
	same(t, len(as), 0, "assignments of a deleted user")
	e.checkPool(e.s, ten.ID, pool.ID, 0, 0)
	e.checkPool(e.s, ten.ID, over.ID, 0, 0)
	_, err = e.s.GetDevice(e.ctx, ten.ID, d.ID)
	wantErr(t, err, store.ErrNotFound, "device of a deleted user")
	devs, err := e.s.ListDevices(e.ctx, ten.ID, ann.ID)
	e.must(err, "ListDevices")
	same(t, len(devs), 0, "devices of a deleted user")
	_, err = e.s.InvitationByHash(e.ctx, "inv-ann")
	wantErr(t, err, store.ErrNotFound, "invitation of a deleted user")

	// ben's waiting claim is untouched and can now take the freed seat.
	a, err := e.claim(ten.ID, pool.ID, ben.ID)
	e.must(err, "ClaimSeat(ben) after ann was deleted")
	same(t, a.State, store.AssignActive, "ben's state")
	_, err = e.s.GetUser(e.ctx, ten.ID, cat.ID)
	e.must(err, "GetUser(cat)")
}
