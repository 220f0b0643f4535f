package sqlite

import (
	"context"
	"database/sql"

	"github.com/roster-scim/roster/store"
)

const poolCols = `tenant_id, id, product_id, total, assigned, overage, starts_at, ends_at, max_devices, policy, auto_assign, version, created, updated`

func scanPool(sc scanner) (*store.Pool, error) {
	p := new(store.Pool)
	var starts, ends sql.NullInt64
	var created, updated int64
	if err := sc.Scan(&p.TenantID, &p.ID, &p.ProductID, &p.Total, &p.Assigned, &p.Overage, &starts, &ends,
		&p.MaxDevicesPerSeat, &p.Policy, &p.AutoAssign, &p.Version, &created, &updated); err != nil {
		return nil, err
	}
	p.StartsAt, p.EndsAt = fromMS(starts), fromMS(ends)
	p.CreatedAt, p.UpdatedAt = msTime(created), msTime(updated)
	return p, nil
}

func validatePool(p *store.Pool) error {
	switch {
	case p.TenantID == "":
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	case p.Total < 0:
		return &store.ErrInvalid{Field: "total", Reason: "must not be negative"}
	case p.MaxDevicesPerSeat < 0:
		return &store.ErrInvalid{Field: "maxDevicesPerSeat", Reason: "must not be negative"}
	case p.Policy != "" && p.Policy != store.PolicyDeny && p.Policy != store.PolicyAllowOver:
		return &store.ErrInvalid{Field: "policy", Reason: "must be deny or allow-over"}
	case !p.StartsAt.IsZero() && !p.EndsAt.IsZero() && !p.EndsAt.After(p.StartsAt):
		return &store.ErrInvalid{Field: "endsAt", Reason: "must be after startsAt"}
	}
	return nil
}

