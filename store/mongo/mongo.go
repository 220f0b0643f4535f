// Package mongo is Roster's production store: MongoDB through
// go.mongodb.org/mongo-driver/v2, for any number of stateless Roster nodes
// on one replica set or sharded cluster (shard key {tenantId: 1}).
//
// Every guarantee of the store interfaces holds without multi-document
// transactions, so the same code runs on a standalone server, a replica set
// and a sharded cluster:
//
//   - Uniqueness lives in unique indexes, prefixed with tenantId, on shadow
//     fields folded in Go (userNameNorm, displayNameNorm), so no collation
//     is needed. A duplicate-key error names its index's key pattern, which
//     becomes *store.ErrConflict{Attr}.
//   - Every record carries an integer version; updates are compare-and-set
//     on it (the filter includes the version read).
//   - Seats (seats.go) follow DESIGN.md §3: the assignment is written
//     pending under its unique (tenant, pool, user) key, then one
//     conditional update of the pool document takes a seat only while
//     assigned < total and, in the same single-document write, notes the
//     step in the pool's small journal; then the assignment is activated
//     and the note removed. A node that dies between steps leaves a note
//     that Recount (or the next operation on that assignment) settles, so
//     a crash can leak a seat until then but never sell one twice.
//   - Device slots (devices.go) are entries of a bounded array on the
//     assignment, pushed only while the array is shorter than the limit.
//   - Deletes with cascades (users, groups, pools) are idempotent steps
//     whose last step deletes the record itself, so a retry after a crash
//     finishes the job.
//   - Background work is claimed with findOneAndUpdate on documents that
//     carry their own expiry, so exactly one node holds each item and a
//     dead node's claim is taken over once it expires (leases.go, outbox.go).
//
// Filters: the part of a SCIM filter on indexed attributes is translated to
// a MongoDB query (query.go); the rest is evaluated with the reference
// evaluator of store/filter over a cursor bounded by Query.MaxScan.
//
// The client uses majority write concern, primary reads and retryable
// writes, and every call gets a deadline (the caller's, else Timeout).
package mongo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/filter"
)

var _ store.Store = (*Store)(nil)

// Timeout bounds a store call whose context has no deadline.
const Timeout = 15 * time.Second

// defaultGrace is how old a pending assignment or a journal note must be
// before Recount treats it as left behind by a dead node rather than as an
// operation still in flight. Steps take milliseconds; a minute leaves room
// for a node stalled by a long GC pause or a slow election.
const defaultGrace = time.Minute

// Store is a Roster store on one MongoDB database. It is safe for
// concurrent use, and any number of Stores (in one process or on many
// nodes) may share the database.
type Store struct {
	client *mongodrv.Client
	db     *mongodrv.Database
	c      collections
	// grace: see defaultGrace. Tests shorten it.
	grace time.Duration
	// hook, when set (tests only), is called at named protocol steps; an
	// error it returns stops the operation there, as a crash would.
	hook func(step string) error
	// scans hears of filters answered by a bounded scan (ObserveFilterScans).
	scans filter.ScanObserver
}

// ObserveFilterScans has obs told of every list request whose filter
// was answered partly by a bounded scan evaluated in Go (an attribute
// without an index, or a condition the translation leaves to Go),
// refused or not. Call it before the store is used.
func (s *Store) ObserveFilterScans(obs filter.ScanObserver) { s.scans = obs }

type collections struct {
	tenants, tokens, users, groups, members, products, pools, rules,
	assignments, devices, leases, keys, invitations, jobs, rows, audit,
	outbox, work, sessions, seatRequests, samples *mongodrv.Collection
}

// Open connects to the MongoDB at uri, checks that it answers and ensures
// the collections' indexes in database. An index that cannot be created
// (for example one that exists with other options) fails Open: running
// without a unique index would silently give up a guarantee.
func Open(ctx context.Context, uri, database string) (*Store, error) {
	if database == "" {
		return nil, errors.New("mongo: database name is required")
	}
	opts := options.Client().ApplyURI(uri).
		SetWriteConcern(writeconcern.Majority()).
		SetReadPreference(readpref.Primary()).
		SetRetryWrites(true).
		SetRetryReads(true).
		SetAppName("roster")
	if opts.ServerSelectionTimeout == nil {
		opts.SetServerSelectionTimeout(10 * time.Second)
	}
	client, err := mongodrv.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("mongo: %w", err)
	}
	s := newStore(client, database)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongo: %s unreachable: %w", redact(uri), err)
	}
	if err := s.ensureIndexes(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("mongo: ensure indexes in %s: %w", database, err)
	}
	return s, nil
}

