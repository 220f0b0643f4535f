package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

// TestListDevicesPage pages a tenant's devices by product and code and
// filters them by product, device state and their user's seat.
func TestListDevicesPage(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tn := &store.Tenant{Name: "Acme"}
	check(s.CreateTenant(ctx, tn))
	other := &store.Tenant{Name: "Globex"}
	check(s.CreateTenant(ctx, other))
	now := time.Now()
	var prods []*store.Product
	for _, code := range []string{"alpha", "beta"} {
		p := &store.Product{Code: code, Name: code}
		check(s.CreateProduct(ctx, p))
		prods = append(prods, p)
	}
	// Pages follow product ids: "a" is the product whose id sorts first.
	slices.SortFunc(prods, func(a, b *store.Product) int { return strings.Compare(a.ID, b.ID) })
	var pools []*store.Pool
	for _, p := range prods {
		pool := &store.Pool{TenantID: tn.ID, ProductID: p.ID, Total: 2, Policy: store.PolicyDeny}
		check(s.CreatePool(ctx, pool))
		pools = append(pools, pool)
	}
	check(s.CreatePool(ctx, &store.Pool{TenantID: other.ID, ProductID: prods[0].ID, Total: 5, Policy: store.PolicyDeny}))
	// Per product: u0 binds D9 with a seat, u1 D8, then u0's seat is
	// suspended, u2 takes it and binds D7, and u0 asks again and waits.
	// In beta, u1's seat is then suspended too, and D7 is blocked.
	bind := func(tenantID string, pool *store.Pool, u *store.User, code string) {
		t.Helper()
		a := &store.Assignment{TenantID: tenantID, PoolID: pool.ID, UserID: u.ID, Sources: []string{store.SourceDirect}}
		check(s.ClaimSeat(ctx, a, now))
		check(s.BindDevice(ctx, &store.Device{TenantID: tenantID, ProductID: pool.ProductID, DeviceCode: code,
			UserID: u.ID, AssignmentID: a.ID, State: store.DeviceActive}, 0))
	}
	for pi, pool := range pools {
		var us []*store.User
		for i := range 3 {
			u := &store.User{TenantID: tn.ID, UserName: fmt.Sprintf("u%d-%d@acme.test", pi, i), Active: true}
			check(s.CreateUser(ctx, u))
			us = append(us, u)
		}
		bind(tn.ID, pool, us[0], "D9")
		bind(tn.ID, pool, us[1], "D8")
		check(s.Suspend(ctx, tn.ID, pool.ID, us[0].ID, "test"))
		bind(tn.ID, pool, us[2], "D7")
		if err := s.ClaimSeat(ctx, &store.Assignment{TenantID: tn.ID, PoolID: pool.ID, UserID: us[0].ID, Sources: []string{store.SourceDirect}}, now); !errors.Is(err, store.ErrNoSeats) {
			t.Fatalf("claim of a full pool: %v", err)
		}
		if pi == 1 {
			check(s.Suspend(ctx, tn.ID, pool.ID, us[1].ID, "test"))
			d, err := s.GetDeviceByCode(ctx, tn.ID, pool.ProductID, "D7")
			check(err)
			check(s.SetDeviceState(ctx, tn.ID, d.ID, store.DeviceBlocked))
		}
	}
	// Globex's device never shows for Acme.
	gpool, err := s.GetPoolByProduct(ctx, other.ID, prods[0].ID)
	check(err)
	gu := &store.User{TenantID: other.ID, UserName: "g@globex.test", Active: true}
	check(s.CreateUser(ctx, gu))
	bind(other.ID, gpool, gu, "D0")

	poolOf := map[string]string{}
	for _, p := range pools {
		poolOf[p.ProductID] = p.ID
	}
	seats := 0
	codes := func(q store.DeviceQuery) string {
		t.Helper()
		p, err := s.ListDevicesPage(ctx, tn.ID, q)
		check(err)
		var out []string
		for _, d := range p.Devices {
			prod := "a"
			if d.ProductID == prods[1].ID {
				prod = "b"
			}
			out = append(out, prod+":"+d.DeviceCode)
		}
		if q.License == "" && q.State == "" && q.ProductID == "" && q.Offset == 0 && q.Limit == 10 {
			// The seat read with each device is its user's in that pool.
			for i, d := range p.Devices {
				a, err := s.GetAssignment(ctx, tn.ID, poolOf[d.ProductID], d.UserID)
				if errors.Is(err, store.ErrNotFound) {
					a = nil
				} else {
					check(err)
				}
				if got := p.Seats[i]; (got == nil) != (a == nil) || got != nil && (got.ID != a.ID || got.State != a.State ||
					strings.Join(got.Sources, ",") != strings.Join(a.Sources, ",") || got.Devices != a.Devices || !got.CreatedAt.Equal(a.CreatedAt)) {
					t.Errorf("seat of %s: got %+v, want %+v", d.DeviceCode, got, a)
				}
				if a != nil {
					seats++
				}
			}
		}
		return fmt.Sprintf("%s more=%v", strings.Join(out, ","), p.More)
	}
	tests := []struct {
		q    store.DeviceQuery
		want string
	}{
		{store.DeviceQuery{Limit: 10}, "a:D7,a:D8,a:D9,b:D7,b:D8,b:D9 more=false"},
		{store.DeviceQuery{Limit: 4}, "a:D7,a:D8,a:D9,b:D7 more=true"},
		{store.DeviceQuery{Limit: 4, Offset: 4}, "b:D8,b:D9 more=false"},
		{store.DeviceQuery{Limit: 10, ProductID: prods[1].ID}, "b:D7,b:D8,b:D9 more=false"},
		{store.DeviceQuery{Limit: 10, License: store.LicenseActive}, "a:D7,a:D8,b:D7 more=false"},
		{store.DeviceQuery{Limit: 10, License: store.LicenseNone}, "a:D9,b:D8,b:D9 more=false"},
		{store.DeviceQuery{Limit: 10, License: store.LicenseWaiting, ProductID: prods[0].ID}, "a:D9 more=false"},
		{store.DeviceQuery{Limit: 10, State: store.DeviceBlocked}, "b:D7 more=false"},
	}
	for _, tt := range tests {
		if got := codes(tt.q); got != tt.want {
			t.Errorf("ListDevicesPage(%+v):\ngot  %s\nwant %s", tt.q, got, tt.want)
		}
	}
	if seats != 6 {
		t.Errorf("%d devices came with a seat, want all 6", seats)
	}
}
