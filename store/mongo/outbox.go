package mongo

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/store"
)

type auditDoc struct {
	ID         string    `bson:"_id"`
	TenantID   string    `bson:"tenantId"`
	At         time.Time `bson:"at"`
	Actor      string    `bson:"actor"`
	Action     string    `bson:"action"`
	TargetType string    `bson:"targetType"`
	TargetID   string    `bson:"targetId"`
	Before     string    `bson:"before,omitempty"`
	After      string    `bson:"after,omitempty"`
	Reason     string    `bson:"reason,omitempty"`
}

// AppendAudit appends an event (At defaults to now).
func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	return s.AppendAudits(ctx, []*store.AuditEvent{e})
}

// AppendAudits inserts the events with one command. Without transactions
// a failure can leave part of the batch written; a retry re-sends the same
// ids, and the events already written are recognised by id and skipped, so
// a retried batch ends written exactly once.
func (s *Store) AppendAudits(ctx context.Context, events []*store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	docs := make([]any, 0, len(events))
	for _, e := range events {
		if e.TenantID == "" {
			return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
		}
		if e.ID == "" {
			e.ID = store.NewID()
		}
		if e.At.IsZero() {
			e.At = now()
		}
		e.At = store.Timestamp(e.At)
		docs = append(docs, auditDoc{ID: e.ID, TenantID: e.TenantID, At: e.At, Actor: e.Actor, Action: e.Action,
			TargetType: e.TargetType, TargetID: e.TargetID, Before: e.Before, After: e.After, Reason: e.Reason})
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if len(docs) == 1 {
		_, err := s.c.audit.InsertOne(ctx, docs[0])
		return mapErr(err, collAudit)
	}
	_, err := s.c.audit.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bwe mongodrv.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil && len(bwe.WriteErrors) > 0 {
		onlyDuplicates := true
		for _, we := range bwe.WriteErrors {
			onlyDuplicates = onlyDuplicates && we.Code == 11000
		}
		if onlyDuplicates {
			return nil
		}
	}
	return mapErr(err, collAudit)
}

// defaultAuditLimit is the page size when AuditQuery.Limit is 0.
const defaultAuditLimit = 100

// ListAudit returns events newest first (by At, then id).
func (s *Store) ListAudit(ctx context.Context, tenantID string, q store.AuditQuery) ([]*store.AuditEvent, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	filter := bson.D{{Key: "tenantId", Value: tenantID}}
	for _, f := range []struct{ k, v string }{{"actor", q.Actor}, {"action", q.Action}, {"targetId", q.TargetID}} {
		if f.v != "" {
			filter = append(filter, bson.E{Key: f.k, Value: f.v})
		}
	}
	at := bson.D{}
	if !q.Since.IsZero() {
		at = append(at, bson.E{Key: "$gte", Value: store.Timestamp(q.Since)})
	}
	if !q.Until.IsZero() {
		at = append(at, bson.E{Key: "$lt", Value: store.Timestamp(q.Until)})
	}
	if len(at) > 0 {
		filter = append(filter, bson.E{Key: "at", Value: at})
	}
	if q.Before != "" {
		b, err := findOne[auditDoc](ctx, s.c.audit, idFilter(tenantID, q.Before), options.FindOne().SetProjection(bson.D{{Key: "at", Value: 1}}))
		if errors.Is(err, store.ErrNotFound) {
			return nil, &store.ErrInvalid{Field: "before", Reason: "no such event"}
		}
		if err != nil {
			return nil, err
		}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: b.At}}}},
			bson.D{{Key: "at", Value: b.At}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: q.Before}}}},
		}})
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	ds, err := findAll[auditDoc](ctx, s.c.audit, filter, options.Find().SetSort(sortBy("at", -1, "_id", -1)).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	out := make([]*store.AuditEvent, len(ds))
	for i, d := range ds {
		out[i] = &store.AuditEvent{TenantID: d.TenantID, ID: d.ID, At: d.At, Actor: d.Actor, Action: d.Action,
			TargetType: d.TargetType, TargetID: d.TargetID, Before: d.Before, After: d.After, Reason: d.Reason}
	}
	return out, nil
}

// Outbox.

type outboxDoc struct {
	ID            string    `bson:"_id"`
	TenantID      string    `bson:"tenantId"`
	Channel       string    `bson:"channel"`
	To            string    `bson:"to"`
	Subject       string    `bson:"subject,omitempty"`
	Text          string    `bson:"text,omitempty"`
	HTML          string    `bson:"html,omitempty"`
	State         string    `bson:"state"`
	Attempts      int       `bson:"attempts"`
	NextAttemptAt time.Time `bson:"nextAttemptAt"`
	LastError     string    `bson:"lastError,omitempty"`
	ClaimedBy     string    `bson:"claimedBy,omitempty"`
	ClaimedUntil  time.Time `bson:"claimedUntil,omitempty"`
	CreatedAt     time.Time `bson:"createdAt"`
	SentAt        time.Time `bson:"sentAt,omitempty"`
}

func (d *outboxDoc) record() *store.OutboxMessage {
	return &store.OutboxMessage{TenantID: d.TenantID, ID: d.ID, Channel: d.Channel, To: d.To, Subject: d.Subject, Text: d.Text,
		HTML: d.HTML, State: d.State, Attempts: d.Attempts, NextAttemptAt: d.NextAttemptAt, LastError: d.LastError,
		ClaimedBy: d.ClaimedBy, ClaimedUntil: d.ClaimedUntil, CreatedAt: d.CreatedAt, SentAt: d.SentAt}
}

