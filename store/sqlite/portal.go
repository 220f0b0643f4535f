package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/roster-scim/roster/store"
)

const sessionCols = `hash, subject, email, name, role, tenant_id, id_token, created, last_seen, expires_at`

// CreateSession stores a new portal session.
func (s *Store) CreateSession(ctx context.Context, ss *store.Session) error {
	if ss.Hash == "" {
		return &store.ErrInvalid{Field: "hash", Reason: "required"}
	}
	at := now()
	if ss.CreatedAt.IsZero() {
		ss.CreatedAt = at
	}
	if ss.LastSeenAt.IsZero() {
		ss.LastSeenAt = at
	}
	ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = store.Timestamp(ss.CreatedAt), store.Timestamp(ss.LastSeenAt), store.Timestamp(ss.ExpiresAt)
	_, err := s.wr.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ss.Hash, ss.Subject, ss.Email, ss.Name, ss.Role, ss.TenantID, ss.IDToken,
		ss.CreatedAt.UnixMilli(), ss.LastSeenAt.UnixMilli(), ss.ExpiresAt.UnixMilli())
	return constraint(err, map[string]string{"sessions.hash": "hash"}, nil)
}

// GetSession finds a session by the hash of its cookie secret.
func (s *Store) GetSession(ctx context.Context, hash string) (*store.Session, error) {
	ss := new(store.Session)
	var created, seen, expires int64
	err := s.rd.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE hash = ?`, hash).Scan(
		&ss.Hash, &ss.Subject, &ss.Email, &ss.Name, &ss.Role, &ss.TenantID, &ss.IDToken, &created, &seen, &expires)
	if err != nil {
		return nil, notFound(err)
	}
	ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = msTime(created), msTime(seen), msTime(expires)
	return ss, nil
}

// TouchSession records activity.
func (s *Store) TouchSession(ctx context.Context, hash string, at time.Time) error {
	res, err := s.wr.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE hash = ?`, store.Timestamp(at).UnixMilli(), hash)
	if err != nil {
		return err
	}
	if rowsAffected(res) == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteSession ends a session; ending one that is gone is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.wr.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
	return err
}

// DeleteExpiredSessions removes sessions whose absolute end is before t.
func (s *Store) DeleteExpiredSessions(ctx context.Context, before time.Time) (int, error) {
	res, err := s.wr.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, before.UnixMilli())
	if err != nil {
		return 0, err
	}
	return int(rowsAffected(res)), nil
}

const seatRequestCols = `tenant_id, id, pool_id, seats, note, state, requested_by, decided_by, created, decided_at, version`

func scanSeatRequest(sc scanner) (*store.SeatRequest, error) {
	r := new(store.SeatRequest)
	var created int64
	var decided sql.NullInt64
	if err := sc.Scan(&r.TenantID, &r.ID, &r.PoolID, &r.Seats, &r.Note, &r.State, &r.RequestedBy, &r.DecidedBy, &created, &decided, &r.Version); err != nil {
		return nil, err
	}
	r.CreatedAt, r.DecidedAt = msTime(created), fromMS(decided)
	return r, nil
}

// CreateSeatRequest records a tenant's request for more seats of a pool.
func (s *Store) CreateSeatRequest(ctx context.Context, r *store.SeatRequest) error {
	if r.Seats <= 0 {
		return &store.ErrInvalid{Field: "seats", Reason: "must be at least 1"}
	}
	if r.ID == "" {
		r.ID = store.NewID()
	}
	if r.State == "" {
		r.State = store.RequestPending
	}
	at := now()
	err := s.tx(ctx, func(tx *wtx) error {
		ok, err := exists(ctx, tx, `SELECT 1 FROM pools WHERE tenant_id = ? AND id = ?`, r.TenantID, r.PoolID)
		if err != nil {
			return err
		}
		if !ok {
			return &store.ErrInvalid{Field: "poolId", Reason: "no such pool"}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO seat_requests (`+seatRequestCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
			r.TenantID, r.ID, r.PoolID, r.Seats, r.Note, r.State, r.RequestedBy, r.DecidedBy, at.UnixMilli(), ms(store.Timestamp(r.DecidedAt)))
		return constraint(err, map[string]string{"seat_requests.tenant_id": "id"}, nil)
	})
	if err != nil {
		return err
	}
	r.Version, r.CreatedAt = 1, at
	return nil
}

// GetSeatRequest reads one request of the tenant.
func (s *Store) GetSeatRequest(ctx context.Context, tenantID, id string) (*store.SeatRequest, error) {
	r, err := scanSeatRequest(s.rd.QueryRowContext(ctx, `SELECT `+seatRequestCols+` FROM seat_requests WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return r, notFound(err)
}

// UpdateSeatRequest writes a decision with compare-and-set.
func (s *Store) UpdateSeatRequest(ctx context.Context, r *store.SeatRequest) error {
	r.DecidedAt = store.Timestamp(r.DecidedAt)
	res, err := s.wr.ExecContext(ctx, `UPDATE seat_requests SET seats = ?, note = ?, state = ?, decided_by = ?, decided_at = ?, version = version + 1
		WHERE tenant_id = ? AND id = ? AND version = ?`,
		r.Seats, r.Note, r.State, r.DecidedBy, ms(r.DecidedAt), r.TenantID, r.ID, r.Version)
	if err != nil {
		return err
	}
	if rowsAffected(res) == 0 {
		return casMiss(ctx, s.w, "seat_requests", r.TenantID, r.ID)
	}
	r.Version++
	return nil
}

// ListSeatRequests lists requests newest first, of one tenant or of all
// when tenantID is "".
func (s *Store) ListSeatRequests(ctx context.Context, tenantID, state string) ([]*store.SeatRequest, error) {
	rows, err := s.rd.QueryContext(ctx, `SELECT `+seatRequestCols+` FROM seat_requests
		WHERE (? = '' OR tenant_id = ?) AND (? = '' OR state = ?) ORDER BY created DESC, id DESC LIMIT 1000`,
		tenantID, tenantID, state, state)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.SeatRequest
	for rows.Next() {
		r, err := scanSeatRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AddPoolSample records a pool's usage; a second sample at the same
// millisecond replaces the first.
func (s *Store) AddPoolSample(ctx context.Context, p *store.PoolSample) error {
	p.At = store.Timestamp(p.At)
	_, err := s.wr.ExecContext(ctx, `INSERT OR REPLACE INTO pool_samples (tenant_id, pool_id, at, total, assigned, overage, waiting)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, p.TenantID, p.PoolID, p.At.UnixMilli(), p.Total, p.Assigned, p.Overage, p.Waiting)
	return err
}

// PoolSamples returns a pool's samples since a time, oldest first.
func (s *Store) PoolSamples(ctx context.Context, tenantID, poolID string, since time.Time) ([]*store.PoolSample, error) {
	rows, err := s.rd.QueryContext(ctx, `SELECT at, total, assigned, overage, waiting FROM pool_samples
		WHERE tenant_id = ? AND pool_id = ? AND at >= ? ORDER BY at LIMIT 10000`, tenantID, poolID, since.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*store.PoolSample
	for rows.Next() {
		p := &store.PoolSample{TenantID: tenantID, PoolID: poolID}
		var at int64
		if err := rows.Scan(&at, &p.Total, &p.Assigned, &p.Overage, &p.Waiting); err != nil {
			return nil, err
		}
		p.At = msTime(at)
		out = append(out, p)
	}
	return out, rows.Err()
}
