package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

// TestListWaiting: the head of a pool's waiting list, oldest first, and
// how many wait, whatever the other pools and states hold.
func TestListWaiting(t *testing.T) {
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
	var pools []*store.Pool
	for _, code := range []string{"alpha", "beta"} {
		p := &store.Product{Code: code, Name: code}
		check(s.CreateProduct(ctx, p))
		pool := &store.Pool{TenantID: tn.ID, ProductID: p.ID, Total: 2, Policy: store.PolicyDeny}
		check(s.CreatePool(ctx, pool))
		pools = append(pools, pool)
	}
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	var waiting []string
	for i := range 7 {
		u := &store.User{TenantID: tn.ID, UserName: fmt.Sprintf("u%d@acme.test", i), Active: true}
		check(s.CreateUser(ctx, u))
		// Everyone asks for alpha, one a minute; the first two get seats.
		err := s.ClaimSeat(ctx, &store.Assignment{TenantID: tn.ID, PoolID: pools[0].ID, UserID: u.ID, Sources: []string{store.SourceDirect}}, now.Add(time.Duration(i)*time.Minute))
		if i >= 2 {
			if !errors.Is(err, store.ErrNoSeats) {
				t.Fatalf("claim %d of a full pool: %v", i, err)
			}
			waiting = append(waiting, u.UserName)
		} else {
			check(err)
		}
		if i < 3 { // beta: two seats, the third waits
			err := s.ClaimSeat(ctx, &store.Assignment{TenantID: tn.ID, PoolID: pools[1].ID, UserID: u.ID, Sources: []string{store.SourceDirect}}, now)
			if i == 2 && !errors.Is(err, store.ErrNoSeats) || i < 2 && err != nil {
				t.Fatalf("claim %d of beta: %v", i, err)
			}
		}
	}
	names := func(as []*store.Assignment) string {
		var out []string
		for _, a := range as {
			u, err := s.GetUser(ctx, tn.ID, a.UserID)
			check(err)
			out = append(out, u.UserName)
		}
		return strings.Join(out, ",")
	}
	for _, tt := range []struct {
		pool  *store.Pool
		limit int
		want  string
		total int
	}{
		{pools[0], 3, strings.Join(waiting[:3], ","), 5},
		{pools[0], 10, strings.Join(waiting, ","), 5},
		{pools[0], 0, "", 5},
		{pools[1], 10, "u2@acme.test", 1},
	} {
		first, total, err := s.ListWaiting(ctx, tn.ID, tt.pool.ID, tt.limit)
		check(err)
		if got := names(first); got != tt.want || total != tt.total {
			t.Errorf("ListWaiting(limit %d): got %q of %d, want %q of %d", tt.limit, got, total, tt.want, tt.total)
		}
	}
}
