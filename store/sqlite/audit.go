package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/roster-scim/roster/store"
)

const auditCols = `tenant_id, id, at, actor, action, target_type, target_id, before, after, reason`

func scanAudit(sc scanner) (*store.AuditEvent, error) {
	e := new(store.AuditEvent)
	var at int64
	if err := sc.Scan(&e.TenantID, &e.ID, &at, &e.Actor, &e.Action, &e.TargetType, &e.TargetID, &e.Before, &e.After, &e.Reason); err != nil {
		return nil, err
	}
	e.At = msTime(at)
	return e, nil
}

// AppendAudit appends an event (At defaults to now).
func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	if err := prepareAudit(e); err != nil {
		return err
	}
	return insertAudit(ctx, s.wr, e)
}

// AppendAudits appends events in one transaction: all or none.
func (s *Store) AppendAudits(ctx context.Context, events []*store.AuditEvent) error {
	for _, e := range events {
		if err := prepareAudit(e); err != nil {
			return err
		}
	}
	return s.tx(ctx, func(tx *wtx) error {
		for _, e := range events {
			// An event a retried batch already wrote is skipped.
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT DO NOTHING`, e.TenantID, e.ID, e.At.UnixMilli(), e.Actor, e.Action, e.TargetType, e.TargetID, e.Before, e.After, e.Reason); err != nil {
				return err
			}
		}
		return nil
	})
}

// prepareAudit checks e and fills its id and time.
func prepareAudit(e *store.AuditEvent) error {
	if e.TenantID == "" {
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	}
	if e.ID == "" {
		e.ID = store.NewID()
	}
	if e.At.IsZero() {
		e.At = now()
	}
	e.At = store.Timestamp(e.At)
	return nil
}

func insertAudit(ctx context.Context, q queryer, e *store.AuditEvent) error {
	_, err := q.ExecContext(ctx, `INSERT INTO audit (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.TenantID, e.ID, e.At.UnixMilli(), e.Actor, e.Action, e.TargetType, e.TargetID, e.Before, e.After, e.Reason)
	return constraint(err, map[string]string{"audit.id": "id"}, nil)
}

// defaultAuditLimit is the page size when AuditQuery.Limit is 0.
const defaultAuditLimit = 100

// ListAudit returns events newest first (by At, then id).
func (s *Store) ListAudit(ctx context.Context, tenantID string, q store.AuditQuery) ([]*store.AuditEvent, error) {
	var where strings.Builder
	args := []any{tenantID}
	where.WriteString(`tenant_id = ?`)
	add := func(cond string, v any) {
		where.WriteString(` AND ` + cond)
		args = append(args, v)
	}
	if q.Actor != "" {
		add(`actor = ?`, q.Actor)
	}
	if q.Action != "" {
		add(`action = ?`, q.Action)
	}
	if q.TargetID != "" {
		add(`target_id = ?`, q.TargetID)
	}
	if !q.Since.IsZero() {
		add(`at >= ?`, store.Timestamp(q.Since).UnixMilli())
	}
	if !q.Until.IsZero() {
		add(`at < ?`, store.Timestamp(q.Until).UnixMilli())
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	var out []*store.AuditEvent
	err := s.read(ctx, func(tx *rtx) error {
		if q.Before != "" {
			var at int64
			err := tx.QueryRowContext(ctx, `SELECT at FROM audit WHERE tenant_id = ? AND id = ?`, tenantID, q.Before).Scan(&at)
			if errors.Is(err, sql.ErrNoRows) {
				return &store.ErrInvalid{Field: "before", Reason: "no such event"}
			}
			if err != nil {
				return err
			}
			where.WriteString(` AND (at < ? OR (at = ? AND id < ?))`)
			args = append(args, at, at, q.Before)
		}
		var err error
		out, err = list(ctx, tx, scanAudit, `SELECT `+auditCols+` FROM audit WHERE `+where.String()+` ORDER BY at DESC, id DESC LIMIT ?`,
			append(args, limit)...)
		return err
	})
	return out, err
}
