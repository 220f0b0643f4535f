package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/roster-scim/roster/store"
)

const leaseCols = `tenant_id, id, user_id, product_id, device_id, key_id, issued_at, expires_at, revoked_at`

func scanLease(sc scanner) (*store.Lease, error) {
	l := new(store.Lease)
	var issued, expires, revoked sql.NullInt64
	if err := sc.Scan(&l.TenantID, &l.ID, &l.UserID, &l.ProductID, &l.DeviceID, &l.KeyID, &issued, &expires, &revoked); err != nil {
		return nil, err
	}
	l.IssuedAt, l.ExpiresAt, l.RevokedAt = fromMS(issued), fromMS(expires), fromMS(revoked)
	return l, nil
}

// RecordLease keeps a record of an issued lease (ID is its jti).
func (s *Store) RecordLease(ctx context.Context, l *store.Lease) error {
	if l.TenantID == "" {
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	}
	if l.ID == "" {
		l.ID = store.NewID()
	}
	l.IssuedAt, l.ExpiresAt, l.RevokedAt = store.Timestamp(l.IssuedAt), store.Timestamp(l.ExpiresAt), store.Timestamp(l.RevokedAt)
	_, err := s.wr.ExecContext(ctx, `INSERT INTO leases (`+leaseCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.TenantID, l.ID, l.UserID, l.ProductID, l.DeviceID, l.KeyID, ms(l.IssuedAt), ms(l.ExpiresAt), ms(l.RevokedAt))
	return constraint(err, map[string]string{"leases.id": "id"}, nil)
}

// GetLease reads a lease record.
func (s *Store) GetLease(ctx context.Context, tenantID, id string) (*store.Lease, error) {
	l, err := scanLease(s.rd.QueryRowContext(ctx, `SELECT `+leaseCols+` FROM leases WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return l, notFound(err)
}

// RevokeDeviceLeases revokes every unrevoked lease of the device.
func (s *Store) RevokeDeviceLeases(ctx context.Context, tenantID, deviceID string, at time.Time) error {
	_, err := s.wr.ExecContext(ctx, `UPDATE leases SET revoked_at = ? WHERE tenant_id = ? AND device_id = ? AND revoked_at IS NULL`,
		store.Timestamp(at).UnixMilli(), tenantID, deviceID)
	return err
}

const keyCols = `tenant_id, id, private, public, created, retired_at, not_after`

func scanKey(sc scanner) (*store.SigningKey, error) {
	k := new(store.SigningKey)
	var created int64
	var retired, notAfter sql.NullInt64
	if err := sc.Scan(&k.TenantID, &k.ID, &k.Private, &k.Public, &created, &retired, &notAfter); err != nil {
		return nil, err
	}
	k.CreatedAt, k.RetiredAt, k.NotAfter = msTime(created), fromMS(retired), fromMS(notAfter)
	return k, nil
}

// AddSigningKey stores a tenant's new lease-signing key.
func (s *Store) AddSigningKey(ctx context.Context, k *store.SigningKey) error {
	if k.TenantID == "" {
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	}
	if k.ID == "" {
		k.ID = store.NewID()
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	k.CreatedAt = store.Timestamp(k.CreatedAt)
	_, err := s.wr.ExecContext(ctx, `INSERT INTO signing_keys (`+keyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		k.TenantID, k.ID, nonNil(k.Private), nonNil(k.Public), k.CreatedAt.UnixMilli(), ms(k.RetiredAt), ms(k.NotAfter))
	return constraint(err, map[string]string{"signing_keys.id": "id"}, nil)
}

// nonNil keeps a nil key from binding as NULL in a NOT NULL column.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// SigningKeys lists a tenant's keys, newest first.
func (s *Store) SigningKeys(ctx context.Context, tenantID string) ([]*store.SigningKey, error) {
	return list(ctx, s.rd, scanKey, `SELECT `+keyCols+` FROM signing_keys WHERE tenant_id = ? ORDER BY created DESC, id DESC`, tenantID)
}

// RetireSigningKey marks a key retired at at, published until notAfter.
func (s *Store) RetireSigningKey(ctx context.Context, tenantID, id string, at, notAfter time.Time) error {
	res, err := s.wr.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ?, not_after = ? WHERE tenant_id = ? AND id = ?`,
		ms(store.Timestamp(at)), ms(store.Timestamp(notAfter)), tenantID, id)
	if err != nil {
		return err
	}
	if rowsAffected(res) == 0 {
		return store.ErrNotFound
	}
	return nil
}
