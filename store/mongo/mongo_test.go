package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/internal/mongostandin"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/storetest"
)

// TestMongo runs against MongoDB: the server named by
// ROSTER_TEST_MONGODB_URI, else the wire-protocol stand-in (one process
// for all subtests; it takes a second to start). Every subtest gets its
// own database, dropped afterwards.
func TestMongo(t *testing.T) {
	uri := mongostandin.Start(t)
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) storetest.Opener {
			db := freshDB(t, uri)
			return func(t *testing.T) store.Store {
				return &crashStore{openT(t, uri, db)}
			}
		})
	})
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, uri string)
	}{
		{"SeatCrashes", testSeatCrashes},
		{"SeatChurn", testSeatChurn},
		{"DeletesResume", testDeletesResume},
		{"DeviceSlotLeak", testDeviceSlotLeak},
		{"LeaseTakeover", testLeaseTakeover},
		{"Indexes", testIndexes},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, uri) })
	}
}

// freshDB names a new database and drops it when t ends.
func freshDB(t *testing.T, uri string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "roster_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		client, err := mongodrv.Connect(options.Client().ApplyURI(uri))
		if err == nil {
			err = client.Database(name).Drop(ctx)
			_ = client.Disconnect(ctx)
		}
		if err != nil {
			t.Logf("drop %s: %v", name, err)
		}
	})
	return name
}

// openT opens a Store closed when t ends.
func openT(t *testing.T, uri, db string) *Store {
	t.Helper()
	s, err := Open(t.Context(), uri, db)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// crashStore lets the conformance suite stop the seat protocol between
// its steps (storetest.SeatCrasher).
type crashStore struct{ *Store }

var errCrash = errors.New("simulated crash")

// CrashClaimSeat runs ClaimSeat up to step 1 (pending assignment written)
// or 2 (seat counted too) and stops there, as a node dying would. It then
// ages what it left behind past the grace period, since a Recount only
// finishes the work of nodes that have been silent that long.
func (s *crashStore) CrashClaimSeat(ctx context.Context, a *store.Assignment, step int) error {
	stop := map[int]string{1: "claim.pending", 2: "claim.counted"}[step]
	if stop == "" {
		return errors.New("CrashClaimSeat: step must be 1 or 2")
	}
	c := *s.Store
	c.hook = func(name string) error {
		if name == stop {
			return errCrash
		}
		return nil
	}
	if err := c.ClaimSeat(ctx, a, time.Now()); !errors.Is(err, errCrash) {
		return errors.Join(errors.New("CrashClaimSeat: claim did not stop at its step"), err)
	}
	return s.age(ctx, a.TenantID, a.PoolID, a.UserID, 2*s.grace)
}

// age moves the pending assignment of user and the pool's journal entries
// d into the past.
func (s *Store) age(ctx context.Context, tenantID, poolID, userID string, d time.Duration) error {
	past := now().Add(-d)
	if _, err := s.c.assignments.UpdateOne(ctx, seatFilter(tenantID, poolID, userID),
		bson.D{{Key: "$set", Value: bson.D{{Key: "updatedAt", Value: past}}}}); err != nil {
		return err
	}
	p, err := findOne[poolDoc](ctx, s.c.pools, idFilter(tenantID, poolID))
	if err != nil {
		return err
	}
	for i := range p.Journal {
		p.Journal[i].At = past
	}
	_, err = s.c.pools.UpdateOne(ctx, idFilter(tenantID, poolID), bson.D{{Key: "$set", Value: bson.D{{Key: "journal", Value: p.Journal}}}})
	return err
}
