package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

// The seat protocol of DESIGN.md §3 needs no steps on SQLite: each intent
// is one BEGIN IMMEDIATE transaction, so the pending state never outlives
// a transaction and a crash rolls the whole intent back. The pool counter
// still moves only through "UPDATE ... WHERE assigned < total", and the
// CHECK on pools refuses anything else.

const assignCols = `a.tenant_id, a.id, a.pool_id, a.user_id, a.state, a.reason, a.sources, a.over, a.version, a.created, a.updated,
	(SELECT COUNT(*) FROM devices d WHERE d.tenant_id = a.tenant_id AND d.assignment_id = a.id AND d.state = 'active')`

func scanAssignment(sc scanner) (*store.Assignment, error) {
	a := new(store.Assignment)
	var sources string
	var created, updated int64
	if err := sc.Scan(&a.TenantID, &a.ID, &a.PoolID, &a.UserID, &a.State, &a.Reason, &sources, &a.Over,
		&a.Version, &created, &updated, &a.Devices); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(sources), &a.Sources); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = msTime(created), msTime(updated)
	return a, nil
}

const getAssignmentSQL = `SELECT ` + assignCols + ` FROM assignments a
		WHERE a.tenant_id = ? AND a.pool_id = ? AND a.user_id = ?`

func getAssignment(ctx context.Context, q queryer, tenantID, poolID, userID string) (*store.Assignment, error) {
	return scanAssignment(q.QueryRowContext(ctx, getAssignmentSQL, tenantID, poolID, userID))
}

func sourcesJSON(src []string) string {
	if len(src) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(src)
	return string(b)
}