// Enqueue queues a message, due at NextAttemptAt (now when zero).
func (s *Store) Enqueue(ctx context.Context, m *store.OutboxMessage) error {
	if m.TenantID == "" {
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	}
	if m.ID == "" {
		m.ID = store.NewID()
	}
	at := now()
	m.State, m.Attempts, m.ClaimedBy, m.ClaimedUntil, m.CreatedAt, m.SentAt = store.OutboxQueued, 0, "", time.Time{}, at, time.Time{}
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = at
	}
	m.NextAttemptAt = store.Timestamp(m.NextAttemptAt)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	_, err := s.c.outbox.InsertOne(ctx, outboxDoc{ID: m.ID, TenantID: m.TenantID, Channel: m.Channel, To: m.To, Subject: m.Subject,
		Text: m.Text, HTML: m.HTML, State: m.State, NextAttemptAt: m.NextAttemptAt, LastError: m.LastError, CreatedAt: at})
	return mapErr(err, collOutbox)
}

// ClaimOutbox hands up to limit due messages to holder until now+ttl. Each
// message is claimed with its own findOneAndUpdate whose filter requires
// it to be due and unclaimed (or its claim expired), so two nodes never
// get the same message, and one whose holder died is claimable again once
// its claim expires.
func (s *Store) ClaimOutbox(ctx context.Context, holder string, at time.Time, ttl time.Duration, limit int) ([]*store.OutboxMessage, error) {
	if holder == "" {
		return nil, &store.ErrInvalid{Field: "holder", Reason: "required"}
	}
	if limit <= 0 {
		return nil, nil
	}
	at = store.Timestamp(at)
	until := store.Timestamp(at.Add(ttl))
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	filter := bson.D{
		{Key: "state", Value: store.OutboxQueued},
		{Key: "nextAttemptAt", Value: bson.D{{Key: "$lte", Value: at}}},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "claimedUntil", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "claimedUntil", Value: bson.D{{Key: "$lte", Value: at}}}},
		}},
	}
	var out []*store.OutboxMessage
	for len(out) < limit {
		var d outboxDoc
		err := s.c.outbox.FindOneAndUpdate(ctx, filter,
			bson.D{{Key: "$set", Value: bson.D{{Key: "claimedBy", Value: holder}, {Key: "claimedUntil", Value: until}}}},
			options.FindOneAndUpdate().SetSort(sortBy("nextAttemptAt", 1, "_id", 1)).SetReturnDocument(options.After)).Decode(&d)
		if errors.Is(err, mongodrv.ErrNoDocuments) {
			break
		}
		if err != nil {
			return out, mapErr(err, collOutbox)
		}
		out = append(out, d.record())
	}
	return out, nil
}

// settle updates a message the holder claimed; a message claimed by
// someone else since (the holder's claim expired) is ErrPrecondition.
func (s *Store) settleOutbox(ctx context.Context, id, holder string, upd bson.D) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := s.c.outbox.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "claimedBy", Value: holder}, {Key: "state", Value: store.OutboxQueued}}, upd)
	if err != nil {
		return mapErr(err, collOutbox)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	if err := existsOrNotFound(ctx, s.c.outbox, idFilter("", id)); err != nil {
		return err
	}
	return store.ErrPrecondition
}

// MarkSent records the delivery of a message holder claimed.
func (s *Store) MarkSent(ctx context.Context, id, holder string, at time.Time) error {
	return s.settleOutbox(ctx, id, holder, bson.D{
		{Key: "$set", Value: bson.D{{Key: "state", Value: store.OutboxSent}, {Key: "sentAt", Value: store.Timestamp(at)}}},
		{Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}},
		{Key: "$unset", Value: bson.D{{Key: "claimedBy", Value: ""}, {Key: "claimedUntil", Value: ""}}},
	})
}

// MarkRetry records a failed attempt and releases the claim; the message
// is due again at next, or given up (OutboxFailed) when final.
func (s *Store) MarkRetry(ctx context.Context, id, holder, lastError string, next time.Time, final bool) error {
	state := store.OutboxQueued
	if final {
		state = store.OutboxFailed
	}
	return s.settleOutbox(ctx, id, holder, bson.D{
		{Key: "$set", Value: bson.D{{Key: "state", Value: state}, {Key: "lastError", Value: lastError},
			{Key: "nextAttemptAt", Value: store.Timestamp(next)}}},
		{Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}},
		{Key: "$unset", Value: bson.D{{Key: "claimedBy", Value: ""}, {Key: "claimedUntil", Value: ""}}},
	})
}

// GetOutboxMessage reads a message.
func (s *Store) GetOutboxMessage(ctx context.Context, id string) (*store.OutboxMessage, error) {
	d, err := findOne[outboxDoc](ctx, s.c.outbox, idFilter("", id))
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// ListOutbox lists the tenant's messages, newest first (limit 0: 100).
func (s *Store) ListOutbox(ctx context.Context, tenantID string, limit int) ([]*store.OutboxMessage, error) {
	if limit <= 0 {
		limit = 100
	}
	ds, err := findAll[outboxDoc](ctx, s.c.outbox, bson.D{{Key: "tenantId", Value: tenantID}},
		options.Find().SetSort(sortBy("createdAt", -1, "_id", -1)).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	out := make([]*store.OutboxMessage, len(ds))
	for i := range ds {
		out[i] = ds[i].record()
	}
	return out, nil
}
