package mongo

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/drivertest"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/xoptions"

	"github.com/roster-scim/roster/store"
)

// mockStore is a Store whose server is the driver's mock deployment: it
// answers each command with the next queued reply, which lets a test
// produce server errors the stand-in never sends (WriteConflict,
// MaxTimeMSExpired) and replies shaped like older servers'.
func mockStore(t *testing.T, replies ...bson.D) *Store {
	t.Helper()
	md := drivertest.NewMockDeployment(replies...)
	opts := options.Client()
	if err := xoptions.SetInternalClientOptions(opts, "deployment", md); err != nil {
		t.Fatal(err)
	}
	client, err := mongodrv.Connect(opts)
	if err != nil {
		t.Fatalf("connect to mock deployment: %v", err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return newStore(client, "roster")
}

func dupWriteError(index string, keyPattern bson.D) bson.D {
	we := bson.D{
		{Key: "index", Value: 0},
		{Key: "code", Value: 11000},
		{Key: "errmsg", Value: "E11000 duplicate key error collection: roster.users index: " + index + " dup key: { tenantId: \"t\" }"},
	}
	if keyPattern != nil {
		we = append(we, bson.E{Key: "keyPattern", Value: keyPattern}, bson.E{Key: "keyValue", Value: bson.D{{Key: "tenantId", Value: "t"}}})
	}
	return bson.D{{Key: "ok", Value: 1}, {Key: "n", Value: 0}, {Key: "writeErrors", Value: bson.A{we}}}
}

func commandError(code int32, name, msg string, extra ...bson.E) bson.D {
	return append(bson.D{{Key: "ok", Value: 0}, {Key: "code", Value: code}, {Key: "codeName", Value: name}, {Key: "errmsg", Value: msg}}, extra...)
}

func TestErrorMapping(t *testing.T) {
	user := func() *store.User {
		return &store.User{TenantID: "t", ID: "u1", UserName: "ann", Version: 1}
	}
	tests := []struct {
		name    string
		replies []bson.D
		call    func(s *Store) error
		check   func(t *testing.T, err error)
	}{{
		name:    "insert duplicate key with keyPattern",
		replies: []bson.D{dupWriteError("users_userName", bson.D{{Key: "tenantId", Value: 1}, {Key: "userNameNorm", Value: 1}})},
		call:    func(s *Store) error { return s.CreateUser(context.Background(), user()) },
		check:   wantConflictAttr("userName"),
	}, {
		name:    "insert duplicate key, message only (servers before 4.4)",
		replies: []bson.D{dupWriteError("users_externalId", nil)},
		call:    func(s *Store) error { return s.CreateUser(context.Background(), user()) },
		check:   wantConflictAttr("externalId"),
	}, {
		name:    "insert duplicate _id",
		replies: []bson.D{dupWriteError("_id_", bson.D{{Key: "_id", Value: 1}})},
		call:    func(s *Store) error { return s.CreateUser(context.Background(), user()) },
		check:   wantConflictAttr("id"),
	}, {
		name: "findAndModify duplicate key is a command error",
		replies: []bson.D{commandError(11000, "DuplicateKey", "E11000 duplicate key error collection: roster.groups index: groups_displayName",
			bson.E{Key: "keyPattern", Value: bson.D{{Key: "tenantId", Value: 1}, {Key: "displayNameNorm", Value: 1}}})},
		call: func(s *Store) error {
			return s.UpdateGroup(context.Background(), &store.Group{TenantID: "t", ID: "g1", DisplayName: "Eng", Version: 1})
		},
		check: wantConflictAttr("displayName"),
	}, {
		name: "rule duplicate names the rule",
		replies: []bson.D{
			cursorReply(bson.D{{Key: "_id", Value: "g1"}, {Key: "version", Value: 1}}),
			cursorReply(bson.D{{Key: "_id", Value: "p1"}, {Key: "version", Value: 1}}),
			dupWriteError("rules_group_pool", bson.D{{Key: "tenantId", Value: 1}, {Key: "groupId", Value: 1}, {Key: "poolId", Value: 1}}),
		},
		call: func(s *Store) error {
			return s.CreateRule(context.Background(), &store.Rule{TenantID: "t", GroupID: "g1", PoolID: "p1"})
		},
		check: wantConflictAttr("rule"),
	}, {
		name:    "write conflict is a version mismatch",
		replies: []bson.D{commandError(codeWriteConflict, "WriteConflict", "WriteConflict error: this operation conflicted with another operation")},
		call:    func(s *Store) error { return s.UpdateUser(context.Background(), user()) },
		check:   wantIs(store.ErrPrecondition),
	}, {
		name:    "MaxTimeMSExpired is a deadline",
		replies: []bson.D{commandError(codeMaxTimeMSExpired, "MaxTimeMSExpired", "operation exceeded time limit")},
		call: func(s *Store) error {
			_, err := s.GetUser(context.Background(), "t", "u1")
			return err
		},
		check: wantIs(context.DeadlineExceeded),
	}, {
		name:    "no document is not found",
		replies: []bson.D{cursorReply()},
		call: func(s *Store) error {
			_, err := s.GetUser(context.Background(), "t", "u1")
			return err
		},
		check: wantIs(store.ErrNotFound),
	}, {
		name: "CAS miss on a missing record is not found",
		replies: []bson.D{
			{{Key: "ok", Value: 1}, {Key: "value", Value: nil}, {Key: "lastErrorObject", Value: bson.D{{Key: "n", Value: 0}}}},
			cursorReply(),
		},
		call:  func(s *Store) error { return s.UpdateUser(context.Background(), user()) },
		check: wantIs(store.ErrNotFound),
	}, {
		name: "CAS miss on an existing record is a version mismatch",
		replies: []bson.D{
			{{Key: "ok", Value: 1}, {Key: "value", Value: nil}, {Key: "lastErrorObject", Value: bson.D{{Key: "n", Value: 0}}}},
			cursorReply(bson.D{{Key: "_id", Value: 1}, {Key: "n", Value: 1}}),
		},
		call:  func(s *Store) error { return s.UpdateUser(context.Background(), user()) },
		check: wantIs(store.ErrPrecondition),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mockStore(t, tt.replies...)
			tt.check(t, tt.call(s))
		})
	}
}

// cursorReply is a find reply holding docs in one batch.
func cursorReply(docs ...bson.D) bson.D {
	batch := bson.A{}
	for _, d := range docs {
		batch = append(batch, d)
	}
	return bson.D{{Key: "ok", Value: 1}, {Key: "cursor", Value: bson.D{{Key: "id", Value: int64(0)}, {Key: "ns", Value: "roster.x"}, {Key: "firstBatch", Value: batch}}}}
}

func wantConflictAttr(attr string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		c, ok := store.IsConflict(err)
		if !ok || c.Attr != attr {
			t.Errorf("error %v, want ErrConflict{%q}", err, attr)
		}
	}
}

