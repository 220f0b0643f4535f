package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/store"
)

type sessionDoc struct {
	Hash       string    `bson:"_id"`
	Subject    string    `bson:"subject"`
	Email      string    `bson:"email,omitempty"`
	Name       string    `bson:"name,omitempty"`
	Role       string    `bson:"role"`
	TenantID   string    `bson:"tenantId,omitempty"`
	IDToken    string    `bson:"idToken,omitempty"`
	CreatedAt  time.Time `bson:"createdAt"`
	LastSeenAt time.Time `bson:"lastSeenAt"`
	ExpiresAt  time.Time `bson:"expiresAt"`
}

// CreateSession stores a new portal session, keyed by its secret's hash.
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
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.c.sessions.InsertOne(ctx, sessionDoc{Hash: ss.Hash, Subject: ss.Subject, Email: ss.Email, Name: ss.Name, Role: ss.Role,
		TenantID: ss.TenantID, IDToken: ss.IDToken, CreatedAt: ss.CreatedAt, LastSeenAt: ss.LastSeenAt, ExpiresAt: ss.ExpiresAt})
	if c, ok := store.IsConflict(mapErr(err, collSessions)); ok && c.Attr == "id" {
		return &store.ErrConflict{Attr: "hash"}
	}
	return mapErr(err, collSessions)
}

// GetSession finds a session by the hash of its cookie secret.
func (s *Store) GetSession(ctx context.Context, hash string) (*store.Session, error) {
	d, err := findOne[sessionDoc](ctx, s.c.sessions, idFilter("", hash))
	if err != nil {
		return nil, err
	}
	return &store.Session{Hash: d.Hash, Subject: d.Subject, Email: d.Email, Name: d.Name, Role: d.Role, TenantID: d.TenantID,
		IDToken: d.IDToken, CreatedAt: d.CreatedAt, LastSeenAt: d.LastSeenAt, ExpiresAt: d.ExpiresAt}, nil
}

// TouchSession records activity.
func (s *Store) TouchSession(ctx context.Context, hash string, at time.Time) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := s.c.sessions.UpdateOne(ctx, idFilter("", hash), bson.D{{Key: "$set", Value: bson.D{{Key: "lastSeenAt", Value: store.Timestamp(at)}}}})
	if err != nil {
		return mapErr(err, collSessions)
	}
	if res.MatchedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// DeleteSession ends a session; ending one that is gone is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.c.sessions.DeleteOne(ctx, idFilter("", hash))
	return mapErr(err, collSessions)
}

// DeleteExpiredSessions removes sessions whose absolute end is before t.
// Expiry is this explicit sweep, not a TTL index, so a session ends at
// the same moment on every backend.
func (s *Store) DeleteExpiredSessions(ctx context.Context, before time.Time) (int, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := s.c.sessions.DeleteMany(ctx, bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: before}}}})
	if err != nil {
		return 0, mapErr(err, collSessions)
	}
	return int(res.DeletedCount), nil
}

type seatRequestDoc struct {
	ID          string    `bson:"_id"`
	TenantID    string    `bson:"tenantId"`
	PoolID      string    `bson:"poolId"`
	Seats       int       `bson:"seats"`
	Note        string    `bson:"note,omitempty"`
	State       string    `bson:"state"`
	RequestedBy string    `bson:"requestedBy,omitempty"`
	DecidedBy   string    `bson:"decidedBy,omitempty"`
	CreatedAt   time.Time `bson:"createdAt"`
	DecidedAt   time.Time `bson:"decidedAt,omitempty"`
	Version     int64     `bson:"version"`
}

func (d *seatRequestDoc) record() *store.SeatRequest {
	return &store.SeatRequest{TenantID: d.TenantID, ID: d.ID, PoolID: d.PoolID, Seats: d.Seats, Note: d.Note, State: d.State,
		RequestedBy: d.RequestedBy, DecidedBy: d.DecidedBy, CreatedAt: d.CreatedAt, DecidedAt: d.DecidedAt, Version: d.Version}
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
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := s.pool(ctx, r.TenantID, r.PoolID); errors.Is(err, store.ErrNotFound) {
		return &store.ErrInvalid{Field: "poolId", Reason: "no such pool"}
	} else if err != nil {
		return err
	}
	at := now()
	r.DecidedAt = stamp(r.DecidedAt)
	_, err := s.c.seatRequests.InsertOne(ctx, seatRequestDoc{ID: r.ID, TenantID: r.TenantID, PoolID: r.PoolID, Seats: r.Seats, Note: r.Note,
		State: r.State, RequestedBy: r.RequestedBy, DecidedBy: r.DecidedBy, CreatedAt: at, DecidedAt: r.DecidedAt, Version: 1})
	if err != nil {
		return mapErr(err, collSeatRequests)
	}
	r.Version, r.CreatedAt = 1, at
	return nil
}

