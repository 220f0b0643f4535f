package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/store"
)

type poolDoc struct {
	ID                string    `bson:"_id"`
	TenantID          string    `bson:"tenantId"`
	ProductID         string    `bson:"productId"`
	Total             int       `bson:"total"`
	Assigned          int       `bson:"assigned"`
	Overage           int       `bson:"overage"`
	StartsAt          time.Time `bson:"startsAt,omitempty"`
	EndsAt            time.Time `bson:"endsAt,omitempty"`
	MaxDevicesPerSeat int       `bson:"maxDevicesPerSeat"`
	Policy            string    `bson:"policy"`
	AutoAssign        bool      `bson:"autoAssign,omitempty"`
	Version           int64     `bson:"version"`
	CreatedAt         time.Time `bson:"createdAt"`
	UpdatedAt         time.Time `bson:"updatedAt"`
	// Seq changes with every change of the counters or the journal, so
	// Recount can set the counters only if nothing moved while it counted.
	Seq int64 `bson:"seq"`
	// Journal holds the seat steps in flight (see seats.go): a handful of
	// entries at most, each removed by the step that completes it.
	Journal  []journalEntry `bson:"journal"`
	Deleting bool           `bson:"deleting,omitempty"`
}

func (d *poolDoc) record() *store.Pool {
	return &store.Pool{
		TenantID: d.TenantID, ID: d.ID, ProductID: d.ProductID, Total: d.Total, Assigned: d.Assigned, Overage: d.Overage,
		StartsAt: d.StartsAt, EndsAt: d.EndsAt, MaxDevicesPerSeat: d.MaxDevicesPerSeat, Policy: d.Policy,
		AutoAssign: d.AutoAssign, Version: d.Version, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
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
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if err := existsOrNotFound(ctx, s.c.products, idFilter("", p.ProductID)); errors.Is(err, store.ErrNotFound) {
		return &store.ErrInvalid{Field: "productId", Reason: "no such product"}
	} else if err != nil {
		return err
	}
	at := now()
	d := poolDoc{
		ID: p.ID, TenantID: p.TenantID, ProductID: p.ProductID, Total: p.Total,
		StartsAt: stamp(p.StartsAt), EndsAt: stamp(p.EndsAt), MaxDevicesPerSeat: p.MaxDevicesPerSeat, Policy: p.Policy,
		AutoAssign: p.AutoAssign, Version: 1, CreatedAt: at, UpdatedAt: at, Journal: []journalEntry{},
	}
	if _, err := s.c.pools.InsertOne(ctx, d); err != nil {
		return mapErr(err, collPools)
	}
	p.Assigned, p.Overage, p.Version, p.CreatedAt, p.UpdatedAt = 0, 0, 1, at, at
	p.StartsAt, p.EndsAt = d.StartsAt, d.EndsAt
	return nil
}

// pool reads a pool that is not being deleted.
func (s *Store) pool(ctx context.Context, tenantID, id string) (*poolDoc, error) {
	d, err := findOne[poolDoc](ctx, s.c.pools, idFilter(tenantID, id))
	if err != nil {
		return nil, err
	}
	if d.Deleting {
		return nil, store.ErrNotFound
	}
	return d, nil
}

// GetPool reads a pool.
func (s *Store) GetPool(ctx context.Context, tenantID, id string) (*store.Pool, error) {
	d, err := s.pool(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// GetPoolByProduct reads the tenant's pool of a product.
func (s *Store) GetPoolByProduct(ctx context.Context, tenantID, productID string) (*store.Pool, error) {
	d, err := findOne[poolDoc](ctx, s.c.pools, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "productId", Value: productID},
		{Key: "deleting", Value: bson.D{{Key: "$ne", Value: true}}}})
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// UpdatePool writes the pool's terms. The Total check is part of the
// filter of the one conditional write, so it cannot race a seat claim:
// either the claim's assigned < total or this write's assigned <= total
// sees the other's result. Claims do not bump Version, so an admin
// editing terms does not race every claim.
func (s *Store) UpdatePool(ctx context.Context, p *store.Pool) error {
	if err := validatePool(p); err != nil {
		return err
	}
	if p.Policy == "" {
		p.Policy = store.PolicyDeny
	}
	at := now()
	set := bson.D{{Key: "total", Value: p.Total}, {Key: "maxDevicesPerSeat", Value: p.MaxDevicesPerSeat},
		{Key: "policy", Value: p.Policy}, {Key: "autoAssign", Value: p.AutoAssign}, {Key: "updatedAt", Value: at}}
	unset := bson.D{}
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"startsAt", p.StartsAt}, {"endsAt", p.EndsAt}} {
		if f.t.IsZero() {
			unset = append(unset, bson.E{Key: f.name, Value: ""})
		} else {
			set = append(set, bson.E{Key: f.name, Value: store.Timestamp(f.t)})
		}
	}
	upd := bson.D{{Key: "$set", Value: set}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}}
	if len(unset) > 0 {
		upd = append(upd, bson.E{Key: "$unset", Value: unset})
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	filter := append(idFilter(p.TenantID, p.ID),
		bson.E{Key: "version", Value: p.Version},
		bson.E{Key: "assigned", Value: bson.D{{Key: "$lte", Value: p.Total}}},
		bson.E{Key: "deleting", Value: bson.D{{Key: "$ne", Value: true}}})
	var stored poolDoc
	err := s.c.pools.FindOneAndUpdate(ctx, filter, upd, options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&stored)
	if errors.Is(err, mongodrv.ErrNoDocuments) {
		cur, err := s.pool(ctx, p.TenantID, p.ID)
		switch {
		case err != nil:
			return err
		case cur.Version != p.Version:
			return store.ErrPrecondition
		}
		return &store.ErrInvalid{Field: "total", Reason: "below the number of assigned seats"}
	}
	if err != nil {
		return mapErr(err, collPools)
	}
	*p = *stored.record()
	return nil
}