func wantIs(target error) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("error %v, want %v", err, target)
		}
	}
}

// TestTimeouts: a server that accepts connections and never answers must
// not hang a call; the caller's deadline, or Timeout when it has none,
// ends it with an error that is a context.DeadlineExceeded.
func TestTimeouts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold the connection open, say nothing
		}
	}()
	uri := "mongodb://" + ln.Addr().String() + "/?connectTimeoutMS=200"

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Open(ctx, uri, "roster")
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Open against a silent server: error %v, want a deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open took %v despite a 300ms deadline", d)
	}

	// A call without a deadline gets one.
	ctx, cancel = withTimeout(context.Background())
	defer cancel()
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > Timeout {
		t.Errorf("withTimeout: deadline %v, %v; want one within %v", dl, ok, Timeout)
	}
	// A caller's deadline is kept.
	parent, pcancel := context.WithTimeout(context.Background(), time.Hour)
	defer pcancel()
	ctx, cancel = withTimeout(parent)
	defer cancel()
	if dl, _ := ctx.Deadline(); time.Until(dl) < 59*time.Minute {
		t.Errorf("withTimeout replaced the caller's deadline")
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"mongodb://roster:s3cret@db1,db2/?replicaSet=rs0": "mongodb://roster:***@db1,db2/?replicaSet=rs0",
		"mongodb+srv://roster@cluster.example/":           "mongodb+srv://roster@cluster.example/",
		"mongodb://127.0.0.1:27017/":                      "mongodb://127.0.0.1:27017/",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
