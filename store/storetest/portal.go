package storetest

import (
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

func testSessions(t *testing.T, e *env) {
	now := store.Timestamp(time.Now())
	s := &store.Session{Hash: "h1", Subject: "sub-1", Email: "ada@x.io", Name: "Ada", Role: store.RoleTenantAdmin,
		TenantID: "t1", IDToken: "raw", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	e.must(e.s.CreateSession(e.ctx, s), "CreateSession")
	wantConflict(t, e.s.CreateSession(e.ctx, &store.Session{Hash: "h1", ExpiresAt: now}), "hash", "CreateSession with a used hash")
	other := e.open(t) // another node sees the session
	got, err := other.GetSession(e.ctx, "h1")
	e.must(err, "GetSession on another handle")
	same(t, got, s, "GetSession")
	later := now.Add(10 * time.Minute)
	e.must(e.s.TouchSession(e.ctx, "h1", later), "TouchSession")
	got, _ = e.s.GetSession(e.ctx, "h1")
	same(t, got.LastSeenAt, later, "LastSeenAt after TouchSession")
	wantErr(t, e.s.TouchSession(e.ctx, "nope", later), store.ErrNotFound, "TouchSession(unknown)")

	old := &store.Session{Hash: "h2", Subject: "s2", Role: store.RoleOperator, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(-time.Minute)}
	e.must(e.s.CreateSession(e.ctx, old), "CreateSession(expired)")
	n, err := e.s.DeleteExpiredSessions(e.ctx, now)
	e.must(err, "DeleteExpiredSessions")
	same(t, n, 1, "expired sessions removed")
	_, err = e.s.GetSession(e.ctx, "h2")
	wantErr(t, err, store.ErrNotFound, "GetSession after expiry sweep")
	e.must(e.s.DeleteSession(e.ctx, "h1"), "DeleteSession")
	_, err = other.GetSession(e.ctx, "h1")
	wantErr(t, err, store.ErrNotFound, "GetSession after logout, on another node")
}

func testSeatRequests(t *testing.T, e *env) {
	ten, other := e.tenant("t"), e.tenant("other")
	pool := e.pool(ten.ID, e.product("p").ID, 5)
	wantInvalid(t, e.s.CreateSeatRequest(e.ctx, &store.SeatRequest{TenantID: ten.ID, PoolID: pool.ID, Seats: 0}), "seats", "CreateSeatRequest(0 seats)")
	wantInvalid(t, e.s.CreateSeatRequest(e.ctx, &store.SeatRequest{TenantID: other.ID, PoolID: pool.ID, Seats: 3}), "poolId", "CreateSeatRequest for another tenant's pool")
	r1 := &store.SeatRequest{TenantID: ten.ID, PoolID: pool.ID, Seats: 3, Note: "new hires", RequestedBy: "admin:ada"}
	e.must(e.s.CreateSeatRequest(e.ctx, r1), "CreateSeatRequest")
	same(t, r1.State, store.RequestPending, "new request state")
	same(t, r1.Version, int64(1), "new request version")
	r2 := &store.SeatRequest{TenantID: ten.ID, PoolID: pool.ID, Seats: 1, RequestedBy: "admin:ada"}
	e.must(e.s.CreateSeatRequest(e.ctx, r2), "CreateSeatRequest")

	got, err := e.s.GetSeatRequest(e.ctx, ten.ID, r1.ID)
	e.must(err, "GetSeatRequest")
	same(t, got, r1, "GetSeatRequest")
	_, err = e.s.GetSeatRequest(e.ctx, other.ID, r1.ID)
	wantErr(t, err, store.ErrNotFound, "GetSeatRequest through another tenant")

	stale := *got
	got.State, got.DecidedBy, got.DecidedAt = store.RequestApproved, "operator:root", store.Timestamp(time.Now())
	e.must(e.s.UpdateSeatRequest(e.ctx, got), "UpdateSeatRequest")
	same(t, got.Version, int64(2), "version after decision")
	stale.State = store.RequestRejected
	wantErr(t, e.s.UpdateSeatRequest(e.ctx, &stale), store.ErrPrecondition, "UpdateSeatRequest with a stale version")

	pending, err := e.s.ListSeatRequests(e.ctx, ten.ID, store.RequestPending)
	e.must(err, "ListSeatRequests(pending)")
	if len(pending) != 1 || pending[0].ID != r2.ID {
		t.Errorf("pending requests = %v, want only %s", ids(pending, func(r *store.SeatRequest) string { return r.ID }), r2.ID)
	}
	all, err := e.s.ListSeatRequests(e.ctx, "", "")
	e.must(err, "ListSeatRequests(all tenants)")
	same(t, len(all), 2, "requests across tenants")
	none, _ := e.s.ListSeatRequests(e.ctx, other.ID, "")
	same(t, len(none), 0, "another tenant's requests")
}

func testPoolSamples(t *testing.T, e *env) {
	t0 := store.Timestamp(time.Now().Add(-3 * time.Hour))
	for i := range 3 {
		e.must(e.s.AddPoolSample(e.ctx, &store.PoolSample{TenantID: "t", PoolID: "p", At: t0.Add(time.Duration(i) * time.Hour), Total: 10, Assigned: i, Waiting: 1}), "AddPoolSample")
	}
	e.must(e.s.AddPoolSample(e.ctx, &store.PoolSample{TenantID: "other", PoolID: "p", At: t0, Total: 1}), "AddPoolSample(other tenant)")
	got, err := e.s.PoolSamples(e.ctx, "t", "p", t0.Add(time.Hour))
	e.must(err, "PoolSamples")
	if len(got) != 2 || got[0].Assigned != 1 || got[1].Assigned != 2 || !got[0].At.Equal(t0.Add(time.Hour)) {
		t.Errorf("PoolSamples since the second sample = %+v, want samples 1 and 2 oldest first", got)
	}
}