// ListPools lists the tenant's pools, oldest first.
func (s *Store) ListPools(ctx context.Context, tenantID string) ([]*store.Pool, error) {
	ds, err := findAll[poolDoc](ctx, s.c.pools, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "deleting", Value: bson.D{{Key: "$ne", Value: true}}}},
		options.Find().SetSort(sortBy("createdAt", 1, "_id", 1)))
	if err != nil {
		return nil, err
	}
	out := make([]*store.Pool, len(ds))
	for i := range ds {
		out[i] = ds[i].record()
	}
	return out, nil
}

// DeletePool removes the pool with its rules and assignments; devices bound
// to those assignments stay, unbound. The pool is marked first (no new
// claims), then its dependents go, then the pool document, then a sweep
// catches a claim that slipped in before the mark.
func (s *Store) DeletePool(ctx context.Context, tenantID, id string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := s.c.pools.UpdateOne(ctx, idFilter(tenantID, id), bson.D{{Key: "$set", Value: bson.D{{Key: "deleting", Value: true}}}})
	if err != nil {
		return mapErr(err, collPools)
	}
	if res.MatchedCount == 0 {
		return store.ErrNotFound
	}
	if err := s.dropPoolDependents(ctx, tenantID, id); err != nil {
		return err
	}
	if err := s.step("deletePool.dependents"); err != nil {
		return err
	}
	if _, err := s.c.pools.DeleteOne(ctx, idFilter(tenantID, id)); err != nil {
		return mapErr(err, collPools)
	}
	return s.dropPoolDependents(ctx, tenantID, id)
}

func (s *Store) dropPoolDependents(ctx context.Context, tenantID, poolID string) error {
	byPool := bson.D{{Key: "tenantId", Value: tenantID}, {Key: "poolId", Value: poolID}}
	if _, err := s.c.rules.DeleteMany(ctx, byPool); err != nil {
		return mapErr(err, collRules)
	}
	ids, err := s.distinctStrings(ctx, s.c.assignments, "_id", byPool)
	if err != nil || len(ids) == 0 {
		return err
	}
	if err := s.unbindDevicesOf(ctx, tenantID, ids); err != nil {
		return err
	}
	_, err = s.c.assignments.DeleteMany(ctx, append(byPool, bson.E{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}))
	return mapErr(err, collAssignments)
}

// unbindDevicesOf detaches the devices of assignments that are going
// away; the device records stay so the admin still sees them.
func (s *Store) unbindDevicesOf(ctx context.Context, tenantID string, assignmentIDs []string) error {
	_, err := s.c.devices.UpdateMany(ctx,
		bson.D{{Key: "tenantId", Value: tenantID}, {Key: "assignmentId", Value: bson.D{{Key: "$in", Value: assignmentIDs}}}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "assignmentId", Value: ""}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
			{Key: "$set", Value: bson.D{{Key: "updatedAt", Value: now()}}}})
	return mapErr(err, collDevices)
}

// Rules.

type ruleDoc struct {
	ID        string    `bson:"_id"`
	TenantID  string    `bson:"tenantId"`
	GroupID   string    `bson:"groupId"`
	PoolID    string    `bson:"poolId"`
	Version   int64     `bson:"version"`
	CreatedAt time.Time `bson:"createdAt"`
}

// CreateRule links a group of the tenant to a pool of the tenant.
func (s *Store) CreateRule(ctx context.Context, r *store.Rule) error {
	if r.ID == "" {
		r.ID = store.NewID()
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := s.groupVersion(ctx, r.TenantID, r.GroupID, 0); errors.Is(err, store.ErrNotFound) {
		return &store.ErrInvalid{Field: "groupId", Reason: "no such group"}
	} else if err != nil {
		return err
	}
	if _, err := s.pool(ctx, r.TenantID, r.PoolID); errors.Is(err, store.ErrNotFound) {
		return &store.ErrInvalid{Field: "poolId", Reason: "no such pool"}
	} else if err != nil {
		return err
	}
	at := now()
	if _, err := s.c.rules.InsertOne(ctx, ruleDoc{ID: r.ID, TenantID: r.TenantID, GroupID: r.GroupID, PoolID: r.PoolID, Version: 1, CreatedAt: at}); err != nil {
		return mapErr(err, collRules)
	}
	r.Version, r.CreatedAt = 1, at
	return nil
}

// DeleteRule removes a rule; seats it granted stay until released.
func (s *Store) DeleteRule(ctx context.Context, tenantID, id string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := s.c.rules.DeleteOne(ctx, idFilter(tenantID, id))
	if err != nil {
		return mapErr(err, collRules)
	}
	if res.DeletedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ListRules lists the tenant's rules, oldest first.
func (s *Store) ListRules(ctx context.Context, tenantID string) ([]*store.Rule, error) {
	ds, err := findAll[ruleDoc](ctx, s.c.rules, bson.D{{Key: "tenantId", Value: tenantID}}, options.Find().SetSort(sortBy("createdAt", 1, "_id", 1)))
	if err != nil {
		return nil, err
	}
	out := make([]*store.Rule, len(ds))
	for i, d := range ds {
		out[i] = &store.Rule{TenantID: d.TenantID, ID: d.ID, GroupID: d.GroupID, PoolID: d.PoolID, Version: d.Version, CreatedAt: d.CreatedAt}
	}
	return out, nil
}
