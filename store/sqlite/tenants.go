package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/roster-scim/roster/store"
)

const tenantCols = `id, name, suspended, invite_from, sso, sso_url, version, created, updated`

func scanTenant(sc scanner) (*store.Tenant, error) {
	t := new(store.Tenant)
	var created, updated int64
	if err := sc.Scan(&t.ID, &t.Name, &t.Suspended, &t.InviteFrom, &t.SSO, &t.SSOSignInURL, &t.Version, &created, &updated); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = msTime(created), msTime(updated)
	return t, nil
}

var tenantConflicts = map[string]string{"tenants.name_norm": "name", "tenants.id": "id"}

// CreateTenant inserts t; names are unique ignoring case.
func (s *Store) CreateTenant(ctx context.Context, t *store.Tenant) error {
	if t.Name == "" {
		return &store.ErrInvalid{Field: "name", Reason: "required"}
	}
	if t.ID == "" {
		t.ID = store.NewID()
	}
	at := now()
	_, err := s.wr.ExecContext(ctx, `INSERT INTO tenants (id, name, name_norm, suspended, invite_from, sso, sso_url, version, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`, t.ID, t.Name, store.NormUserName(t.Name), boolInt(t.Suspended), t.InviteFrom,
		boolInt(t.SSO), t.SSOSignInURL, at.UnixMilli(), at.UnixMilli())
	if err != nil {
		return constraint(err, tenantConflicts, nil)
	}
	t.Version, t.CreatedAt, t.UpdatedAt = 1, at, at
	return nil
}

// GetTenant reads a tenant by id.
func (s *Store) GetTenant(ctx context.Context, id string) (*store.Tenant, error) {
	t, err := scanTenant(s.rd.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = ?`, id))
	return t, notFound(err)
}

// GetTenantByName reads a tenant by name, ignoring case.
func (s *Store) GetTenantByName(ctx context.Context, name string) (*store.Tenant, error) {
	t, err := scanTenant(s.rd.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE name_norm = ?`, store.NormUserName(name)))
	return t, notFound(err)
}

// UpdateTenant writes t if its Version is still the stored one.
func (s *Store) UpdateTenant(ctx context.Context, t *store.Tenant) error {
	if t.Name == "" {
		return &store.ErrInvalid{Field: "name", Reason: "required"}
	}
	at := now()
	var created int64
	err := s.tx(ctx, func(tx *wtx) error {
		err := tx.QueryRowContext(ctx, `UPDATE tenants SET name = ?, name_norm = ?, suspended = ?, invite_from = ?, sso = ?, sso_url = ?,
			version = version + 1, updated = ? WHERE id = ? AND version = ? RETURNING created`,
			t.Name, store.NormUserName(t.Name), boolInt(t.Suspended), t.InviteFrom, boolInt(t.SSO), t.SSOSignInURL, at.UnixMilli(), t.ID, t.Version).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return casMiss(ctx, tx, "tenants", "", t.ID)
		}
		return constraint(err, tenantConflicts, nil)
	})
	if err != nil {
		return err
	}
	t.Version, t.UpdatedAt, t.CreatedAt = t.Version+1, at, msTime(created)
	return nil
}

