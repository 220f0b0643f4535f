package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/roster-scim/roster/store"
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
