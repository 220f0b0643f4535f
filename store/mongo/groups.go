package mongo

import (
	"context"
	"errors"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/store"
)

func validateGroup(g *store.Group) error {
	switch {
	case g.TenantID == "":
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	case g.DisplayName == "":
		return &store.ErrInvalid{Field: "displayName", Reason: "required"}
	}
	return nil
}

// CreateGroup inserts g, filling ID (when empty), Version and timestamps.
func (s *Store) CreateGroup(ctx context.Context, g *store.Group) error {
	if err := validateGroup(g); err != nil {
		return err
	}
	if g.ID == "" {
		g.ID = store.NewID()
	}
	t := now()
	ng := *g
	ng.Version, ng.CreatedAt, ng.UpdatedAt = 1, t, t
	d, err := toGroupDoc(&ng)
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := s.c.groups.InsertOne(ctx, d); err != nil {
		return mapErr(err, collGroups)
	}
	g.Version, g.CreatedAt, g.UpdatedAt = 1, t, t
	return nil
}

// GetGroup reads one group (without members).
func (s *Store) GetGroup(ctx context.Context, tenantID, id string) (*store.Group, error) {
	d, err := findOne[groupDoc](ctx, s.c.groups, idFilter(tenantID, id))
	if err != nil {
		return nil, err
	}
	return d.record()
}

// UpdateGroup writes g if its Version is still the stored one; members are
// not touched (see Memberships).
func (s *Store) UpdateGroup(ctx context.Context, g *store.Group) error {
	if err := validateGroup(g); err != nil {
		return err
	}
	t := now()
	ng := *g
	ng.Version, ng.UpdatedAt = g.Version+1, t
	d, err := toGroupDoc(&ng)
	if err != nil {
		return err
	}
	upd, err := updateOf(d, "_id", "tenantId", "createdAt", "deleting")
	if err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var stored groupDoc
	err = s.c.groups.FindOneAndUpdate(ctx, append(idFilter(g.TenantID, g.ID), bson.E{Key: "version", Value: g.Version}), upd,
		options.FindOneAndUpdate().SetReturnDocument(options.After).SetProjection(bson.D{{Key: "createdAt", Value: 1}})).Decode(&stored)
	if errors.Is(err, mongodrv.ErrNoDocuments) {
		return casMiss(ctx, s.c.groups, idFilter(g.TenantID, g.ID))
	}
	if err != nil {
		return mapErr(err, collGroups)
	}
	g.Version, g.UpdatedAt, g.CreatedAt = ng.Version, t, stored.CreatedAt
	return nil
}

// DeleteGroup removes the group, its membership edges in both directions
// (bumping the versions of the groups it was a member of) and the license
// rules naming it. Seats granted through those rules stay until the
// licensing engine releases their "group:<id>" source. Like DeleteUser it
// marks the group first and deletes the document last, so a retry finishes
// a cascade that died half-way.
func (s *Store) DeleteGroup(ctx context.Context, tenantID, id string, version int64) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	d, err := findOne[groupDoc](ctx, s.c.groups, idFilter(tenantID, id))
	if err != nil {
		return err
	}
	if !d.Deleting {
		if version != 0 && d.Version != version {
			return store.ErrPrecondition
		}
		res, err := s.c.groups.UpdateOne(ctx, append(idFilter(tenantID, id), bson.E{Key: "version", Value: d.Version}),
			bson.D{{Key: "$set", Value: bson.D{{Key: "deleting", Value: true}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}})
		if err != nil {
			return mapErr(err, collGroups)
		}
		if res.MatchedCount == 0 {
			return casMiss(ctx, s.c.groups, idFilter(tenantID, id))
		}
	}
	drop := func() error {
		if err := s.dropMemberEverywhere(ctx, tenantID, id); err != nil {
			return err
		}
		if _, err := s.c.members.DeleteMany(ctx, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "groupId", Value: id}}); err != nil {
			return mapErr(err, collMembers)
		}
		if _, err := s.c.rules.DeleteMany(ctx, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "groupId", Value: id}}); err != nil {
			return mapErr(err, collRules)
		}
		return nil
	}
	if err := drop(); err != nil {
		return err
	}
	if err := s.step("deleteGroup.dependents"); err != nil {
		return err
	}
	if _, err := s.c.groups.DeleteOne(ctx, idFilter(tenantID, id)); err != nil {
		return mapErr(err, collGroups)
	}
	return drop()
}