// ListTenants lists every tenant by name.
func (s *Store) ListTenants(ctx context.Context) ([]*store.Tenant, error) {
	return list(ctx, s.rd, scanTenant, `SELECT `+tenantCols+` FROM tenants ORDER BY name_norm, id`)
}

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, q queryer, scan func(scanner) (*T, error), query string, args ...any) ([]*T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Tokens.

const tokenCols = `id, tenant_id, name, hash, created, last_used, revoked`

func scanToken(sc scanner) (*store.Token, error) {
	t := new(store.Token)
	var created int64
	var used, revoked sql.NullInt64
	if err := sc.Scan(&t.ID, &t.TenantID, &t.Name, &t.Hash, &created, &used, &revoked); err != nil {
		return nil, err
	}
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = msTime(created), fromMS(used), fromMS(revoked)
	return t, nil
}

// CreateToken stores a token (its hash only).
func (s *Store) CreateToken(ctx context.Context, t *store.Token) error {
	switch {
	case t.TenantID == "":
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	case t.Hash == "":
		return &store.ErrInvalid{Field: "hash", Reason: "required"}
	}
	if t.ID == "" {
		t.ID = store.NewID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	t.CreatedAt = store.Timestamp(t.CreatedAt)
	_, err := s.wr.ExecContext(ctx, `INSERT INTO tokens (id, tenant_id, name, hash, created, last_used, revoked) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.TenantID, t.Name, t.Hash, t.CreatedAt.UnixMilli(), ms(t.LastUsedAt), ms(t.RevokedAt))
	return constraint(err, map[string]string{"tokens.hash": "hash", "tokens.id": "id"}, nil)
}

// TokenByHash finds a token of any tenant by the hash of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*store.Token, error) {
	t, err := scanToken(s.rd.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ?`, hash))
	return t, notFound(err)
}

// ListTokens lists the tenant's tokens, oldest first.
func (s *Store) ListTokens(ctx context.Context, tenantID string) ([]*store.Token, error) {
	return list(ctx, s.rd, scanToken, `SELECT `+tokenCols+` FROM tokens WHERE tenant_id = ? ORDER BY created, id`, tenantID)
}

// RevokeToken revokes the token at at; revoking twice keeps the first time.
func (s *Store) RevokeToken(ctx context.Context, tenantID, id string, at time.Time) error {
	res, err := s.wr.ExecContext(ctx, `UPDATE tokens SET revoked = COALESCE(revoked, ?) WHERE tenant_id = ? AND id = ?`,
		store.Timestamp(at).UnixMilli(), tenantID, id)
	if err != nil {
		return err
	}
	if rowsAffected(res) == 0 {
		return store.ErrNotFound
	}
	return nil
}

// touchEvery is how stale LastUsedAt may get: every authenticated SCIM
// request touches its token, and a write per request would serialise them
// all on the writer.
const touchEvery = time.Minute

// TouchToken records a use at most once per touchEvery.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	at = store.Timestamp(at)
	res, err := s.wr.ExecContext(ctx, `UPDATE tokens SET last_used = ? WHERE id = ? AND (last_used IS NULL OR last_used <= ?)`,
		at.UnixMilli(), id, at.Add(-touchEvery).UnixMilli())
	if err != nil || rowsAffected(res) > 0 {
		return err
	}
	ok, err := exists(ctx, s.rd, `SELECT 1 FROM tokens WHERE id = ?`, id)
	if err == nil && !ok {
		err = store.ErrNotFound
	}
	return err
}

// Products.

const productCols = `id, code, name, version, created, updated`

func scanProduct(sc scanner) (*store.Product, error) {
	p := new(store.Product)
	var created, updated int64
	if err := sc.Scan(&p.ID, &p.Code, &p.Name, &p.Version, &created, &updated); err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt = msTime(created), msTime(updated)
	return p, nil
}

var productConflicts = map[string]string{"products.code": "code", "products.id": "id"}

// CreateProduct adds a product to the catalogue; codes are unique.
func (s *Store) CreateProduct(ctx context.Context, p *store.Product) error {
	if p.Code == "" {
		return &store.ErrInvalid{Field: "code", Reason: "required"}
	}
	if p.ID == "" {
		p.ID = store.NewID()
	}
	at := now()
	_, err := s.wr.ExecContext(ctx, `INSERT INTO products (id, code, name, version, created, updated) VALUES (?, ?, ?, 1, ?, ?)`,
		p.ID, p.Code, p.Name, at.UnixMilli(), at.UnixMilli())
	if err != nil {
		return constraint(err, productConflicts, nil)
	}
	p.Version, p.CreatedAt, p.UpdatedAt = 1, at, at
	return nil
}

// GetProduct reads a product by id.
func (s *Store) GetProduct(ctx context.Context, id string) (*store.Product, error) {
	p, err := scanProduct(s.rd.QueryRowContext(ctx, `SELECT `+productCols+` FROM products WHERE id = ?`, id))
	return p, notFound(err)
}

// GetProductByCode reads a product by its code (exact).
func (s *Store) GetProductByCode(ctx context.Context, code string) (*store.Product, error) {
	p, err := scanProduct(s.rd.QueryRowContext(ctx, `SELECT `+productCols+` FROM products WHERE code = ?`, code))
	return p, notFound(err)
}

// UpdateProduct writes p if its Version is still the stored one.
func (s *Store) UpdateProduct(ctx context.Context, p *store.Product) error {
	if p.Code == "" {
		return &store.ErrInvalid{Field: "code", Reason: "required"}
	}
	at := now()
	var created int64
	err := s.tx(ctx, func(tx *wtx) error {
		err := tx.QueryRowContext(ctx, `UPDATE products SET code = ?, name = ?, version = version + 1, updated = ?
			WHERE id = ? AND version = ? RETURNING created`, p.Code, p.Name, at.UnixMilli(), p.ID, p.Version).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return casMiss(ctx, tx, "products", "", p.ID)
		}
		return constraint(err, productConflicts, nil)
	})
	if err != nil {
		return err
	}
	p.Version, p.UpdatedAt, p.CreatedAt = p.Version+1, at, msTime(created)
	return nil
}

// ListProducts lists the catalogue by code.
func (s *Store) ListProducts(ctx context.Context) ([]*store.Product, error) {
	return list(ctx, s.rd, scanProduct, `SELECT `+productCols+` FROM products ORDER BY code`)
}