// mergeSources appends the sources of add that src lacks, keeping order.
func mergeSources(src, add []string) []string {
	out := slices.Clone(src)
	for _, s := range add {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// saveAssignment writes a (inserting it when its Version is 0) with a new
// version and UpdatedAt t.
func saveAssignment(ctx context.Context, tx *wtx, a *store.Assignment, t time.Time) error {
	if a.Version == 0 {
		if a.ID == "" {
			a.ID = store.NewID()
		}
		if a.CreatedAt.IsZero() {
			a.CreatedAt = t
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO assignments (tenant_id, id, pool_id, user_id, state, reason, sources, over, version, created, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
			a.TenantID, a.ID, a.PoolID, a.UserID, a.State, a.Reason, sourcesJSON(a.Sources), boolInt(a.Over),
			a.CreatedAt.UnixMilli(), t.UnixMilli())
		if err != nil {
			return constraint(err, map[string]string{"assignments.user_id": "userId", "assignments.pool_id": "userId", "assignments.id": "id"}, nil)
		}
		a.Version, a.UpdatedAt = 1, t
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE assignments SET state = ?, reason = ?, sources = ?, over = ?, version = version + 1, updated = ?
		WHERE tenant_id = ? AND id = ?`,
		a.State, a.Reason, sourcesJSON(a.Sources), boolInt(a.Over), t.UnixMilli(), a.TenantID, a.ID)
	if err != nil {
		return err
	}
	a.Version++
	a.UpdatedAt = t
	return nil
}

// takeSeat moves a onto a seat of pool: a free one, else an overage when
// the policy allows it, else a is left waiting and takeSeat reports false.
func takeSeat(ctx context.Context, tx *wtx, pool *store.Pool, a *store.Assignment) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE pools SET assigned = assigned + 1 WHERE tenant_id = ? AND id = ? AND assigned < total`,
		pool.TenantID, pool.ID)
	if err != nil {
		return false, err
	}
	if rowsAffected(res) == 1 {
		a.State, a.Reason, a.Over = store.AssignActive, "", false
		return true, nil
	}
	if pool.Policy == store.PolicyAllowOver {
		if _, err := tx.ExecContext(ctx, `UPDATE pools SET overage = overage + 1 WHERE tenant_id = ? AND id = ?`, pool.TenantID, pool.ID); err != nil {
			return false, err
		}
		a.State, a.Reason, a.Over = store.AssignActive, "", true
		return true, nil
	}
	a.State, a.Reason, a.Over = store.AssignWaiting, reasonNoSeats, false
	return false, nil
}

const reasonNoSeats = "no seats"

// returnSeat gives back the seat of an active assignment.
func returnSeat(ctx context.Context, tx *wtx, a *store.Assignment) error {
	if a.State != store.AssignActive {
		return nil
	}
	col := "assigned"
	if a.Over {
		col = "overage"
	}
	_, err := tx.ExecContext(ctx, `UPDATE pools SET `+col+` = `+col+` - 1 WHERE tenant_id = ? AND id = ? AND `+col+` > 0`, a.TenantID, a.PoolID)
	return err
}

// unbindDevices detaches the devices of an assignment that is going away;
// the device records stay so the admin still sees them, without a seat.
func unbindDevices(ctx context.Context, tx *wtx, a *store.Assignment, t time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE devices SET assignment_id = '', version = version + 1, updated = ?
		WHERE tenant_id = ? AND assignment_id = ?`, t.UnixMilli(), a.TenantID, a.ID)
	return err
}

func loadPool(ctx context.Context, tx *wtx, tenantID, poolID string) (*store.Pool, error) {
	p, err := scanPool(tx.QueryRowContext(ctx, `SELECT `+poolCols+` FROM pools WHERE tenant_id = ? AND id = ?`, tenantID, poolID))
	return p, notFound(err)
}

// ClaimSeat asks for a seat for a.UserID in a.PoolID with a.Sources
// (SourceDirect when empty). See store.Assignments.
func (s *Store) ClaimSeat(ctx context.Context, a *store.Assignment, at time.Time) error {
	switch {
	case a.TenantID == "":
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	case a.PoolID == "":
		return &store.ErrInvalid{Field: "poolId", Reason: "required"}
	case a.UserID == "":
		return &store.ErrInvalid{Field: "userId", Reason: "required"}
	}
	sources := a.Sources
	if len(sources) == 0 {
		sources = []string{store.SourceDirect}
	}
	t := store.Timestamp(at)
	var got *store.Assignment
	noSeats := false
	err := s.tx(ctx, func(tx *wtx) error {
		pool, err := loadPool(ctx, tx, a.TenantID, a.PoolID)
		if err != nil {
			return err
		}
		if !pool.ActiveAt(at) {
			return store.ErrExpired
		}
		cur, err := getAssignment(ctx, tx, a.TenantID, a.PoolID, a.UserID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			ok, err := exists(ctx, tx, `SELECT 1 FROM users WHERE tenant_id = ? AND id = ?`, a.TenantID, a.UserID)
			if err != nil {
				return err
			}
			if !ok {
				return &store.ErrInvalid{Field: "userId", Reason: "no such user"}
			}
			cur = &store.Assignment{TenantID: a.TenantID, PoolID: a.PoolID, UserID: a.UserID, State: store.AssignPending}
		case err != nil:
			return err
		}
		merged := mergeSources(cur.Sources, sources)
		if cur.State == store.AssignActive {
			if len(merged) != len(cur.Sources) {
				cur.Sources = merged
				if err := saveAssignment(ctx, tx, cur, t); err != nil {
					return err
				}
			}
			got = cur
			return nil
		}
		cur.Sources = merged
		ok, err := takeSeat(ctx, tx, pool, cur)
		if err != nil {
			return err
		}
		noSeats = !ok
		if err := saveAssignment(ctx, tx, cur, t); err != nil {
			return err
		}
		got = cur
		return nil
	})
	if err != nil {
		return err
	}
	*a = *got
	if noSeats {
		return store.ErrNoSeats
	}
	return nil
}

// ReleaseSource removes source from the user's assignment in the pool and
// deletes the assignment (returning its seat, unbinding its devices) when
// no source remains.
func (s *Store) ReleaseSource(ctx context.Context, tenantID, poolID, userID, source string) (*store.Assignment, error) {
	var out *store.Assignment
	err := s.tx(ctx, func(tx *wtx) error {
		a, err := getAssignment(ctx, tx, tenantID, poolID, userID)
		if err != nil {
			return notFound(err)
		}
		i := slices.Index(a.Sources, source)
		if i < 0 {
			out = a
			return nil
		}
		a.Sources = slices.Delete(a.Sources, i, i+1)
		t := now()
		if len(a.Sources) > 0 {
			out = a
			return saveAssignment(ctx, tx, a, t)
		}
		if err := returnSeat(ctx, tx, a); err != nil {
			return err
		}
		if err := unbindDevices(ctx, tx, a, t); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM assignments WHERE tenant_id = ? AND id = ?`, tenantID, a.ID)
		return err
	})
	return out, err
}