// CreatePool creates the tenant's pool of a product (one per product). Its
// counters start at zero whatever p says: only the seat protocol moves
// them. An empty Policy means deny.
func (s *Store) CreatePool(ctx context.Context, p *store.Pool) error {
	if err := validatePool(p); err != nil {
		return err
	}
	if p.Policy == "" {
		p.Policy = store.PolicyDeny
	}
	if p.ID == "" {
		p.ID = store.NewID()
	}
	at := now()
	err := s.tx(ctx, func(tx *wtx) error {
		ok, err := exists(ctx, tx, `SELECT 1 FROM products WHERE id = ?`, p.ProductID)
		if err != nil {
			return err
		}
		if !ok {
			return &store.ErrInvalid{Field: "productId", Reason: "no such product"}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO pools (tenant_id, id, product_id, total, assigned, overage, starts_at, ends_at, max_devices, policy, auto_assign, version, created, updated)
			VALUES (?, ?, ?, ?, 0, 0, ?, ?, ?, ?, ?, 1, ?, ?)`,
			p.TenantID, p.ID, p.ProductID, p.Total, ms(p.StartsAt), ms(p.EndsAt), p.MaxDevicesPerSeat, p.Policy, boolInt(p.AutoAssign), at.UnixMilli(), at.UnixMilli())
		return constraint(err, map[string]string{"pools.product_id": "productId", "pools.id": "id"}, nil)
	})
	if err != nil {
		return err
	}
	p.Assigned, p.Overage, p.Version, p.CreatedAt, p.UpdatedAt = 0, 0, 1, at, at
	p.StartsAt, p.EndsAt = store.Timestamp(p.StartsAt), store.Timestamp(p.EndsAt)
	return nil
}

// GetPool reads a pool.
func (s *Store) GetPool(ctx context.Context, tenantID, id string) (*store.Pool, error) {
	p, err := scanPool(s.rd.QueryRowContext(ctx, `SELECT `+poolCols+` FROM pools WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return p, notFound(err)
}

// GetPoolByProduct reads the tenant's pool of a product.
func (s *Store) GetPoolByProduct(ctx context.Context, tenantID, productID string) (*store.Pool, error) {
	p, err := scanPool(s.rd.QueryRowContext(ctx, `SELECT `+poolCols+` FROM pools WHERE tenant_id = ? AND product_id = ?`, tenantID, productID))
	return p, notFound(err)
}

// UpdatePool writes the pool's terms. Seat counters are not versioned
// (claims do not bump Version), so an admin editing terms does not race
// every seat claim; the Total check and the write share one transaction.
func (s *Store) UpdatePool(ctx context.Context, p *store.Pool) error {
	if err := validatePool(p); err != nil {
		return err
	}
	if p.Policy == "" {
		p.Policy = store.PolicyDeny
	}
	at := now()
	var stored *store.Pool
	err := s.tx(ctx, func(tx *wtx) error {
		cur, err := scanPool(tx.QueryRowContext(ctx, `SELECT `+poolCols+` FROM pools WHERE tenant_id = ? AND id = ?`, p.TenantID, p.ID))
		if err != nil {
			return notFound(err)
		}
		if cur.Version != p.Version {
			return store.ErrPrecondition
		}
		if p.Total < cur.Assigned {
			return &store.ErrInvalid{Field: "total", Reason: "below the number of assigned seats"}
		}
		_, err = tx.ExecContext(ctx, `UPDATE pools SET total = ?, starts_at = ?, ends_at = ?, max_devices = ?, policy = ?, auto_assign = ?, version = version + 1, updated = ?
			WHERE tenant_id = ? AND id = ?`,
			p.Total, ms(p.StartsAt), ms(p.EndsAt), p.MaxDevicesPerSeat, p.Policy, boolInt(p.AutoAssign), at.UnixMilli(), p.TenantID, p.ID)
		if err != nil {
			return constraint(err, nil, &store.ErrInvalid{Field: "total", Reason: "below the number of assigned seats"})
		}
		stored = cur
		return nil
	})
	if err != nil {
		return err
	}
	p.ProductID, p.Assigned, p.Overage = stored.ProductID, stored.Assigned, stored.Overage
	p.Version, p.CreatedAt, p.UpdatedAt = stored.Version+1, stored.CreatedAt, at
	p.StartsAt, p.EndsAt = store.Timestamp(p.StartsAt), store.Timestamp(p.EndsAt)
	return nil
}

// ListPools lists the tenant's pools, oldest first.
func (s *Store) ListPools(ctx context.Context, tenantID string) ([]*store.Pool, error) {
	return list(ctx, s.rd, scanPool, `SELECT `+poolCols+` FROM pools WHERE tenant_id = ? ORDER BY created, id`, tenantID)
}

// DeletePool removes the pool with its rules and assignments; devices bound
// to those assignments stay, unbound.
func (s *Store) DeletePool(ctx context.Context, tenantID, id string) error {
	return s.tx(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM pools WHERE tenant_id = ? AND id = ?`, tenantID, id)
		if err != nil {
			return err
		}
		if rowsAffected(res) == 0 {
			return store.ErrNotFound
		}
		t := now().UnixMilli()
		for _, q := range []string{
			`UPDATE devices SET assignment_id = '', version = version + 1, updated = ?3
				WHERE tenant_id = ?1 AND assignment_id IN (SELECT id FROM assignments WHERE tenant_id = ?1 AND pool_id = ?2)`,
			`DELETE FROM assignments WHERE tenant_id = ?1 AND pool_id = ?2`,
			`DELETE FROM rules WHERE tenant_id = ?1 AND pool_id = ?2`,
		} {
			if _, err := tx.ExecContext(ctx, q, tenantID, id, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// Rules.

const ruleCols = `tenant_id, id, group_id, pool_id, version, created`

func scanRule(sc scanner) (*store.Rule, error) {
	r := new(store.Rule)
	var created int64
	if err := sc.Scan(&r.TenantID, &r.ID, &r.GroupID, &r.PoolID, &r.Version, &created); err != nil {
		return nil, err
	}
	r.CreatedAt = msTime(created)
	return r, nil
}

// CreateRule links a group of the tenant to a pool of the tenant.
func (s *Store) CreateRule(ctx context.Context, r *store.Rule) error {
	if r.ID == "" {
		r.ID = store.NewID()
	}
	at := now()
	err := s.tx(ctx, func(tx *wtx) error {
		if ok, err := exists(ctx, tx, `SELECT 1 FROM groups WHERE tenant_id = ? AND id = ?`, r.TenantID, r.GroupID); err != nil || !ok {
			if err == nil {
				err = &store.ErrInvalid{Field: "groupId", Reason: "no such group"}
			}
			return err
		}
		if ok, err := exists(ctx, tx, `SELECT 1 FROM pools WHERE tenant_id = ? AND id = ?`, r.TenantID, r.PoolID); err != nil || !ok {
			if err == nil {
				err = &store.ErrInvalid{Field: "poolId", Reason: "no such pool"}
			}
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO rules (tenant_id, id, group_id, pool_id, version, created) VALUES (?, ?, ?, ?, 1, ?)`,
			r.TenantID, r.ID, r.GroupID, r.PoolID, at.UnixMilli())
		return constraint(err, map[string]string{"rules.group_id": "rule", "rules.id": "id"}, nil)
	})
	if err != nil {
		return err
	}
	r.Version, r.CreatedAt = 1, at
	return nil
}

// DeleteRule removes a rule; seats it granted stay until released.
func (s *Store) DeleteRule(ctx context.Context, tenantID, id string) error {
	res, err := s.wr.ExecContext(ctx, `DELETE FROM rules WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return err
	}
	if rowsAffected(res) == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ListRules lists the tenant's rules, oldest first.
func (s *Store) ListRules(ctx context.Context, tenantID string) ([]*store.Rule, error) {
	// A tenant's rules are a handful of rows: not worth watching the
	// caller's cancellation, which costs two goroutines a query (see
	// cdb.detach). SyncUser reads them after every change of active.
	return list(context.WithoutCancel(ctx), s.rd, scanRule, `SELECT `+ruleCols+` FROM rules WHERE tenant_id = ? ORDER BY created, id`, tenantID)
}