// Collection names.
const (
	collTenants      = "tenants"
	collTokens       = "tokens"
	collUsers        = "users"
	collGroups       = "groups"
	collMembers      = "memberships"
	collProducts     = "products"
	collPools        = "pools"
	collRules        = "rules"
	collAssignments  = "assignments"
	collDevices      = "devices"
	collLeases       = "leases"
	collKeys         = "signingKeys"
	collInvitations  = "invitations"
	collJobs         = "importJobs"
	collRows         = "importRows"
	collAudit        = "audit"
	collOutbox       = "outbox"
	collWork         = "workLeases"
	collSessions     = "sessions"
	collSeatRequests = "seatRequests"
	collSamples      = "poolSamples"
)

func newStore(client *mongodrv.Client, database string) *Store {
	db := client.Database(database)
	return &Store{
		client: client,
		db:     db,
		grace:  defaultGrace,
		c: collections{
			tenants:      db.Collection(collTenants),
			tokens:       db.Collection(collTokens),
			users:        db.Collection(collUsers),
			groups:       db.Collection(collGroups),
			members:      db.Collection(collMembers),
			products:     db.Collection(collProducts),
			pools:        db.Collection(collPools),
			rules:        db.Collection(collRules),
			assignments:  db.Collection(collAssignments),
			devices:      db.Collection(collDevices),
			leases:       db.Collection(collLeases),
			keys:         db.Collection(collKeys),
			invitations:  db.Collection(collInvitations),
			jobs:         db.Collection(collJobs),
			rows:         db.Collection(collRows),
			audit:        db.Collection(collAudit),
			outbox:       db.Collection(collOutbox),
			work:         db.Collection(collWork),
			sessions:     db.Collection(collSessions),
			seatRequests: db.Collection(collSeatRequests),
			samples:      db.Collection(collSamples),
		},
	}
}

// redact drops the password from a connection string for error messages.
func redact(uri string) string {
	at := strings.LastIndex(uri, "@")
	scheme := strings.Index(uri, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return uri
	}
	creds := uri[scheme+3 : at]
	if i := strings.IndexByte(creds, ':'); i >= 0 {
		creds = creds[:i] + ":***"
	}
	return uri[:scheme+3] + creds + uri[at:]
}

// Ping reports whether the primary answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	return mapErr(s.client.Ping(ctx, readpref.Primary()), "")
}

// Close disconnects from the server.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.client.Disconnect(ctx)
}

// withTimeout gives ctx a deadline when it has none, so no call can hang
// on an unreachable server.
func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, Timeout)
}

// step runs the test hook for a protocol step.
func (s *Store) step(name string) error {
	if s.hook == nil {
		return nil
	}
	return s.hook(name)
}

func now() time.Time { return store.Timestamp(time.Now()) }

// Error mapping: one table from server errors to store errors.

// conflictAttr names the attribute a unique index protects, by the index's
// last key field: users {tenantId, userNameNorm} → "userName". The few
// that do not follow that rule are listed.
var conflictAttr = map[string]string{
	"_id":           "id",
	"rules.poolId":  "rule",
	"rules.groupId": "rule",
}

// Server error codes the mapping needs.
const (
	codeWriteConflict     = 112
	codeMaxTimeMSExpired  = 50
	codeNamespaceNotFound = 26
)

// mapErr turns a driver error into the store's error values. coll names
// the collection written, for ErrConflict's attribute.
func mapErr(err error, coll string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, mongodrv.ErrNoDocuments) {
		return store.ErrNotFound
	}
	if mongodrv.IsDuplicateKeyError(err) {
		return &store.ErrConflict{Attr: dupAttr(err, coll)}
	}
	var se mongodrv.ServerError
	if errors.As(err, &se) && se.HasErrorCode(codeWriteConflict) {
		// Another writer changed the document under this one: the caller's
		// picture is stale, which is what ErrPrecondition tells it.
		return fmt.Errorf("%w: concurrent write (WriteConflict)", store.ErrPrecondition)
	}
	if mongodrv.IsTimeout(err) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("mongo: %w: %v", context.DeadlineExceeded, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("mongo: %w", err)
}