// Suspend returns the seat of the user's assignment and marks it
// suspended with reason, keeping its sources and devices.
func (s *Store) Suspend(ctx context.Context, tenantID, poolID, userID, reason string) error {
	return s.tx(ctx, func(tx *wtx) error {
		a, err := getAssignment(ctx, tx, tenantID, poolID, userID)
		if err != nil {
			return notFound(err)
		}
		if a.State == store.AssignSuspended && a.Reason == reason {
			return nil
		}
		if err := returnSeat(ctx, tx, a); err != nil {
			return err
		}
		a.State, a.Reason, a.Over = store.AssignSuspended, reason, false
		return saveAssignment(ctx, tx, a, now())
	})
}

// MoveSeat hands from's active seat to to, who must hold no active seat
// in the pool. The seat keeps its Over flag; to's assignment gets
// SourceDirect (an admin moved it by hand) in addition to any sources a
// waiting or suspended assignment of to had. from's assignment is deleted
// and its devices unbound.
func (s *Store) MoveSeat(ctx context.Context, tenantID, poolID, fromUserID, toUserID string) (*store.Assignment, error) {
	if fromUserID == toUserID {
		return nil, &store.ErrInvalid{Field: "to", Reason: "seat already belongs to that user"}
	}
	var out *store.Assignment
	err := s.tx(ctx, func(tx *wtx) error {
		if _, err := loadPool(ctx, tx, tenantID, poolID); err != nil {
			return err
		}
		from, err := getAssignment(ctx, tx, tenantID, poolID, fromUserID)
		if err != nil {
			return notFound(err)
		}
		if from.State != store.AssignActive {
			return &store.ErrInvalid{Field: "from", Reason: "user holds no active seat in the pool"}
		}
		to, err := getAssignment(ctx, tx, tenantID, poolID, toUserID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			ok, err := exists(ctx, tx, `SELECT 1 FROM users WHERE tenant_id = ? AND id = ?`, tenantID, toUserID)
			if err != nil {
				return err
			}
			if !ok {
				return &store.ErrInvalid{Field: "to", Reason: "no such user"}
			}
			to = &store.Assignment{TenantID: tenantID, PoolID: poolID, UserID: toUserID}
		case err != nil:
			return err
		case to.State == store.AssignActive:
			return &store.ErrInvalid{Field: "to", Reason: "user already holds a seat in the pool"}
		}
		t := now()
		if err := unbindDevices(ctx, tx, from, t); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM assignments WHERE tenant_id = ? AND id = ?`, tenantID, from.ID); err != nil {
			return err
		}
		to.State, to.Reason, to.Over = store.AssignActive, "", from.Over
		to.Sources = mergeSources(to.Sources, []string{store.SourceDirect})
		if err := saveAssignment(ctx, tx, to, t); err != nil {
			return err
		}
		out = to
		return nil
	})
	return out, err
}

// GetAssignment reads the user's assignment in the pool, through the
// statement cache like the other lookups by key.
func (s *Store) GetAssignment(ctx context.Context, tenantID, poolID, userID string) (*store.Assignment, error) {
	a, err := getAssignment(ctx, s.rd, tenantID, poolID, userID)
	return a, notFound(err)
}

// ListAssignments lists assignments oldest first, which makes the waiting
// list of a pool (State waiting) first-come, first-served.
func (s *Store) ListAssignments(ctx context.Context, tenantID string, q store.AssignmentQuery) ([]*store.Assignment, error) {
	var where strings.Builder
	args := []any{tenantID}
	where.WriteString(`a.tenant_id = ?`)
	for _, f := range []struct{ col, v string }{{"a.pool_id", q.PoolID}, {"a.user_id", q.UserID}, {"a.state", q.State}} {
		if f.v != "" {
			where.WriteString(` AND ` + f.col + ` = ?`)
			args = append(args, f.v)
		}
	}
	from := `assignments a`
	if q.UserID != "" && q.PoolID == "" {
		// Without statistics SQLite walks the primary key's tenant prefix
		// here, every assignment of the tenant, rather than this index:
		// a user's licenses then cost as much as the tenant's seats.
		from = `assignments a INDEXED BY assignments_user`
		// One user's seats are a few rows: not worth watching the
		// caller's cancellation (see ListRules).
		ctx = context.WithoutCancel(ctx)
	}
	return list(ctx, s.rd, scanAssignment, `SELECT `+assignCols+` FROM `+from+` WHERE `+where.String()+` ORDER BY a.created, a.id`, args...)
}

// Recount makes the pool's counters agree with its assignments: it sets
// Assigned and Overage from the active assignments, resolves pending ones
// (a seat if one is free, overage under allow-over, else waiting) and, if
// more assignments hold a seat than the pool has, moves the newest of them
// to overage (allow-over) or waiting (deny). It returns how far the
// counters were off plus how many assignments it changed; 0 means the
// pool was consistent.
func (s *Store) Recount(ctx context.Context, tenantID, poolID string) (int, error) {
	fixed := 0
	err := s.tx(ctx, func(tx *wtx) error {
		pool, err := loadPool(ctx, tx, tenantID, poolID)
		if err != nil {
			return err
		}
		var in, over int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(over = 0), 0), COALESCE(SUM(over = 1), 0) FROM assignments
			WHERE tenant_id = ? AND pool_id = ? AND state = 'active'`, tenantID, poolID).Scan(&in, &over); err != nil {
			return err
		}
		fixed = abs(in-pool.Assigned) + abs(over-pool.Overage)
		all, err := list(ctx, tx, scanAssignment, `SELECT `+assignCols+` FROM assignments a
			WHERE a.tenant_id = ? AND a.pool_id = ? AND a.state IN ('active', 'pending') ORDER BY a.created, a.id`, tenantID, poolID)
		if err != nil {
			return err
		}
		t := now()
		// Seats go to the oldest assignments first: walk in creation
		// order, and let pending ones join where a seat is free.
		seats := 0
		for _, a := range all {
			if a.State == store.AssignActive && a.Over {
				continue
			}
			wasPending := a.State == store.AssignPending
			switch {
			case seats < pool.Total:
				seats++
				if !wasPending {
					continue
				}
				a.State, a.Reason, a.Over = store.AssignActive, "", false
			case pool.Policy == store.PolicyAllowOver:
				over++
				a.State, a.Reason, a.Over = store.AssignActive, "", true
			default:
				a.State, a.Reason, a.Over = store.AssignWaiting, reasonNoSeats, false
			}
			fixed++
			if err := saveAssignment(ctx, tx, a, t); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE pools SET assigned = ?, overage = ? WHERE tenant_id = ? AND id = ?`, seats, over, tenantID, poolID)
		return constraint(err, nil, &store.ErrInvalid{Field: "total", Reason: "recount exceeds the pool"})
	})
	return fixed, err
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
