package mongo

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/store"
)

func validateUser(u *store.User) error {
	switch {
	case u.TenantID == "":
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	case u.UserName == "":
		return &store.ErrInvalid{Field: "userName", Reason: "required"}
	}
	return nil
}

// CreateUser inserts u, filling ID (when empty), Version and timestamps.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	if err := validateUser(u); err != nil {
		return err
	}
	if u.ID == "" {
		u.ID = store.NewID()
	}
	t := now()
	nu := *u
	nu.Version, nu.CreatedAt, nu.UpdatedAt = 1, t, t
	d, err := toUserDoc(&nu)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := s.c.users.InsertOne(ctx, d); err != nil {
		return mapErr(err, collUsers)
	}
	u.Version, u.CreatedAt, u.UpdatedAt = 1, t, t
	return nil
}

func (s *Store) userDoc(ctx context.Context, filter bson.D) (*userDoc, error) {
	return findOne[userDoc](ctx, s.c.users, filter)
}

// GetUser reads one user.
func (s *Store) GetUser(ctx context.Context, tenantID, id string) (*store.User, error) {
	d, err := s.userDoc(ctx, idFilter(tenantID, id))
	if err != nil {
		return nil, err
	}
	return d.record()
}

// GetUserByUserName reads the user whose userName folds to the same value.
func (s *Store) GetUserByUserName(ctx context.Context, tenantID, userName string) (*store.User, error) {
	d, err := s.userDoc(ctx, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "userNameNorm", Value: store.NormUserName(userName)}})
	if err != nil {
		return nil, err
	}
	return d.record()
}

// UpdateUser writes u if its Version is still the stored one.
func (s *Store) UpdateUser(ctx context.Context, u *store.User) error {
	if err := validateUser(u); err != nil {
		return err
	}
	t := now()
	nu := *u
	nu.Version, nu.UpdatedAt = u.Version+1, t
	d, err := toUserDoc(&nu)
	if err != nil {
		return err
	}
	upd, err := updateOf(d, "_id", "tenantId", "createdAt", "deleting")
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	filter := append(idFilter(u.TenantID, u.ID), bson.E{Key: "version", Value: u.Version})
	var stored userDoc
	err = s.c.users.FindOneAndUpdate(ctx, filter, upd,
		options.FindOneAndUpdate().SetReturnDocument(options.After).SetProjection(bson.D{{Key: "createdAt", Value: 1}})).Decode(&stored)
	if errors.Is(err, mongodrv.ErrNoDocuments) {
		return casMiss(ctx, s.c.users, idFilter(u.TenantID, u.ID))
	}
	if err != nil {
		return mapErr(err, collUsers)
	}
	u.Version, u.UpdatedAt, u.CreatedAt = nu.Version, t, stored.CreatedAt
	return nil
}

// DeleteUser removes the user and everything that hangs on it: its seats
// (returned to their pools), devices, group memberships (bumping those
// groups' versions, as their member lists changed), invitations, and last
// the user document. The steps are idempotent and the user is marked
// deleting first, so a DeleteUser that died half-way is finished by the
// next call, whatever version that call names.
func (s *Store) DeleteUser(ctx context.Context, tenantID, id string, version int64) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	d, err := s.userDoc(ctx, idFilter(tenantID, id))
	if err != nil {
		return err
	}
	if !d.Deleting {
		if version != 0 && d.Version != version {
			return store.ErrPrecondition
		}
		res, err := s.c.users.UpdateOne(ctx, append(idFilter(tenantID, id), bson.E{Key: "version", Value: d.Version}),
			bson.D{{Key: "$set", Value: bson.D{{Key: "deleting", Value: true}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}})
		if err != nil {
			return mapErr(err, collUsers)
		}
		if res.MatchedCount == 0 {
			return casMiss(ctx, s.c.users, idFilter(tenantID, id))
		}
	}
	if err := s.step("deleteUser.marked"); err != nil {
		return err
	}
	if err := s.dropUserDependents(ctx, tenantID, id); err != nil {
		return err
	}
	if err := s.step("deleteUser.dependents"); err != nil {
		return err
	}
	if _, err := s.c.users.DeleteOne(ctx, idFilter(tenantID, id)); err != nil {
		return mapErr(err, collUsers)
	}
	// A membership or seat written by a request that checked the user
	// existed just before it was marked is swept up here.
	return s.dropUserDependents(ctx, tenantID, id)
}

// dropUserDependents returns the user's seats and deletes the records that
// name the user.
func (s *Store) dropUserDependents(ctx context.Context, tenantID, userID string) error {
	as, err := findAll[assignmentDoc](ctx, s.c.assignments, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "userId", Value: userID}})
	if err != nil {
		return err
	}
	for i := range as {
		if err := s.deleteAssignment(ctx, &as[i]); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	byUser := bson.D{{Key: "tenantId", Value: tenantID}, {Key: "userId", Value: userID}}
	if _, err := s.c.devices.DeleteMany(ctx, byUser); err != nil {
		return mapErr(err, collDevices)
	}
	if _, err := s.c.invitations.DeleteMany(ctx, byUser); err != nil {
		return mapErr(err, collInvitations)
	}
	return s.dropMemberEverywhere(ctx, tenantID, userID)
}

// dropMemberEverywhere removes memberID from every group it belongs to,
// bumping those groups' versions first (a crash between the two leaves a
// spurious version change, never an unannounced member-list change).
func (s *Store) dropMemberEverywhere(ctx context.Context, tenantID, memberID string) error {
	filter := bson.D{{Key: "tenantId", Value: tenantID}, {Key: "memberId", Value: memberID}}
	groupIDs, err := s.distinctStrings(ctx, s.c.members, "groupId", filter)
	if err != nil {
		return err
	}
	if len(groupIDs) > 0 {
		if _, err := s.c.groups.UpdateMany(ctx,
			bson.D{{Key: "tenantId", Value: tenantID}, {Key: "_id", Value: bson.D{{Key: "$in", Value: groupIDs}}}},
			bumpVersion(now())); err != nil {
			return mapErr(err, collGroups)
		}
	}
	if _, err := s.c.members.DeleteMany(ctx, filter); err != nil {
		return mapErr(err, collMembers)
	}
	return nil
}

// bumpVersion is the update recording that a record changed at t without
// a change of its own fields (a group's member list).
func bumpVersion(t any) bson.D {
	return bson.D{
		{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}},
		{Key: "$set", Value: bson.D{{Key: "updatedAt", Value: t}}},
	}
}

// distinctStrings returns the distinct string values of field.
func (s *Store) distinctStrings(ctx context.Context, coll *mongodrv.Collection, field string, filter bson.D) ([]string, error) {
	res := coll.Distinct(ctx, field, filter)
	if err := res.Err(); err != nil {
		return nil, mapErr(err, coll.Name())
	}
	var out []string
	if err := res.Decode(&out); err != nil {
		return nil, mapErr(err, coll.Name())
	}
	return out, nil
}
