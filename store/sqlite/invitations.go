package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/roster-scim/roster/store"
)

const invitationCols = `tenant_id, id, user_id, kind, token_hash, expires_at, used_at, created, version`

func scanInvitation(sc scanner) (*store.Invitation, error) {
	inv := new(store.Invitation)
	var expires, used sql.NullInt64
	var created int64
	if err := sc.Scan(&inv.TenantID, &inv.ID, &inv.UserID, &inv.Kind, &inv.TokenHash, &expires, &used, &created, &inv.Version); err != nil {
		return nil, err
	}
	inv.ExpiresAt, inv.UsedAt, inv.CreatedAt = fromMS(expires), fromMS(used), msTime(created)
	return inv, nil
}

// CreateInvitation stores an invitation for a user of the tenant.
func (s *Store) CreateInvitation(ctx context.Context, inv *store.Invitation) error {
	switch {
	case inv.TenantID == "":
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	case inv.TokenHash == "":
		return &store.ErrInvalid{Field: "tokenHash", Reason: "required"}
	case inv.Kind != store.InviteActivate && inv.Kind != store.InviteReset:
		return &store.ErrInvalid{Field: "kind", Reason: "must be activate or reset"}
	}
	if inv.ID == "" {
		inv.ID = store.NewID()
	}
	at := now()
	err := s.tx(ctx, func(tx *wtx) error {
		ok, err := exists(ctx, tx, `SELECT 1 FROM users WHERE tenant_id = ? AND id = ?`, inv.TenantID, inv.UserID)
		if err != nil {
			return err
		}
		if !ok {
			return &store.ErrInvalid{Field: "userId", Reason: "no such user"}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO invitations (`+invitationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)`,
			inv.TenantID, inv.ID, inv.UserID, inv.Kind, inv.TokenHash, ms(store.Timestamp(inv.ExpiresAt)), ms(store.Timestamp(inv.UsedAt)), at.UnixMilli())
		return constraint(err, map[string]string{"invitations.token_hash": "tokenHash", "invitations.id": "id"}, nil)
	})
	if err != nil {
		return err
	}
	inv.Version, inv.CreatedAt = 1, at
	inv.ExpiresAt, inv.UsedAt = store.Timestamp(inv.ExpiresAt), store.Timestamp(inv.UsedAt)
	return nil
}

// InvitationByHash finds an invitation of any tenant by its secret's hash.
func (s *Store) InvitationByHash(ctx context.Context, hash string) (*store.Invitation, error) {
	inv, err := scanInvitation(s.rd.QueryRowContext(ctx, `SELECT `+invitationCols+` FROM invitations WHERE token_hash = ?`, hash))
	return inv, notFound(err)
}

// UseInvitation marks the invitation used at at, once, before it expires.
func (s *Store) UseInvitation(ctx context.Context, tenantID, id string, at time.Time) error {
	at = store.Timestamp(at)
	res, err := s.wr.ExecContext(ctx, `UPDATE invitations SET used_at = ?, version = version + 1
		WHERE tenant_id = ? AND id = ? AND used_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
		at.UnixMilli(), tenantID, id, at.UnixMilli())
	if err != nil {
		return err
	}
	if rowsAffected(res) == 1 {
		return nil
	}
	ok, err := exists(ctx, s.rd, `SELECT 1 FROM invitations WHERE tenant_id = ? AND id = ?`, tenantID, id)
	switch {
	case err != nil:
		return err
	case ok:
		return store.ErrExpired
	}
	return store.ErrNotFound
}

// RevokeInvitations makes every unused invitation of the user expire at
// at (unless it expires earlier already).
func (s *Store) RevokeInvitations(ctx context.Context, tenantID, userID string, at time.Time) error {
	at = store.Timestamp(at)
	_, err := s.wr.ExecContext(ctx, `UPDATE invitations SET expires_at = ?, version = version + 1
		WHERE tenant_id = ? AND user_id = ? AND used_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
		at.UnixMilli(), tenantID, userID, at.UnixMilli())
	return err
}

// ListInvitations lists the user's invitations, newest first.
func (s *Store) ListInvitations(ctx context.Context, tenantID, userID string) ([]*store.Invitation, error) {
	return list(ctx, s.rd, scanInvitation, `SELECT `+invitationCols+` FROM invitations WHERE tenant_id = ? AND user_id = ?
		ORDER BY created DESC, id DESC`, tenantID, userID)
}
