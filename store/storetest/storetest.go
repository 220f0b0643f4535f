// Package storetest is the conformance suite every Roster store backend
// runs, so that SQLite and MongoDB give the same answers and the same
// guarantees: CRUD of every aggregate, case-insensitive uniqueness,
// compare-and-set versions, tenant isolation, cascades, filtered and
// paged listing checked against the reference evaluator of store/filter,
// and the seat protocol under concurrency from several handles on one
// database (several Roster nodes).
//
// A backend's test is a few lines:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Opener {
//			path := filepath.Join(t.TempDir(), "roster.db")
//			return func(t *testing.T) store.Store { return openOrFatal(t, path) }
//		})
//	}
//
// The suite knows nothing of any backend. It reads store/filter only to
// compute what a filter should match.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

// Opener opens one more handle on the same database, as another Roster
// node (or a CLI beside a running server) would. It registers the
// handle's Close with t.Cleanup.
type Opener func(t *testing.T) store.Store

// SeatCrasher is implemented by a backend's test store to leave the seat
// protocol half done, as a node dying between its steps would. The
// crash-recovery test needs it and is skipped for stores without it.
type SeatCrasher interface {
	// CrashClaimSeat runs the seat protocol for a new assignment a up to
	// step and stops: after step 1 the assignment is stored pending and
	// the pool untouched; after step 2 the pool counter was incremented
	// as well.
	CrashClaimSeat(ctx context.Context, a *store.Assignment, step int) error
}

// Run runs the suite. fresh makes a new, empty database and returns the
// Opener of handles on it; every subtest starts from a fresh database.
func Run(t *testing.T, fresh func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Tenants", testTenants},
		{"Tokens", testTokens},
		{"Users", testUsers},
		{"UserRoundTrip", testUserRoundTrip},
		{"UserNameUnique", testUserNameUnique},
		{"ExternalIDUnique", testExternalIDUnique},
		{"Groups", testGroups},
		{"Members", testMembers},
		{"Products", testProducts},
		{"Pools", testPools},
		{"Rules", testRules},
		{"Seats", testSeats},
		{"SeatPolicies", testSeatPolicies},
		{"MoveSeat", testMoveSeat},
		{"SeatConcurrency", testSeatConcurrency},
		{"Recount", testRecount},
		{"Devices", testDevices},
		{"DeleteUserCascade", testDeleteUserCascade},
		{"DeleteGroupCascade", testDeleteGroupCascade},
		{"Leases", testLeases},
		{"Invitations", testInvitations},
		{"Imports", testImports},
		{"Audit", testAudit},
		{"AuditBatch", testAuditBatch},
		{"Outbox", testOutbox},
		{"OutboxConcurrentClaims", testOutboxConcurrency},
		{"WorkLeases", testWorkLeases},
		{"WorkLeaseExclusive", testWorkLeaseConcurrency},
		{"Handles", testHandles},
		{"TenantIsolation", testTenantIsolation},
		{"ListUsersFilters", testListUsersFilters},
		{"ListUsersSortAndPage", testListUsersSortPage},
		{"ListUsersScanLimit", testListUsersScanLimit},
		{"ListAcrossHandles", testListAcrossHandles},
		{"ListGroups", testListGroups},
		{"UserSearch", testUserSearch},
		{"UserSearchFresh", testUserSearchFresh},
		{"FilterScanReports", testFilterScanReports},
		{"Sessions", testSessions},
		{"SeatRequests", testSeatRequests},
		{"PoolSamples", testPoolSamples},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			open := fresh(t)
			tt.fn(t, &env{t: t, ctx: t.Context(), open: open, s: open(t)})
		})
	}
}

// env is one subtest's database: s is its first handle.
type env struct {
	t    *testing.T
	ctx  context.Context
	open Opener
	s    store.Store
}

func (e *env) must(err error, what string, args ...any) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}

func (e *env) tenant(name string) *store.Tenant {
	e.t.Helper()
	t := &store.Tenant{Name: name}
	e.must(e.s.CreateTenant(e.ctx, t), "CreateTenant(%q)", name)
	return t
}

func (e *env) user(tenantID, userName string, mods ...func(*store.User)) *store.User {
	e.t.Helper()
	u := &store.User{TenantID: tenantID, UserName: userName, Active: true}
	for _, m := range mods {
		m(u)
	}
	e.must(e.s.CreateUser(e.ctx, u), "CreateUser(%q)", userName)
	return u
}

func (e *env) group(tenantID, name string, mods ...func(*store.Group)) *store.Group {
	e.t.Helper()
	g := &store.Group{TenantID: tenantID, DisplayName: name}
	for _, m := range mods {
		m(g)
	}
	e.must(e.s.CreateGroup(e.ctx, g), "CreateGroup(%q)", name)
	return g
}

func (e *env) product(code string) *store.Product {
	e.t.Helper()
	p := &store.Product{Code: code, Name: "Product " + code}
	e.must(e.s.CreateProduct(e.ctx, p), "CreateProduct(%q)", code)
	return p
}

func (e *env) pool(tenantID, productID string, total int, mods ...func(*store.Pool)) *store.Pool {
	e.t.Helper()
	p := &store.Pool{TenantID: tenantID, ProductID: productID, Total: total, Policy: store.PolicyDeny}
	for _, m := range mods {
		m(p)
	}
	e.must(e.s.CreatePool(e.ctx, p), "CreatePool")
	return p
}

func (e *env) getPool(tenantID, id string) *store.Pool {
	e.t.Helper()
	p, err := e.s.GetPool(e.ctx, tenantID, id)
	e.must(err, "GetPool")
	return p
}

// wantErr fails unless err is (or wraps) want.
func wantErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// wantConflict fails unless err is ErrConflict on attr.
func wantConflict(t *testing.T, err error, attr, what string) {
	t.Helper()
	c, ok := store.IsConflict(err)
	if !ok || c.Attr != attr {
		t.Errorf("%s: error %v, want ErrConflict{%q}", what, err, attr)
	}
}

// wantInvalid fails unless err is ErrInvalid on field ("" accepts any).
func wantInvalid(t *testing.T, err error, field, what string) {
	t.Helper()
	c, ok := store.IsInvalid(err)
	if !ok || (field != "" && c.Field != field) {
		t.Errorf("%s: error %v, want ErrInvalid{%q}", what, err, field)
	}
}

// wantTime checks a store-filled timestamp: UTC, millisecond precision,
// within the window the call ran in.
func wantTime(t *testing.T, got, from, to time.Time, what string) {
	t.Helper()
	switch {
	case got.Location() != time.UTC:
		t.Errorf("%s = %v: not UTC", what, got)
	case !got.Equal(store.Timestamp(got)):
		t.Errorf("%s = %v: finer than milliseconds", what, got)
	case got.Before(store.Timestamp(from)) || got.After(to):
		t.Errorf("%s = %v: outside [%v, %v]", what, got, from, to)
	}
}

// same fails unless got and want are deeply equal, printing both.
func same(t *testing.T, got, want any, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}
