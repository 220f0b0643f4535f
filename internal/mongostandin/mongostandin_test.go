package mongostandin

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"
)

// TestStandin checks the commands store/mongo relies on against the
// stand-in, so a broken stand-in fails here with a readable message rather
// than deep inside the conformance suite.
func TestStandin(t *testing.T) {
	uri := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetWriteConcern(writeconcern.Majority()).SetRetryWrites(true))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Disconnect(context.Background()) }()
	db := c.Database("standin_test_" + time.Now().Format("150405.000000"))
	defer func() { _ = db.Drop(context.Background()) }()
	coll := db.Collection("things")

	_, err = coll.Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "t", Value: 1}, {Key: "n", Value: 1}}, Options: options.Index().SetUnique(true)},
		{Keys: bson.D{{Key: "t", Value: 1}, {Key: "x", Value: 1}}, Options: options.Index().SetUnique(true).
			SetPartialFilterExpression(bson.D{{Key: "x", Value: bson.D{{Key: "$gt", Value: ""}}}})},
	})
	if err != nil {
		t.Fatalf("createIndexes: %v", err)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "t", Value: "T"}, {Key: "n", Value: "alice"}, {Key: "total", Value: 2}, {Key: "assigned", Value: 0}}); err != nil {
		t.Fatal(err)
	}
	// Two documents without x do not collide on the partial index.
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "b"}, {Key: "t", Value: "T"}, {Key: "n", Value: "bob"}}); err != nil {
		t.Fatal(err)
	}
	_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "c"}, {Key: "t", Value: "T"}, {Key: "n", Value: "alice"}})
	var we mongo.WriteException
	if !errors.As(err, &we) || len(we.WriteErrors) != 1 || we.WriteErrors[0].Code != 11000 {
		t.Fatalf("duplicate insert: got %v, want E11000", err)
	}
	if kp := we.WriteErrors[0].Raw.Lookup("keyPattern"); kp.String() != `{"t": {"$numberInt":"1"},"n": {"$numberInt":"1"}}` {
		t.Errorf("keyPattern = %s", kp)
	}
	_, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "a"}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Fatalf("duplicate _id: got %v", err)
	}

	// Conditional $inc with $expr: the seat protocol's step 2.
	for i, want := range []int64{1, 1, 0} {
		res, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "a"}, {Key: "$expr", Value: bson.D{{Key: "$lt", Value: bson.A{"$assigned", "$total"}}}}},
			bson.D{{Key: "$inc", Value: bson.D{{Key: "assigned", Value: 1}}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.ModifiedCount != want {
			t.Errorf("inc %d: modified %d, want %d", i, res.ModifiedCount, want)
		}
	}

	// findOneAndUpdate returning the new document, and upsert.
	var got bson.M
	err = coll.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: "lease"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "holder", Value: "n1"}}}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&got)
	if err != nil || got["holder"] != "n1" {
		t.Fatalf("upsert findOneAndUpdate: %v %v", got, err)
	}

	// Cursor paging over several batches.
	for i := range 250 {
		if _, err := db.Collection("many").InsertOne(ctx, bson.D{{Key: "i", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}
	cur, err := db.Collection("many").Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "i", Value: -1}}).SetBatchSize(40))
	if err != nil {
		t.Fatal(err)
	}
	var all []bson.M
	if err := cur.All(ctx, &all); err != nil {
		t.Fatal(err)
	}
	if len(all) != 250 || all[0]["i"] != int32(249) {
		t.Fatalf("cursor: %d docs, first %v", len(all), all[0])
	}
	n, err := db.Collection("many").CountDocuments(ctx, bson.D{{Key: "i", Value: bson.D{{Key: "$gte", Value: 200}}}})
	if err != nil || n != 50 {
		t.Fatalf("count: %d %v", n, err)
	}

	// What the stand-in cannot do, it refuses rather than fake.
	if os.Getenv(EnvURI) == "" {
		_, err = coll.Find(ctx, bson.D{}, options.Find().SetCollation(&options.Collation{Locale: "en", Strength: 2}))
		var ce mongo.CommandError
		if !errors.As(err, &ce) || ce.Code != 238 {
			t.Errorf("find with a collation: %v, want NotImplemented (238)", err)
		}
		sess, err := c.StartSession()
		if err != nil {
			t.Fatal(err)
		}
		defer sess.EndSession(ctx)
		_, err = sess.WithTransaction(ctx, func(ctx context.Context) (any, error) {
			return coll.InsertOne(ctx, bson.D{{Key: "t", Value: "T"}, {Key: "n", Value: "in a transaction"}})
		})
		if !errors.As(err, &ce) || ce.Code != 20 {
			t.Errorf("a transaction: %v, want IllegalOperation (20) as from a standalone mongod", err)
		}
	}
}
