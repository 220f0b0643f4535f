package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// index is one index a collection needs.
type index struct {
	name   string
	keys   bson.D
	unique bool
	// partial limits the index to documents matching it.
	partial bson.D
	// attr is the attribute a unique index protects, for error messages
	// from servers that do not report keyPattern.
	attr string
}

func keys(fields ...string) bson.D {
	d := make(bson.D, len(fields))
	for i, f := range fields {
		dir := 1
		if f[0] == '-' {
			f, dir = f[1:], -1
		}
		d[i] = bson.E{Key: f, Value: dir}
	}
	return d
}

// nonEmptyString matches documents whose field is a non-empty string:
// $gt "" compares only with strings (type bracketing) and "" is not above
// itself. Documents without the field are left out of the index, so any
// number of records may lack an externalId.
func nonEmptyString(field string) bson.D {
	return bson.D{{Key: field, Value: bson.D{{Key: "$gt", Value: ""}}}}
}

// indexSpecs lists every collection's indexes by collection name.
// Tenant-owned collections lead with tenantId, the shard key of a sharded
// deployment, so every query a request makes targets one shard.
var indexSpecs = map[string][]index{
	collTenants: {{name: "tenants_name", keys: keys("nameNorm"), unique: true, attr: "name"}},
	collTokens: {
		{name: "tokens_hash", keys: keys("hash"), unique: true, attr: "hash"},
		{name: "tokens_tenant", keys: keys("tenantId", "createdAt")},
	},
	collUsers: {
		{name: "users_userName", keys: keys("tenantId", "userNameNorm"), unique: true, attr: "userName"},
		{name: "users_externalId", keys: keys("tenantId", "externalId"), unique: true, partial: nonEmptyString("externalId"), attr: "externalId"},
		{name: "users_id", keys: keys("tenantId", "_id")},
		{name: "users_emails", keys: keys("tenantId", "emailsNorm.v")},
		{name: "users_displayName", keys: keys("tenantId", "displayNameNorm")},
		{name: "users_updated", keys: keys("tenantId", "updatedAt")},
	},
	collGroups: {
		{name: "groups_displayName", keys: keys("tenantId", "displayNameNorm"), unique: true, attr: "displayName"},
		{name: "groups_externalId", keys: keys("tenantId", "externalId"), unique: true, partial: nonEmptyString("externalId"), attr: "externalId"},
		{name: "groups_id", keys: keys("tenantId", "_id")},
		{name: "groups_updated", keys: keys("tenantId", "updatedAt")},
	},
	collMembers: {
		{name: "memberships_edge", keys: keys("tenantId", "groupId", "memberId"), unique: true, attr: "members"},
		{name: "memberships_member", keys: keys("tenantId", "memberId")},
	},
	collProducts: {{name: "products_code", keys: keys("code"), unique: true, attr: "code"}},
	collPools:    {{name: "pools_product", keys: keys("tenantId", "productId"), unique: true, attr: "productId"}},
	collRules: {
		{name: "rules_group_pool", keys: keys("tenantId", "groupId", "poolId"), unique: true, attr: "rule"},
		{name: "rules_pool", keys: keys("tenantId", "poolId")},
	},
	collAssignments: {
		{name: "assignments_seat", keys: keys("tenantId", "poolId", "userId"), unique: true, attr: "userId"},
		{name: "assignments_user", keys: keys("tenantId", "userId")},
		{name: "assignments_pool_state", keys: keys("tenantId", "poolId", "state", "createdAt")},
	},
	collDevices: {
		{name: "devices_code", keys: keys("tenantId", "productId", "deviceCode"), unique: true, attr: "deviceCode"},
		{name: "devices_user", keys: keys("tenantId", "userId", "createdAt")},
		{name: "devices_assignment", keys: keys("tenantId", "assignmentId")},
	},
	collLeases: {{name: "leases_device", keys: keys("tenantId", "deviceId")}},
	collKeys:   {{name: "signingKeys_tenant", keys: keys("tenantId", "-createdAt")}},
	collInvitations: {
		{name: "invitations_hash", keys: keys("tokenHash"), unique: true, attr: "tokenHash"},
		{name: "invitations_user", keys: keys("tenantId", "userId")},
	},
	collJobs: {{name: "importJobs_tenant", keys: keys("tenantId", "-createdAt")}},
	collRows: {{name: "importRows_n", keys: keys("tenantId", "jobId", "n"), unique: true, attr: "n"}},
	collAudit: {
		{name: "audit_at", keys: keys("tenantId", "-at", "-_id")},
		{name: "audit_target", keys: keys("tenantId", "targetId", "-at")},
	},
	collOutbox: {
		{name: "outbox_due", keys: keys("state", "nextAttemptAt")},
		{name: "outbox_tenant", keys: keys("tenantId", "-createdAt")},
	},
	collSessions: {{name: "sessions_expires", keys: keys("expiresAt")}},
	collSeatRequests: {
		{name: "seatRequests_tenant", keys: keys("tenantId", "-createdAt")},
		{name: "seatRequests_created", keys: keys("-createdAt")},
	},
	collSamples: {{name: "poolSamples_at", keys: keys("tenantId", "poolId", "at"), unique: true, attr: "at"}},
}

// indexAttr maps unique index names to attributes (see dupAttr).
var indexAttr = func() map[string]string {
	m := map[string]string{"_id_": "id"}
	for _, ixs := range indexSpecs {
		for _, ix := range ixs {
			if ix.unique {
				m[ix.name] = ix.attr
			}
		}
	}
	return m
}()

// ensureIndexes creates the indexes that are missing. createIndexes is a
// no-op for an index that exists with the same name and options, and an
// error for one that exists with other options, which Open reports.
func (s *Store) ensureIndexes(ctx context.Context) error {
	for name, ixs := range indexSpecs {
		coll := s.db.Collection(name)
		models := make([]mongodrv.IndexModel, len(ixs))
		for i, ix := range ixs {
			o := options.Index().SetName(ix.name)
			if ix.unique {
				o.SetUnique(true)
			}
			if ix.partial != nil {
				o.SetPartialFilterExpression(ix.partial)
			}
			models[i] = mongodrv.IndexModel{Keys: ix.keys, Options: o}
		}
		if _, err := coll.Indexes().CreateMany(ctx, models); err != nil {
			return fmt.Errorf("%s: %w", coll.Name(), err)
		}
	}
	return nil
}
