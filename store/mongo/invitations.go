package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/store"
)

type invitationDoc struct {
	ID        string    `bson:"_id"`
	TenantID  string    `bson:"tenantId"`
	UserID    string    `bson:"userId"`
	Kind      string    `bson:"kind"`
	TokenHash string    `bson:"tokenHash"`
	ExpiresAt time.Time `bson:"expiresAt,omitempty"`
	UsedAt    time.Time `bson:"usedAt,omitempty"`
	CreatedAt time.Time `bson:"createdAt"`
	Version   int64     `bson:"version"`
}

func (d *invitationDoc) record() *store.Invitation {
	return &store.Invitation{TenantID: d.TenantID, ID: d.ID, UserID: d.UserID, Kind: d.Kind, TokenHash: d.TokenHash,
		ExpiresAt: d.ExpiresAt, UsedAt: d.UsedAt, CreatedAt: d.CreatedAt, Version: d.Version}
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
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	ok, err := s.userExists(ctx, inv.TenantID, inv.UserID)
	if err != nil {
		return err
	}
	if !ok {
		return &store.ErrInvalid{Field: "userId", Reason: "no such user"}
	}
	at := now()
	d := invitationDoc{ID: inv.ID, TenantID: inv.TenantID, UserID: inv.UserID, Kind: inv.Kind, TokenHash: inv.TokenHash,
		ExpiresAt: stamp(inv.ExpiresAt), UsedAt: stamp(inv.UsedAt), CreatedAt: at, Version: 1}
	if _, err := s.c.invitations.InsertOne(ctx, d); err != nil {
		return mapErr(err, collInvitations)
	}
	inv.Version, inv.CreatedAt, inv.ExpiresAt, inv.UsedAt = 1, at, d.ExpiresAt, d.UsedAt
	return nil
}

// InvitationByHash finds an invitation of any tenant by its secret's hash.
func (s *Store) InvitationByHash(ctx context.Context, hash string) (*store.Invitation, error) {
	d, err := findOne[invitationDoc](ctx, s.c.invitations, bson.D{{Key: "tokenHash", Value: hash}})
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// unexpired matches invitations without expiry or expiring after at.
func unexpired(at time.Time) bson.E {
	return bson.E{Key: "$or", Value: bson.A{
		bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$gt", Value: at}}}},
	}}
}

// UseInvitation marks the invitation used at at, once, before it expires:
// the conditions are in the filter of the one write, so two nodes cannot
// both use it.
func (s *Store) UseInvitation(ctx context.Context, tenantID, id string, at time.Time) error {
	at = store.Timestamp(at)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := s.c.invitations.UpdateOne(ctx,
		append(idFilter(tenantID, id), bson.E{Key: "usedAt", Value: bson.D{{Key: "$exists", Value: false}}}, unexpired(at)),
		bson.D{{Key: "$set", Value: bson.D{{Key: "usedAt", Value: at}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}})
	if err != nil {
		return mapErr(err, collInvitations)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	if err := existsOrNotFound(ctx, s.c.invitations, idFilter(tenantID, id)); err != nil {
		return err
	}
	return store.ErrExpired
}

// RevokeInvitations makes every unused invitation of the user expire at
// at (unless it expires earlier already).
func (s *Store) RevokeInvitations(ctx context.Context, tenantID, userID string, at time.Time) error {
	at = store.Timestamp(at)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.c.invitations.UpdateMany(ctx,
		bson.D{{Key: "tenantId", Value: tenantID}, {Key: "userId", Value: userID}, {Key: "usedAt", Value: bson.D{{Key: "$exists", Value: false}}}, unexpired(at)},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expiresAt", Value: at}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}})
	return mapErr(err, collInvitations)
}

// ListInvitations lists the user's invitations, newest first.
func (s *Store) ListInvitations(ctx context.Context, tenantID, userID string) ([]*store.Invitation, error) {
	ds, err := findAll[invitationDoc](ctx, s.c.invitations, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "userId", Value: userID}},
		options.Find().SetSort(sortBy("createdAt", -1, "_id", -1)))
	if err != nil {
		return nil, err
	}
	out := make([]*store.Invitation, len(ds))
	for i := range ds {
		out[i] = ds[i].record()
	}
	return out, nil
}