// Memberships.

// groupVersion checks that the group exists (and is not being deleted)
// and, unless version is 0, that it is at version.
func (s *Store) groupVersion(ctx context.Context, tenantID, groupID string, version int64) (int64, error) {
	d, err := findOne[groupDoc](ctx, s.c.groups, idFilter(tenantID, groupID),
		options.FindOne().SetProjection(bson.D{{Key: "version", Value: 1}, {Key: "deleting", Value: 1}}))
	if err != nil {
		return 0, err
	}
	if d.Deleting {
		return 0, store.ErrNotFound
	}
	if version != 0 && d.Version != version {
		return 0, store.ErrPrecondition
	}
	return d.Version, nil
}

// bumpGroup records a member-list change: compare-and-set on version
// unless it is 0. It runs before the edges change, so two writers that
// read the same version cannot both succeed, and a crash after it leaves
// a version change without a member change (harmless) rather than the
// reverse.
func (s *Store) bumpGroup(ctx context.Context, tenantID, groupID string, version int64) (int64, error) {
	filter := idFilter(tenantID, groupID)
	if version != 0 {
		filter = append(filter, bson.E{Key: "version", Value: version})
	}
	filter = append(filter, bson.E{Key: "deleting", Value: bson.D{{Key: "$ne", Value: true}}})
	var d groupDoc
	err := s.c.groups.FindOneAndUpdate(ctx, filter, bumpVersion(now()),
		options.FindOneAndUpdate().SetReturnDocument(options.After).SetProjection(bson.D{{Key: "version", Value: 1}})).Decode(&d)
	if errors.Is(err, mongodrv.ErrNoDocuments) {
		return 0, casMiss(ctx, s.c.groups, append(idFilter(tenantID, groupID), bson.E{Key: "deleting", Value: bson.D{{Key: "$ne", Value: true}}}))
	}
	if err != nil {
		return 0, mapErr(err, collGroups)
	}
	return d.Version, nil
}

