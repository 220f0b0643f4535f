package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/roster-scim/roster/store"
)

const outboxCols = `id, tenant_id, channel, to_addr, subject, text, html, state, attempts, next_attempt, last_error, claimed_by, claimed_until, created, sent_at`

func scanOutbox(sc scanner) (*store.OutboxMessage, error) {
	m := new(store.OutboxMessage)
	var next, created int64
	var claimed, sent sql.NullInt64
	if err := sc.Scan(&m.ID, &m.TenantID, &m.Channel, &m.To, &m.Subject, &m.Text, &m.HTML, &m.State, &m.Attempts, &next,
		&m.LastError, &m.ClaimedBy, &claimed, &created, &sent); err != nil {
		return nil, err
	}
	m.NextAttemptAt, m.ClaimedUntil, m.CreatedAt, m.SentAt = msTime(next), fromMS(claimed), msTime(created), fromMS(sent)
	return m, nil
}

// Enqueue queues a message, due at NextAttemptAt (now when zero).
func (s *Store) Enqueue(ctx context.Context, m *store.OutboxMessage) error {
	if m.TenantID == "" {
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	}
	if m.ID == "" {
		m.ID = store.NewID()
	}
	at := now()
	m.State, m.Attempts, m.ClaimedBy, m.ClaimedUntil, m.CreatedAt, m.SentAt = store.OutboxQueued, 0, "", time.Time{}, at, time.Time{}
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = at
	}
	m.NextAttemptAt = store.Timestamp(m.NextAttemptAt)
	_, err := s.wr.ExecContext(ctx, `INSERT INTO outbox (`+outboxCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, '', NULL, ?, NULL)`,
		m.ID, m.TenantID, m.Channel, m.To, m.Subject, m.Text, m.HTML, m.State, m.NextAttemptAt.UnixMilli(), m.LastError, at.UnixMilli())
	return constraint(err, map[string]string{"outbox.id": "id"}, nil)
}

// ClaimOutbox hands up to limit due messages to holder until now+ttl. The
// select and the claim share one write transaction, so two nodes never
// claim the same message.
func (s *Store) ClaimOutbox(ctx context.Context, holder string, at time.Time, ttl time.Duration, limit int) ([]*store.OutboxMessage, error) {
	if holder == "" {
		return nil, &store.ErrInvalid{Field: "holder", Reason: "required"}
	}
	if limit <= 0 {
		return nil, nil
	}
	at = store.Timestamp(at)
	until := store.Timestamp(at.Add(ttl))
	var out []*store.OutboxMessage
	err := s.tx(ctx, func(tx *wtx) error {
		msgs, err := list(ctx, tx, scanOutbox, `SELECT `+outboxCols+` FROM outbox
			WHERE state = 'queued' AND next_attempt <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
			ORDER BY next_attempt, id LIMIT ?`, at.UnixMilli(), at.UnixMilli(), limit)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id = ?`, holder, until.UnixMilli(), m.ID); err != nil {
				return err
			}
			m.ClaimedBy, m.ClaimedUntil = holder, until
		}
		out = msgs
		return nil
	})
	return out, err
}

// settle updates a message the holder claimed; a message claimed by
// someone else since (the holder's claim expired) is ErrPrecondition.
func (s *Store) settle(ctx context.Context, id, holder, query string, args ...any) error {
	return s.tx(ctx, func(tx *wtx) error {
		var by, state string
		err := tx.QueryRowContext(ctx, `SELECT claimed_by, state FROM outbox WHERE id = ?`, id).Scan(&by, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if by != holder || state != store.OutboxQueued {
			return store.ErrPrecondition
		}
		_, err = tx.ExecContext(ctx, query, append(args, id)...)
		return err
	})
}

// MarkSent records the delivery of a message holder claimed.
func (s *Store) MarkSent(ctx context.Context, id, holder string, at time.Time) error {
	return s.settle(ctx, id, holder, `UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1,
		claimed_by = '', claimed_until = NULL WHERE id = ?`, store.Timestamp(at).UnixMilli())
}

// MarkRetry records a failed attempt and releases the claim; the message
// is due again at next, or given up (OutboxFailed) when final.
func (s *Store) MarkRetry(ctx context.Context, id, holder, lastError string, next time.Time, final bool) error {
	state := store.OutboxQueued
	if final {
		state = store.OutboxFailed
	}
	return s.settle(ctx, id, holder, `UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, next_attempt = ?,
		claimed_by = '', claimed_until = NULL WHERE id = ?`, state, lastError, store.Timestamp(next).UnixMilli())
}

// GetOutboxMessage reads a message.
func (s *Store) GetOutboxMessage(ctx context.Context, id string) (*store.OutboxMessage, error) {
	m, err := scanOutbox(s.rd.QueryRowContext(ctx, `SELECT `+outboxCols+` FROM outbox WHERE id = ?`, id))
	return m, notFound(err)
}

// ListOutbox lists the tenant's messages, newest first (limit 0: 100).
func (s *Store) ListOutbox(ctx context.Context, tenantID string, limit int) ([]*store.OutboxMessage, error) {
	if limit <= 0 {
		limit = 100
	}
	return list(ctx, s.rd, scanOutbox, `SELECT `+outboxCols+` FROM outbox WHERE tenant_id = ? ORDER BY created DESC, id DESC LIMIT ?`, tenantID, limit)
}

// AcquireLease takes the lease, renews it for its holder, or takes it over
// once expired, in one conditional upsert.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, at time.Time, ttl time.Duration) (bool, error) {
	if name == "" || holder == "" {
		return false, &store.ErrInvalid{Field: "lease", Reason: "name and holder are required"}
	}
	atMS := at.UnixMilli()
	res, err := s.wr.ExecContext(ctx, `INSERT INTO work_leases (name, holder, expires, version) VALUES (?1, ?2, ?3, 1)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires, version = version + 1
		WHERE work_leases.holder = excluded.holder OR work_leases.expires <= ?4`,
		name, holder, at.Add(ttl).UnixMilli(), atMS)
	if err != nil {
		return false, err
	}
	return rowsAffected(res) == 1, nil
}

// ReleaseLease gives the lease up if holder holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.wr.ExecContext(ctx, `DELETE FROM work_leases WHERE name = ? AND holder = ?`, name, holder)
	return err
}