// dupAttr finds the attribute of a duplicate-key error from the keyPattern
// the server reports (else from the index name in the message).
func dupAttr(err error, coll string) string {
	var fields []string
	for _, raw := range dupRaws(err) {
		if kp, ok := raw.Lookup("keyPattern").DocumentOK(); ok {
			elems, _ := kp.Elements()
			for _, e := range elems {
				fields = append(fields, e.Key())
			}
			break
		}
	}
	if len(fields) == 0 {
		// Servers before 4.4 and mongos of some versions send only the
		// message: "... index: users_userName dup key: ...".
		msg := err.Error()
		if i := strings.Index(msg, "index: "); i >= 0 {
			name := msg[i+len("index: "):]
			if j := strings.IndexByte(name, ' '); j >= 0 {
				name = name[:j]
			}
			if a, ok := indexAttr[name]; ok {
				return a
			}
		}
		return "id"
	}
	last := fields[len(fields)-1]
	if a, ok := conflictAttr[coll+"."+last]; ok {
		return a
	}
	if a, ok := conflictAttr[last]; ok {
		return a
	}
	return strings.TrimSuffix(last, "Norm")
}

// dupRaws returns the raw error documents of err's duplicate-key errors.
func dupRaws(err error) []bson.Raw {
	var out []bson.Raw
	var we mongodrv.WriteException
	if errors.As(err, &we) {
		for _, e := range we.WriteErrors {
			out = append(out, e.Raw)
		}
	}
	var bwe mongodrv.BulkWriteException
	if errors.As(err, &bwe) {
		for _, e := range bwe.WriteErrors {
			out = append(out, e.Raw)
		}
	}
	var ce mongodrv.CommandError
	if errors.As(err, &ce) {
		out = append(out, ce.Raw)
	}
	return out
}

// casMiss explains why a compare-and-set write matched nothing: the record
// is gone (ErrNotFound) or has another version (ErrPrecondition).
func casMiss(ctx context.Context, coll *mongodrv.Collection, filter bson.D) error {
	n, err := coll.CountDocuments(ctx, filter, options.Count().SetLimit(1))
	if err != nil {
		return mapErr(err, coll.Name())
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return store.ErrPrecondition
}

// idFilter selects a tenant's record by id; tenantID "" is for the global
// collections (tenants, products, tokens, outbox by id).
func idFilter(tenantID, id string) bson.D {
	if tenantID == "" {
		return bson.D{{Key: "_id", Value: id}}
	}
	return bson.D{{Key: "_id", Value: id}, {Key: "tenantId", Value: tenantID}}
}

// match is idFilter with more conditions: every write to a tenant's
// record names its tenant, which also targets one shard when the
// collection is sharded by tenantId.
func match(tenantID, id string, more ...bson.E) bson.D {
	return append(idFilter(tenantID, id), more...)
}

// findOne decodes the first document of filter into a new T.
func findOne[T any](ctx context.Context, coll *mongodrv.Collection, filter any, opts ...options.Lister[options.FindOneOptions]) (*T, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var d T
	if err := coll.FindOne(ctx, filter, opts...).Decode(&d); err != nil {
		return nil, mapErr(err, coll.Name())
	}
	return &d, nil
}

// findAll decodes every document of filter.
func findAll[T any](ctx context.Context, coll *mongodrv.Collection, filter any, opts ...options.Lister[options.FindOptions]) ([]T, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	cur, err := coll.Find(ctx, filter, opts...)
	if err != nil {
		return nil, mapErr(err, coll.Name())
	}
	var out []T
	if err := cur.All(ctx, &out); err != nil {
		return nil, mapErr(err, coll.Name())
	}
	return out, nil
}

// sortBy builds a sort document from alternating keys and directions.
func sortBy(kv ...any) bson.D {
	d := make(bson.D, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		d = append(d, bson.E{Key: kv[i].(string), Value: kv[i+1]})
	}
	return d
}