// GetSeatRequest reads one request of the tenant.
func (s *Store) GetSeatRequest(ctx context.Context, tenantID, id string) (*store.SeatRequest, error) {
	d, err := findOne[seatRequestDoc](ctx, s.c.seatRequests, idFilter(tenantID, id))
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// UpdateSeatRequest writes a decision with compare-and-set.
func (s *Store) UpdateSeatRequest(ctx context.Context, r *store.SeatRequest) error {
	r.DecidedAt = stamp(r.DecidedAt)
	set := bson.D{{Key: "seats", Value: r.Seats}, {Key: "note", Value: r.Note}, {Key: "state", Value: r.State}, {Key: "decidedBy", Value: r.DecidedBy}}
	upd := bson.D{{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}}
	if r.DecidedAt.IsZero() {
		upd = append(upd, bson.E{Key: "$unset", Value: bson.D{{Key: "decidedAt", Value: ""}}})
	} else {
		set = append(set, bson.E{Key: "decidedAt", Value: r.DecidedAt})
	}
	upd = append(upd, bson.E{Key: "$set", Value: set})
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := s.c.seatRequests.UpdateOne(ctx, append(idFilter(r.TenantID, r.ID), bson.E{Key: "version", Value: r.Version}), upd)
	if err != nil {
		return mapErr(err, collSeatRequests)
	}
	if res.MatchedCount == 0 {
		return casMiss(ctx, s.c.seatRequests, idFilter(r.TenantID, r.ID))
	}
	r.Version++
	return nil
}

// ListSeatRequests lists requests newest first, of one tenant or of all
// when tenantID is "".
func (s *Store) ListSeatRequests(ctx context.Context, tenantID, state string) ([]*store.SeatRequest, error) {
	filter := bson.D{}
	if tenantID != "" {
		filter = append(filter, bson.E{Key: "tenantId", Value: tenantID})
	}
	if state != "" {
		filter = append(filter, bson.E{Key: "state", Value: state})
	}
	ds, err := findAll[seatRequestDoc](ctx, s.c.seatRequests, filter, options.Find().SetSort(sortBy("createdAt", -1, "_id", -1)).SetLimit(1000))
	if err != nil {
		return nil, err
	}
	out := make([]*store.SeatRequest, len(ds))
	for i := range ds {
		out[i] = ds[i].record()
	}
	return out, nil
}

type poolSampleDoc struct {
	TenantID string    `bson:"tenantId"`
	PoolID   string    `bson:"poolId"`
	At       time.Time `bson:"at"`
	Total    int       `bson:"total"`
	Assigned int       `bson:"assigned"`
	Overage  int       `bson:"overage"`
	Waiting  int       `bson:"waiting"`
}

// AddPoolSample records a pool's usage; a second sample at the same
// millisecond replaces the first (one upsert on the unique key).
func (s *Store) AddPoolSample(ctx context.Context, p *store.PoolSample) error {
	p.At = store.Timestamp(p.At)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	key := bson.D{{Key: "tenantId", Value: p.TenantID}, {Key: "poolId", Value: p.PoolID}, {Key: "at", Value: p.At}}
	_, err := s.c.samples.ReplaceOne(ctx, key, poolSampleDoc{TenantID: p.TenantID, PoolID: p.PoolID, At: p.At, Total: p.Total,
		Assigned: p.Assigned, Overage: p.Overage, Waiting: p.Waiting}, options.Replace().SetUpsert(true))
	return mapErr(err, collSamples)
}

// PoolSamples returns a pool's samples since a time, oldest first.
func (s *Store) PoolSamples(ctx context.Context, tenantID, poolID string, since time.Time) ([]*store.PoolSample, error) {
	ds, err := findAll[poolSampleDoc](ctx, s.c.samples, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "poolId", Value: poolID},
		{Key: "at", Value: bson.D{{Key: "$gte", Value: since}}}}, options.Find().SetSort(sortBy("at", 1)).SetLimit(10000))
	if err != nil {
		return nil, err
	}
	out := make([]*store.PoolSample, len(ds))
	for i, d := range ds {
		out[i] = &store.PoolSample{TenantID: d.TenantID, PoolID: d.PoolID, At: d.At, Total: d.Total, Assigned: d.Assigned,
			Overage: d.Overage, Waiting: d.Waiting}
	}
	return out, nil
}