// resolveMembers checks that every member is a user or group of the
// tenant, fills a missing Type by looking the id up (Okta adds members
// without one) and drops duplicates. Two queries whatever the count.
func (s *Store) resolveMembers(ctx context.Context, tenantID, groupID string, members []store.Member) ([]store.Member, error) {
	ids := make([]string, 0, len(members))
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		if m.MemberID == "" {
			return nil, &store.ErrInvalid{Field: "members", Reason: "member value is required"}
		}
		if m.MemberID == groupID {
			return nil, &store.ErrInvalid{Field: "members", Reason: "a group cannot be a member of itself"}
		}
		if !seen[m.MemberID] {
			seen[m.MemberID] = true
			ids = append(ids, m.MemberID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	in := bson.D{{Key: "tenantId", Value: tenantID}, {Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}},
		{Key: "deleting", Value: bson.D{{Key: "$ne", Value: true}}}}
	users, err := s.distinctStrings(ctx, s.c.users, "_id", in)
	if err != nil {
		return nil, err
	}
	groups, err := s.distinctStrings(ctx, s.c.groups, "_id", in)
	if err != nil {
		return nil, err
	}
	out := make([]store.Member, 0, len(ids))
	done := make(map[string]bool, len(ids))
	for _, m := range members {
		if done[m.MemberID] {
			continue
		}
		done[m.MemberID] = true
		isUser, isGroup := slices.Contains(users, m.MemberID), slices.Contains(groups, m.MemberID)
		var ok bool
		switch {
		case strings.EqualFold(m.Type, store.MemberUser):
			m.Type, ok = store.MemberUser, isUser
		case strings.EqualFold(m.Type, store.MemberGroup):
			m.Type, ok = store.MemberGroup, isGroup
		case m.Type == "":
			switch {
			case isUser:
				m.Type, ok = store.MemberUser, true
			case isGroup:
				m.Type, ok = store.MemberGroup, true
			}
		default:
			return nil, &store.ErrInvalid{Field: "members", Reason: "member type must be User or Group, not " + m.Type}
		}
		if !ok {
			return nil, &store.ErrInvalid{Field: "members", Reason: "no " + typeWord(m.Type) + " with id " + m.MemberID}
		}
		m.GroupID = groupID
		m.Display = ""
		out = append(out, m)
	}
	return out, nil
}

func typeWord(t string) string {
	switch t {
	case store.MemberUser:
		return "user"
	case store.MemberGroup:
		return "group"
	}
	return "user or group"
}

// existingMembers returns which of ids are members of the group.
func (s *Store) existingMembers(ctx context.Context, tenantID, groupID string, ids []string) (map[string]bool, error) {
	filter := bson.D{{Key: "tenantId", Value: tenantID}, {Key: "groupId", Value: groupID}}
	if ids != nil {
		filter = append(filter, bson.E{Key: "memberId", Value: bson.D{{Key: "$in", Value: ids}}})
	}
	got, err := findAll[memberDoc](ctx, s.c.members, filter, options.Find().SetProjection(bson.D{{Key: "memberId", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(got))
	for _, m := range got {
		out[m.MemberID] = true
	}
	return out, nil
}

// insertMembers writes edges, ignoring ones that exist already (a
// concurrent add of the same member).
func (s *Store) insertMembers(ctx context.Context, tenantID string, ms []store.Member) error {
	if len(ms) == 0 {
		return nil
	}
	docs := make([]any, len(ms))
	for i, m := range ms {
		docs[i] = memberDoc{TenantID: tenantID, GroupID: m.GroupID, MemberID: m.MemberID, Type: m.Type}
	}
	_, err := s.c.members.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bwe mongodrv.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil {
		for _, we := range bwe.WriteErrors {
			if !mongodrv.IsDuplicateKeyError(we) {
				return mapErr(err, collMembers)
			}
		}
		return nil
	}
	return mapErr(err, collMembers)
}

// AddMembers adds the members that are not members yet and bumps the
// group's version once when any was added.
func (s *Store) AddMembers(ctx context.Context, tenantID, groupID string, version int64, members []store.Member) (int64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	cur, err := s.groupVersion(ctx, tenantID, groupID, version)
	if err != nil {
		return 0, err
	}
	ms, err := s.resolveMembers(ctx, tenantID, groupID, members)
	if err != nil || len(ms) == 0 {
		return cur, err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.MemberID
	}
	have, err := s.existingMembers(ctx, tenantID, groupID, ids)
	if err != nil {
		return 0, err
	}
	ms = slices.DeleteFunc(ms, func(m store.Member) bool { return have[m.MemberID] })
	if len(ms) == 0 {
		return cur, nil
	}
	v, err := s.bumpGroup(ctx, tenantID, groupID, version)
	if err != nil {
		return 0, err
	}
	return v, s.insertMembers(ctx, tenantID, ms)
}

// RemoveMembers removes the given member ids (absent ones are ignored).
func (s *Store) RemoveMembers(ctx context.Context, tenantID, groupID string, version int64, memberIDs []string) (int64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	cur, err := s.groupVersion(ctx, tenantID, groupID, version)
	if err != nil || len(memberIDs) == 0 {
		return cur, err
	}
	have, err := s.existingMembers(ctx, tenantID, groupID, memberIDs)
	if err != nil || len(have) == 0 {
		return cur, err
	}
	v, err := s.bumpGroup(ctx, tenantID, groupID, version)
	if err != nil {
		return 0, err
	}
	return v, s.deleteMembers(ctx, tenantID, groupID, memberIDs)
}

func (s *Store) deleteMembers(ctx context.Context, tenantID, groupID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.c.members.DeleteMany(ctx, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "groupId", Value: groupID},
		{Key: "memberId", Value: bson.D{{Key: "$in", Value: ids}}}})
	return mapErr(err, collMembers)
}

// ReplaceMembers makes members the exact member list, touching only the
// edges that differ.
func (s *Store) ReplaceMembers(ctx context.Context, tenantID, groupID string, version int64, members []store.Member) (int64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	cur, err := s.groupVersion(ctx, tenantID, groupID, version)
	if err != nil {
		return 0, err
	}
	ms, err := s.resolveMembers(ctx, tenantID, groupID, members)
	if err != nil {
		return 0, err
	}
	have, err := s.existingMembers(ctx, tenantID, groupID, nil)
	if err != nil {
		return 0, err
	}
	want := make(map[string]bool, len(ms))
	var add []store.Member
	for _, m := range ms {
		want[m.MemberID] = true
		if !have[m.MemberID] {
			add = append(add, m)
		}
	}
	var drop []string
	for id := range have {
		if !want[id] {
			drop = append(drop, id)
		}
	}
	if len(add) == 0 && len(drop) == 0 {
		return cur, nil
	}
	v, err := s.bumpGroup(ctx, tenantID, groupID, version)
	if err != nil {
		return 0, err
	}
	if err := s.deleteMembers(ctx, tenantID, groupID, drop); err != nil {
		return 0, err
	}
	return v, s.insertMembers(ctx, tenantID, add)
}

// ListMembers pages through the members ordered by member id. Display is
// the user's userName or the group's displayName.
func (s *Store) ListMembers(ctx context.Context, tenantID, groupID, after string, limit int) ([]store.Member, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	opts := options.Find().SetSort(sortBy("memberId", 1))
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	docs, err := findAll[memberDoc](ctx, s.c.members, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "groupId", Value: groupID},
		{Key: "memberId", Value: bson.D{{Key: "$gt", Value: after}}}}, opts)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		if _, err := s.groupVersion(ctx, tenantID, groupID, 0); err != nil {
			return nil, err
		}
		return nil, nil
	}
	var userIDs, groupIDs []string
	for _, d := range docs {
		if d.Type == store.MemberGroup {
			groupIDs = append(groupIDs, d.MemberID)
		} else {
			userIDs = append(userIDs, d.MemberID)
		}
	}
	display := make(map[string]string, len(docs))
	if len(userIDs) > 0 {
		us, err := findAll[userDoc](ctx, s.c.users, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "_id", Value: bson.D{{Key: "$in", Value: userIDs}}}},
			options.Find().SetProjection(bson.D{{Key: "userName", Value: 1}}))
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			display[u.ID] = u.UserName
		}
	}
	if len(groupIDs) > 0 {
		gs, err := findAll[groupDoc](ctx, s.c.groups, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "_id", Value: bson.D{{Key: "$in", Value: groupIDs}}}},
			options.Find().SetProjection(bson.D{{Key: "displayName", Value: 1}}))
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			display[g.ID] = g.DisplayName
		}
	}
	out := make([]store.Member, len(docs))
	for i, d := range docs {
		out[i] = store.Member{GroupID: groupID, MemberID: d.MemberID, Type: d.Type, Display: display[d.MemberID]}
	}
	return out, nil
}

