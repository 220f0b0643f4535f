package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/store"
)

type leaseDoc struct {
	ID        string    `bson:"_id"`
	TenantID  string    `bson:"tenantId"`
	UserID    string    `bson:"userId"`
	ProductID string    `bson:"productId"`
	DeviceID  string    `bson:"deviceId"`
	KeyID     string    `bson:"keyId"`
	IssuedAt  time.Time `bson:"issuedAt,omitempty"`
	ExpiresAt time.Time `bson:"expiresAt,omitempty"`
	RevokedAt time.Time `bson:"revokedAt,omitempty"`
}

// RecordLease keeps a record of an issued lease (ID is its jti).
func (s *Store) RecordLease(ctx context.Context, l *store.Lease) error {
	if l.TenantID == "" {
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	}
	if l.ID == "" {
		l.ID = store.NewID()
	}
	l.IssuedAt, l.ExpiresAt, l.RevokedAt = stamp(l.IssuedAt), stamp(l.ExpiresAt), stamp(l.RevokedAt)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.c.leases.InsertOne(ctx, leaseDoc{ID: l.ID, TenantID: l.TenantID, UserID: l.UserID, ProductID: l.ProductID,
		DeviceID: l.DeviceID, KeyID: l.KeyID, IssuedAt: l.IssuedAt, ExpiresAt: l.ExpiresAt, RevokedAt: l.RevokedAt})
	return mapErr(err, collLeases)
}

// GetLease reads a lease record.
func (s *Store) GetLease(ctx context.Context, tenantID, id string) (*store.Lease, error) {
	d, err := findOne[leaseDoc](ctx, s.c.leases, idFilter(tenantID, id))
	if err != nil {
		return nil, err
	}
	return &store.Lease{TenantID: d.TenantID, ID: d.ID, UserID: d.UserID, ProductID: d.ProductID, DeviceID: d.DeviceID,
		KeyID: d.KeyID, IssuedAt: d.IssuedAt, ExpiresAt: d.ExpiresAt, RevokedAt: d.RevokedAt}, nil
}

// RevokeDeviceLeases revokes every unrevoked lease of the device.
func (s *Store) RevokeDeviceLeases(ctx context.Context, tenantID, deviceID string, at time.Time) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.c.leases.UpdateMany(ctx, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "deviceId", Value: deviceID},
		{Key: "revokedAt", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revokedAt", Value: store.Timestamp(at)}}}})
	return mapErr(err, collLeases)
}

type keyDoc struct {
	ID        string    `bson:"_id"`
	TenantID  string    `bson:"tenantId"`
	Private   []byte    `bson:"private"`
	Public    []byte    `bson:"public"`
	CreatedAt time.Time `bson:"createdAt"`
	RetiredAt time.Time `bson:"retiredAt,omitempty"`
	NotAfter  time.Time `bson:"notAfter,omitempty"`
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
	k.CreatedAt, k.RetiredAt, k.NotAfter = store.Timestamp(k.CreatedAt), stamp(k.RetiredAt), stamp(k.NotAfter)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.c.keys.InsertOne(ctx, keyDoc{ID: k.ID, TenantID: k.TenantID, Private: nonNil(k.Private), Public: nonNil(k.Public),
		CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt, NotAfter: k.NotAfter})
	return mapErr(err, collKeys)
}

// nonNil stores a nil key as empty bytes, as the other backends read it.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// SigningKeys lists a tenant's keys, newest first.
func (s *Store) SigningKeys(ctx context.Context, tenantID string) ([]*store.SigningKey, error) {
	ds, err := findAll[keyDoc](ctx, s.c.keys, bson.D{{Key: "tenantId", Value: tenantID}}, options.Find().SetSort(sortBy("createdAt", -1, "_id", -1)))
	if err != nil {
		return nil, err
	}
	out := make([]*store.SigningKey, len(ds))
	for i, d := range ds {
		out[i] = &store.SigningKey{TenantID: d.TenantID, ID: d.ID, Private: d.Private, Public: d.Public,
			CreatedAt: d.CreatedAt, RetiredAt: d.RetiredAt, NotAfter: d.NotAfter}
	}
	return out, nil
}

// RetireSigningKey marks a key retired at at, published until notAfter.
func (s *Store) RetireSigningKey(ctx context.Context, tenantID, id string, at, notAfter time.Time) error {
	set, unset := bson.D{}, bson.D{}
	for _, f := range []struct {
		k string
		t time.Time
	}{{"retiredAt", at}, {"notAfter", notAfter}} {
		if f.t.IsZero() {
			unset = append(unset, bson.E{Key: f.k, Value: ""})
		} else {
			set = append(set, bson.E{Key: f.k, Value: store.Timestamp(f.t)})
		}
	}
	upd := bson.D{}
	if len(set) > 0 {
		upd = append(upd, bson.E{Key: "$set", Value: set})
	}
	if len(unset) > 0 {
		upd = append(upd, bson.E{Key: "$unset", Value: unset})
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := s.c.keys.UpdateOne(ctx, idFilter(tenantID, id), upd)
	if err != nil {
		return mapErr(err, collKeys)
	}
	if res.MatchedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Work leases: one document per lease name, {_id: name, holder,
// expiresAt, version}.

// AcquireLease takes the lease, renews it for its holder, or takes it over
// once expired, in one conditional upsert: the filter matches the lease
// only when it is ours or expired, so when another node holds it the
// upsert tries to insert a second document with the same _id and fails
// with a duplicate key, which means "held". Expiry is judged by the
// caller's clock (now), never by a TTL index.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, at time.Time, ttl time.Duration) (bool, error) {
	if name == "" || holder == "" {
		return false, &store.ErrInvalid{Field: "lease", Reason: "name and holder are required"}
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	at = store.Timestamp(at)
	filter := bson.D{{Key: "_id", Value: name}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "holder", Value: holder}},
		bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lte", Value: at}}}},
	}}}
	upd := bson.D{
		{Key: "$set", Value: bson.D{{Key: "holder", Value: holder}, {Key: "expiresAt", Value: store.Timestamp(at.Add(ttl))}}},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
	}
	_, err := s.c.work.UpdateOne(ctx, filter, upd, options.UpdateOne().SetUpsert(true))
	if mongodrv.IsDuplicateKeyError(err) {
		return false, nil
	}
	if err != nil {
		return false, mapErr(err, collWork)
	}
	return true, nil
}

// ReleaseLease gives the lease up if holder holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.c.work.DeleteOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "holder", Value: holder}})
	return mapErr(err, collWork)
}
