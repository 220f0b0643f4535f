package sqlite

import (
	"context"

	"github.com/roster-scim/roster/store"
)

var _ store.WaitingLister = (*Store)(nil)

// ListWaiting counts the pool's waiting assignments and reads the oldest
// limit of them, in one read transaction so the two agree.
func (s *Store) ListWaiting(ctx context.Context, tenantID, poolID string, limit int) ([]*store.Assignment, int, error) {
	var first []*store.Assignment
	var total int
	err := s.read(ctx, func(tx *rtx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM assignments WHERE tenant_id = ? AND pool_id = ? AND state = 'waiting'`,
			tenantID, poolID).Scan(&total); err != nil {
			return err
		}
		if total == 0 || limit <= 0 {
			return nil
		}
		var err error
		first, err = list(ctx, tx, scanAssignment, `SELECT `+assignCols+` FROM assignments a
			WHERE a.tenant_id = ? AND a.pool_id = ? AND a.state = 'waiting' ORDER BY a.created, a.id LIMIT ?`, tenantID, poolID, limit)
		return err
	})
	return first, total, err
}