// CountMembers counts the group's direct members.
func (s *Store) CountMembers(ctx context.Context, tenantID, groupID string) (int, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	n, err := s.c.members.CountDocuments(ctx, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "groupId", Value: groupID}})
	if err != nil {
		return 0, mapErr(err, collMembers)
	}
	if n == 0 {
		if _, err := s.groupVersion(ctx, tenantID, groupID, 0); err != nil {
			return 0, err
		}
	}
	return int(n), nil
}

// GroupsOf lists the groups memberID belongs to directly, by display name.
func (s *Store) GroupsOf(ctx context.Context, tenantID, memberID string) ([]store.GroupRef, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	ids, err := s.distinctStrings(ctx, s.c.members, "groupId", bson.D{{Key: "tenantId", Value: tenantID}, {Key: "memberId", Value: memberID}})
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	gs, err := findAll[groupDoc](ctx, s.c.groups, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "displayName", Value: 1}, {Key: "displayNameNorm", Value: 1}}).
			SetSort(sortBy("displayNameNorm", 1, "_id", 1)))
	if err != nil {
		return nil, err
	}
	out := make([]store.GroupRef, len(gs))
	for i, g := range gs {
		out[i] = store.GroupRef{ID: g.ID, DisplayName: g.DisplayName}
	}
	return out, nil
}
