package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/store"
)

// The seat protocol (DESIGN.md §3) without transactions.
//
// A pool's counters (assigned, overage) and an assignment's state live in
// two documents, and MongoDB changes one document atomically. Every change
// of a seat is therefore a few single-document steps, ordered so that an
// interruption can only leave a seat counted that nobody holds (a leak),
// never one held that is not counted (an oversell):
//
//	claim:  assignment pending under its unique (tenant, pool, user) key →
//	        pool: assigned+1 if assigned < total, with a journal entry →
//	        assignment active → entry removed
//	return: pool: journal entry → assignment suspended / waiting /
//	        released (a tombstone) → pool: assigned−1 and entry removed,
//	        in one write → tombstone deleted
//	move:   pool: journal entry (the seat stays counted) → giver's
//	        assignment released → receiver's active → entry removed →
//	        tombstone deleted
//
// The journal is a short array on the pool document naming the steps in
// flight, at most one per assignment. Each entry carries a random token
// that the step also writes on the assignment, so whoever settles an
// entry (the operation itself when its next step finds the assignment
// changed, the next operation on that assignment, or Recount once the
// entry is older than the grace period) can tell from the assignment's
// state whether the counter change happened, and finishes or undoes it
// with a write conditional on the entry, which succeeds once however many
// nodes try. An assignment that held a seat is never deleted while an
// entry names it (it becomes a "released" tombstone first), so "the
// assignment is gone" always means the step never touched it. Before an
// operation changes an assignment, it settles any entry naming it.
//
// Recount sets the counters from the active assignments only when the
// journal is empty and the pool's seq has not moved while it counted, so
// it never undoes a step running on another node.

type journalEntry struct {
	A    string    `bson:"a"`              // assignment id
	Tok  string    `bson:"tok"`            // attempt token, also on the assignment
	Op   string    `bson:"op"`             // opTake, opReturn, opMove
	Over bool      `bson:"over,omitempty"` // the seat is an overage
	To   string    `bson:"to,omitempty"`   // opMove: the receiving user
	At   time.Time `bson:"at"`
}

const (
	opTake   = "take"   // counter incremented; assignment about to be active
	opReturn = "return" // assignment about to stop holding the seat; counter not yet decremented
	opMove   = "move"   // seat stays counted, moving from assignment A to user To
)

// stateReleased marks the tombstone of an assignment whose seat is being
// returned; readers never see it.
const stateReleased = "released"

// slot is a device using one of the seat's MaxDevicesPerSeat slots.
type slot struct {
	D  string    `bson:"d"` // device id
	At time.Time `bson:"at"`
}

type assignmentDoc struct {
	ID       string   `bson:"_id"`
	TenantID string   `bson:"tenantId"`
	PoolID   string   `bson:"poolId"`
	UserID   string   `bson:"userId"`
	State    string   `bson:"state"`
	Reason   string   `bson:"reason,omitempty"`
	Sources  []string `bson:"sources"`
	Over     bool     `bson:"over"`
	Slots    []slot   `bson:"slots"`
	// Claim is the token of the last seat step that touched this
	// assignment; journal entries name it.
	Claim     string    `bson:"claim,omitempty"`
	Version   int64     `bson:"version"`
	CreatedAt time.Time `bson:"createdAt"`
	UpdatedAt time.Time `bson:"updatedAt"`
}

func (d *assignmentDoc) record() *store.Assignment {
	src := d.Sources
	if src == nil {
		src = []string{}
	}
	return &store.Assignment{
		TenantID: d.TenantID, ID: d.ID, PoolID: d.PoolID, UserID: d.UserID, State: d.State, Reason: d.Reason,
		Sources: slices.Clone(src), Over: d.Over, Devices: len(d.Slots), Version: d.Version,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
}

const reasonNoSeats = "no seats"

// errRetry makes an intent start over from a fresh read: another node
// changed the assignment between our read and our write.
var errRetry = errors.New("mongo: concurrent change, retry")

// maxAttempts bounds the retries of one intent; each retry follows a
// change made by another writer, so running out means heavy contention on
// one assignment, reported as ErrPrecondition.
const maxAttempts = 50

func newToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// backoff sleeps a little longer on each attempt, or returns ctx's error.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(1+min(attempt, 10)) * 3 * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryIntent runs fn until it does not ask for a retry.
func retryIntent(ctx context.Context, fn func() error) error {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		err := fn()
		if !errors.Is(err, errRetry) {
			return err
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: assignment kept changing", store.ErrPrecondition)
}

func seatFilter(tenantID, poolID, userID string) bson.D {
	return bson.D{{Key: "tenantId", Value: tenantID}, {Key: "poolId", Value: poolID}, {Key: "userId", Value: userID}}
}

func poolFilter(tenantID, poolID string) bson.D {
	return bson.D{{Key: "tenantId", Value: tenantID}, {Key: "poolId", Value: poolID}}
}

var notReleased = bson.E{Key: "state", Value: bson.D{{Key: "$ne", Value: stateReleased}}}

// assignment reads the user's assignment in the pool. A tombstone found
// on the way is cleared if its step is over, and reads as not found.
func (s *Store) assignment(ctx context.Context, tenantID, poolID, userID string) (*assignmentDoc, error) {
	d, err := findOne[assignmentDoc](ctx, s.c.assignments, seatFilter(tenantID, poolID, userID))
	if err != nil {
		return nil, err
	}
	if d.State == stateReleased {
		if err := s.clearTombstone(ctx, d); err != nil {
			return nil, err
		}
		return nil, store.ErrNotFound
	}
	return d, nil
}

// clearTombstone settles the step that released d and deletes d.
func (s *Store) clearTombstone(ctx context.Context, d *assignmentDoc) error {
	p, err := findOne[poolDoc](ctx, s.c.pools, idFilter(d.TenantID, d.PoolID))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if p != nil {
		if e := p.entry(d.ID); e != nil {
			_, err := s.settle(ctx, p, *e, false)
			return err
		}
	}
	_, err = s.c.assignments.DeleteOne(ctx, match(d.TenantID, d.ID, bson.E{Key: "state", Value: stateReleased}, bson.E{Key: "claim", Value: d.Claim}))
	return mapErr(err, collAssignments)
}

// settleFor settles a journal entry naming d before an operation changes
// d; an entry of a step still running elsewhere is errRetry.
func (s *Store) settleFor(ctx context.Context, d *assignmentDoc) error {
	p, err := findOne[poolDoc](ctx, s.c.pools, idFilter(d.TenantID, d.PoolID))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	e := p.entry(d.ID)
	if e == nil {
		return nil
	}
	if _, err := s.settle(ctx, p, *e, false); err != nil {
		return err
	}
	return errRetry // re-read what the settling changed
}

// userExists reports whether the user exists and is not being deleted.
func (s *Store) userExists(ctx context.Context, tenantID, userID string) (bool, error) {
	err := existsOrNotFound(ctx, s.c.users, append(idFilter(tenantID, userID), bson.E{Key: "deleting", Value: bson.D{{Key: "$ne", Value: true}}}))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// mergeSources appends the sources of add that src lacks, keeping order.
func mergeSources(src, add []string) []string {
	out := slices.Clone(src)
	for _, s := range add {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// ClaimSeat asks for a seat for a.UserID in a.PoolID with a.Sources
// (SourceDirect when empty). See store.Assignments.
func (s *Store) ClaimSeat(ctx context.Context, a *store.Assignment, at time.Time) error {
	switch {
	case a.TenantID == "":
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	case a.PoolID == "":
		return &store.ErrInvalid{Field: "poolId", Reason: "required"}
	case a.UserID == "":
		return &store.ErrInvalid{Field: "userId", Reason: "required"}
	}
	sources := a.Sources
	if len(sources) == 0 {
		sources = []string{store.SourceDirect}
	}
	t := store.Timestamp(at)
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	pool, err := s.pool(ctx, a.TenantID, a.PoolID)
	if err != nil {
		return err
	}
	if !pool.record().ActiveAt(at) {
		return store.ErrExpired
	}
	var got *assignmentDoc
	err = retryIntent(ctx, func() error {
		var err error
		got, err = s.claimOnce(ctx, pool, a, sources, t)
		return err
	})
	if got != nil && (err == nil || errors.Is(err, store.ErrNoSeats)) {
		*a = *got.record()
	}
	return err
}

// claimOnce is one attempt of ClaimSeat from a fresh read.
func (s *Store) claimOnce(ctx context.Context, pool *poolDoc, a *store.Assignment, sources []string, t time.Time) (*assignmentDoc, error) {
	cur, err := s.assignment(ctx, a.TenantID, a.PoolID, a.UserID)
	if errors.Is(err, store.ErrNotFound) {
		ok, err := s.userExists(ctx, a.TenantID, a.UserID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &store.ErrInvalid{Field: "userId", Reason: "no such user"}
		}
		id := a.ID
		if id == "" {
			id = store.NewID()
		}
		tok := newToken()
		d := &assignmentDoc{ID: id, TenantID: a.TenantID, PoolID: a.PoolID, UserID: a.UserID, State: store.AssignPending,
			Sources: slices.Clone(sources), Slots: []slot{}, Claim: tok, Version: 1, CreatedAt: t, UpdatedAt: t}
		if _, err := s.c.assignments.InsertOne(ctx, d); err != nil {
			err = mapErr(err, collAssignments)
			if c, ok := store.IsConflict(err); ok && c.Attr == "userId" {
				return nil, errRetry // another claim for the same user won the insert
			}
			return nil, err
		}
		if err := s.step("claim.pending"); err != nil {
			return nil, err
		}
		return s.takeSeat(ctx, pool, d, tok, t)
	}
	if err != nil {
		return nil, err
	}
	merged := mergeSources(cur.Sources, sources)
	switch cur.State {
	case store.AssignActive:
		if len(merged) == len(cur.Sources) {
			return cur, nil
		}
		return s.casAssignment(ctx, cur, bson.D{{Key: "sources", Value: merged}}, t)
	case store.AssignPending:
		// Another claim is between its steps: add our sources and wait for
		// it to settle, unless a dead node left it behind.
		if _, err := s.c.assignments.UpdateOne(ctx, match(cur.TenantID, cur.ID, bson.E{Key: "state", Value: store.AssignPending}),
			bson.D{{Key: "$addToSet", Value: bson.D{{Key: "sources", Value: bson.D{{Key: "$each", Value: sources}}}}}}); err != nil {
			return nil, mapErr(err, collAssignments)
		}
		if cur.UpdatedAt.Before(now().Add(-s.grace)) {
			if _, err := s.finishPending(ctx, pool, cur); err != nil && !errors.Is(err, errRetry) {
				return nil, err
			}
		}
		return nil, errRetry
	}
	// Waiting or suspended: try again for a seat.
	if err := s.settleFor(ctx, cur); err != nil {
		return nil, err
	}
	tok := newToken()
	d, err := s.casAssignment(ctx, cur, bson.D{{Key: "state", Value: store.AssignPending}, {Key: "claim", Value: tok},
		{Key: "sources", Value: merged}, {Key: "reason", Value: ""}}, t)
	if err != nil {
		return nil, err
	}
	return s.takeSeat(ctx, pool, d, tok, t)
}

// casAssignment sets fields on the assignment if it is still at the
// version and state it was read at, returning the new document; a miss is
// errRetry.
func (s *Store) casAssignment(ctx context.Context, cur *assignmentDoc, set bson.D, t time.Time) (*assignmentDoc, error) {
	var d assignmentDoc
	err := s.c.assignments.FindOneAndUpdate(ctx,
		match(cur.TenantID, cur.ID, bson.E{Key: "version", Value: cur.Version}, bson.E{Key: "state", Value: cur.State}),
		bson.D{{Key: "$set", Value: append(set, bson.E{Key: "updatedAt", Value: t})}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if errors.Is(err, mongodrv.ErrNoDocuments) {
		return nil, errRetry
	}
	if err != nil {
		return nil, mapErr(err, collAssignments)
	}
	return &d, nil
}

// takeSeat runs the claim steps for d, which is pending with token tok:
// count a seat (or an overage), then activate. Without a seat under deny
// it leaves d waiting and returns it with ErrNoSeats.
func (s *Store) takeSeat(ctx context.Context, pool *poolDoc, d *assignmentDoc, tok string, t time.Time) (*assignmentDoc, error) {
	e, err := s.countSeat(ctx, pool, d, tok)
	if errors.Is(err, store.ErrNoSeats) {
		var w assignmentDoc
		err := s.c.assignments.FindOneAndUpdate(ctx,
			match(d.TenantID, d.ID, bson.E{Key: "state", Value: store.AssignPending}, bson.E{Key: "claim", Value: tok}),
			bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: store.AssignWaiting}, {Key: "reason", Value: reasonNoSeats},
				{Key: "over", Value: false}, {Key: "updatedAt", Value: t}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&w)
		if errors.Is(err, mongodrv.ErrNoDocuments) {
			return nil, errRetry
		}
		if err != nil {
			return nil, mapErr(err, collAssignments)
		}
		return &w, store.ErrNoSeats
	}
	if err != nil {
		return nil, err
	}
	if err := s.step("claim.counted"); err != nil {
		return nil, err
	}
	var got assignmentDoc
	err = s.c.assignments.FindOneAndUpdate(ctx,
		match(d.TenantID, d.ID, bson.E{Key: "state", Value: store.AssignPending}, bson.E{Key: "claim", Value: tok}),
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: store.AssignActive}, {Key: "reason", Value: ""},
			{Key: "over", Value: e.Over}, {Key: "updatedAt", Value: t}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&got)
	if errors.Is(err, mongodrv.ErrNoDocuments) {
		// The assignment changed meanwhile (released, suspended, moved
		// onto, or finished by Recount): the entry's rules say whether
		// our count stays.
		p, err := findOne[poolDoc](ctx, s.c.pools, idFilter(pool.TenantID, pool.ID))
		if err == nil {
			if pe := p.entry(d.ID); pe != nil && pe.Tok == tok {
				_, err = s.settle(ctx, p, *pe, false)
			}
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		return nil, errRetry
	}
	if err != nil {
		return nil, mapErr(err, collAssignments)
	}
	if err := s.step("claim.activated"); err != nil {
		return nil, err
	}
	return &got, s.dropEntry(ctx, pool, d.ID, tok)
}

// countSeat is the claim's counting step: assigned+1 while assigned <
// total, else overage+1 under allow-over, each with a journal entry for d
// in the same write. It returns the entry, or ErrNoSeats.
func (s *Store) countSeat(ctx context.Context, pool *poolDoc, d *assignmentDoc, tok string) (journalEntry, error) {
	noEntry := bson.E{Key: "journal.a", Value: bson.D{{Key: "$ne", Value: d.ID}}}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		e := journalEntry{A: d.ID, Tok: tok, Op: opTake, At: now()}
		filter := append(idFilter(pool.TenantID, pool.ID), notDeleting, noEntry,
			bson.E{Key: "$expr", Value: bson.D{{Key: "$lt", Value: bson.A{"$assigned", "$total"}}}})
		res, err := s.c.pools.UpdateOne(ctx, filter, bson.D{
			{Key: "$inc", Value: bson.D{{Key: "assigned", Value: 1}, {Key: "seq", Value: 1}}},
			{Key: "$push", Value: bson.D{{Key: "journal", Value: e}}},
		})
		if err != nil {
			return e, mapErr(err, collPools)
		}
		if res.MatchedCount == 1 {
			return e, nil
		}
		// Full, or d has an entry left by an earlier step, or the pool
		// went away.
		p, err := s.pool(ctx, pool.TenantID, pool.ID)
		if err != nil {
			return e, err
		}
		if old := p.entry(d.ID); old != nil {
			if _, err := s.settle(ctx, p, *old, false); err != nil {
				return e, err
			}
			if err := backoff(ctx, attempt); err != nil {
				return e, err
			}
			continue
		}
		if p.Assigned < p.Total {
			continue // a seat was freed since our write
		}
		if p.Policy != store.PolicyAllowOver {
			return e, store.ErrNoSeats
		}
		e.Over = true
		res, err = s.c.pools.UpdateOne(ctx, append(idFilter(pool.TenantID, pool.ID), notDeleting, noEntry), bson.D{
			{Key: "$inc", Value: bson.D{{Key: "overage", Value: 1}, {Key: "seq", Value: 1}}},
			{Key: "$push", Value: bson.D{{Key: "journal", Value: e}}},
		})
		if err != nil {
			return e, mapErr(err, collPools)
		}
		if res.MatchedCount == 1 {
			return e, nil
		}
	}
	return journalEntry{}, fmt.Errorf("%w: pool %s kept changing", store.ErrPrecondition, pool.ID)
}

var notDeleting = bson.E{Key: "deleting", Value: bson.D{{Key: "$ne", Value: true}}}

func (p *poolDoc) entry(assignmentID string) *journalEntry {
	for i := range p.Journal {
		if p.Journal[i].A == assignmentID {
			return &p.Journal[i]
		}
	}
	return nil
}

// entryFilter matches the pool while it holds the entry (a, tok).
func entryFilter(pool *poolDoc, a, tok string) bson.D {
	return append(idFilter(pool.TenantID, pool.ID), bson.E{Key: "journal", Value: bson.D{{Key: "$elemMatch",
		Value: bson.D{{Key: "a", Value: a}, {Key: "tok", Value: tok}}}}})
}

// dropEntry removes an entry whose counter change stands (or never was).
func (s *Store) dropEntry(ctx context.Context, pool *poolDoc, a, tok string) error {
	_, err := s.c.pools.UpdateOne(ctx, entryFilter(pool, a, tok), bson.D{
		{Key: "$pull", Value: bson.D{{Key: "journal", Value: bson.D{{Key: "a", Value: a}, {Key: "tok", Value: tok}}}}},
		{Key: "$inc", Value: bson.D{{Key: "seq", Value: 1}}},
	})
	return mapErr(err, collPools)
}

// giveBack removes an entry and gives its seat back in one write, which
// matches only while the entry is there, so the seat is given back once
// however many nodes settle the same entry.
func (s *Store) giveBack(ctx context.Context, pool *poolDoc, e journalEntry) error {
	counter := "assigned"
	if e.Over {
		counter = "overage"
	}
	_, err := s.c.pools.UpdateOne(ctx, entryFilter(pool, e.A, e.Tok), bson.D{
		{Key: "$pull", Value: bson.D{{Key: "journal", Value: bson.D{{Key: "a", Value: e.A}, {Key: "tok", Value: e.Tok}}}}},
		{Key: "$inc", Value: bson.D{{Key: counter, Value: -1}, {Key: "seq", Value: 1}}},
	})
	return mapErr(err, collPools)
}

// dropTombstone deletes the tombstone a step with token tok left.
func (s *Store) dropTombstone(ctx context.Context, tenantID, id, tok string) error {
	_, err := s.c.assignments.DeleteOne(ctx, match(tenantID, id, bson.E{Key: "state", Value: stateReleased}, bson.E{Key: "claim", Value: tok}))
	return mapErr(err, collAssignments)
}

// settle finishes or undoes the step an entry records, judging by the
// assignments it names. An entry whose step may still be running on
// another node (its assignment is mid-step) is left alone unless it is
// older than the grace period (or stale is set); settle then reports
// false.
func (s *Store) settle(ctx context.Context, pool *poolDoc, e journalEntry, stale bool) (bool, error) {
	stale = stale || e.At.Before(now().Add(-s.grace))
	a, err := findOne[assignmentDoc](ctx, s.c.assignments, idFilter(pool.TenantID, e.A))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	mine := a != nil && a.Claim == e.Tok
	switch e.Op {
	case opTake:
		switch {
		case mine && a.State == store.AssignActive:
			return true, s.dropEntry(ctx, pool, e.A, e.Tok)
		case mine && a.State == store.AssignPending:
			if !stale {
				return false, nil
			}
			// The claimer died after counting the seat: finish its claim.
			res, err := s.c.assignments.UpdateOne(ctx,
				match(a.TenantID, a.ID, bson.E{Key: "state", Value: store.AssignPending}, bson.E{Key: "claim", Value: e.Tok}),
				bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: store.AssignActive}, {Key: "reason", Value: ""},
					{Key: "over", Value: e.Over}, {Key: "updatedAt", Value: now()}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}})
			if err != nil {
				return false, mapErr(err, collAssignments)
			}
			if res.MatchedCount == 0 {
				return false, nil // changed meanwhile; the next settle decides
			}
			return true, s.dropEntry(ctx, pool, e.A, e.Tok)
		}
		// The count never became this claim's active seat (the
		// assignment went, or another step took it over): give it back.
		return true, s.giveBack(ctx, pool, e)
	case opReturn:
		switch {
		case mine && a.State != store.AssignActive:
			// Taken away; the counter still counts it.
			if err := s.giveBack(ctx, pool, e); err != nil {
				return false, err
			}
			return true, s.dropTombstone(ctx, a.TenantID, a.ID, e.Tok)
		case a != nil && a.State == store.AssignActive && !stale:
			return false, nil
		}
		// Still active (the return never happened), or the assignment was
		// changed by another step before this one wrote to it.
		return true, s.dropEntry(ctx, pool, e.A, e.Tok)
	case opMove:
		to, err := findOne[assignmentDoc](ctx, s.c.assignments, seatFilter(pool.TenantID, pool.ID, e.To))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
		switch {
		case to != nil && to.Claim == e.Tok && to.State == store.AssignActive:
			// Moved.
			if err := s.dropEntry(ctx, pool, e.A, e.Tok); err != nil {
				return false, err
			}
			return true, s.dropTombstone(ctx, pool.TenantID, e.A, e.Tok)
		case mine && a.State == stateReleased:
			// The giver let go and the receiver never got it: the move did
			// not happen, so the giver keeps the seat.
			if !stale {
				return false, nil
			}
			if err := s.restoreGiver(ctx, a, e.Tok); err != nil {
				return false, err
			}
			return true, s.dropEntry(ctx, pool, e.A, e.Tok)
		case a != nil && a.State == store.AssignActive && !stale:
			return false, nil
		}
		return true, s.dropEntry(ctx, pool, e.A, e.Tok) // never moved
	}
	return false, fmt.Errorf("mongo: pool %s: unknown journal entry %q", pool.ID, e.Op)
}

// restoreGiver makes the giver of an unfinished move active again.
func (s *Store) restoreGiver(ctx context.Context, a *assignmentDoc, tok string) error {
	_, err := s.c.assignments.UpdateOne(ctx,
		match(a.TenantID, a.ID, bson.E{Key: "state", Value: stateReleased}, bson.E{Key: "claim", Value: tok}),
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: store.AssignActive}, {Key: "updatedAt", Value: now()}}},
			{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}})
	return mapErr(err, collAssignments)
}

// note writes the journal entry that must precede taking the seat of the
// active assignment d away. It returns the pool, or nil when the pool is
// gone (no counter to keep).
func (s *Store) note(ctx context.Context, d *assignmentDoc, e journalEntry) (*poolDoc, error) {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		res, err := s.c.pools.UpdateOne(ctx,
			append(idFilter(d.TenantID, d.PoolID), bson.E{Key: "journal.a", Value: bson.D{{Key: "$ne", Value: d.ID}}}),
			bson.D{{Key: "$push", Value: bson.D{{Key: "journal", Value: e}}}, {Key: "$inc", Value: bson.D{{Key: "seq", Value: 1}}}})
		if err != nil {
			return nil, mapErr(err, collPools)
		}
		p, err := findOne[poolDoc](ctx, s.c.pools, idFilter(d.TenantID, d.PoolID))
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if res.MatchedCount == 1 {
			return p, nil
		}
		if old := p.entry(d.ID); old != nil {
			if _, err := s.settle(ctx, p, *old, false); err != nil {
				return nil, err
			}
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w: pool %s kept changing", store.ErrPrecondition, d.PoolID)
}

// deactivate takes d's seat away: it deletes d (state "") or moves it to
// state with reason. The seat of an active d goes back to the pool
// through the journal; other states hold no seat and change directly. A
// change of d since it was read is errRetry.
func (s *Store) deactivate(ctx context.Context, d *assignmentDoc, state, reason string) error {
	at := now()
	cas := match(d.TenantID, d.ID, bson.E{Key: "version", Value: d.Version}, bson.E{Key: "state", Value: d.State})
	set := func(state, tok string) bson.D {
		fields := bson.D{{Key: "state", Value: state}, {Key: "reason", Value: reason}, {Key: "over", Value: false}, {Key: "updatedAt", Value: at}}
		if tok != "" {
			fields = append(fields, bson.E{Key: "claim", Value: tok})
		}
		return bson.D{{Key: "$set", Value: fields}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}}
	}
	if d.State != store.AssignActive {
		if err := s.settleFor(ctx, d); err != nil {
			return err
		}
		var n int64
		if state == "" {
			res, err := s.c.assignments.DeleteOne(ctx, cas)
			if err != nil {
				return mapErr(err, collAssignments)
			}
			n = res.DeletedCount
		} else {
			res, err := s.c.assignments.UpdateOne(ctx, cas, set(state, ""))
			if err != nil {
				return mapErr(err, collAssignments)
			}
			n = res.MatchedCount
		}
		if n == 0 {
			return errRetry
		}
		return nil
	}
	tok := newToken()
	e := journalEntry{A: d.ID, Tok: tok, Op: opReturn, Over: d.Over, At: at}
	pool, err := s.note(ctx, d, e)
	if err != nil {
		return err
	}
	if err := s.step("return.noted"); err != nil {
		return err
	}
	target := state
	if target == "" {
		target = stateReleased
	}
	res, err := s.c.assignments.UpdateOne(ctx, cas, set(target, tok))
	if err != nil {
		return mapErr(err, collAssignments)
	}
	if res.MatchedCount == 0 {
		// d changed since it was read: this return did not happen.
		if pool != nil {
			if err := s.dropEntry(ctx, pool, d.ID, tok); err != nil {
				return err
			}
		}
		return errRetry
	}
	if err := s.step("return.applied"); err != nil {
		return err
	}
	if pool != nil {
		if err := s.giveBack(ctx, pool, e); err != nil {
			return err
		}
	}
	if state == "" {
		return s.dropTombstone(ctx, d.TenantID, d.ID, tok)
	}
	return nil
}

// deleteAssignment deletes d, returning its seat and unbinding its devices.
func (s *Store) deleteAssignment(ctx context.Context, d *assignmentDoc) error {
	if d.State == stateReleased {
		return s.clearTombstone(ctx, d)
	}
	if err := s.deactivate(ctx, d, "", ""); err != nil {
		return err
	}
	return s.unbindDevicesOf(ctx, d.TenantID, []string{d.ID})
}

// ReleaseSource removes source from the user's assignment in the pool and
// deletes the assignment (returning its seat, unbinding its devices) when
// no source remains.
func (s *Store) ReleaseSource(ctx context.Context, tenantID, poolID, userID, source string) (*store.Assignment, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var out *store.Assignment
	err := retryIntent(ctx, func() error {
		out = nil
		d, err := s.assignment(ctx, tenantID, poolID, userID)
		if err != nil {
			return err
		}
		i := slices.Index(d.Sources, source)
		if i < 0 {
			out = d.record()
			return nil
		}
		rest := slices.Delete(slices.Clone(d.Sources), i, i+1)
		if len(rest) > 0 {
			nd, err := s.casAssignment(ctx, d, bson.D{{Key: "sources", Value: rest}}, now())
			if err != nil {
				return err
			}
			out = nd.record()
			return nil
		}
		return s.deleteAssignment(ctx, d)
	})
	return out, err
}

// Suspend returns the seat of the user's assignment and marks it
// suspended with reason, keeping its sources and devices.
func (s *Store) Suspend(ctx context.Context, tenantID, poolID, userID, reason string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	return retryIntent(ctx, func() error {
		d, err := s.assignment(ctx, tenantID, poolID, userID)
		if err != nil {
			return err
		}
		if d.State == store.AssignSuspended && d.Reason == reason {
			return nil
		}
		return s.deactivate(ctx, d, store.AssignSuspended, reason)
	})
}

// MoveSeat hands from's active seat to to, who must hold no active seat
// in the pool. The seat keeps its Over flag; to's assignment gets
// SourceDirect (an admin moved it by hand) in addition to any sources a
// waiting or suspended assignment of to had. from's assignment is deleted
// and its devices unbound. The seat stays counted throughout; a crash
// between the steps is settled as moved or as not moved, never as two
// seats or none.
func (s *Store) MoveSeat(ctx context.Context, tenantID, poolID, fromUserID, toUserID string) (*store.Assignment, error) {
	if fromUserID == toUserID {
		return nil, &store.ErrInvalid{Field: "to", Reason: "seat already belongs to that user"}
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if _, err := s.pool(ctx, tenantID, poolID); err != nil {
		return nil, err
	}
	var out *assignmentDoc
	err := retryIntent(ctx, func() error {
		from, err := s.assignment(ctx, tenantID, poolID, fromUserID)
		if err != nil {
			return err
		}
		if from.State != store.AssignActive {
			return &store.ErrInvalid{Field: "from", Reason: "user holds no active seat in the pool"}
		}
		to, err := s.assignment(ctx, tenantID, poolID, toUserID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			ok, err := s.userExists(ctx, tenantID, toUserID)
			if err != nil {
				return err
			}
			if !ok {
				return &store.ErrInvalid{Field: "to", Reason: "no such user"}
			}
			to = nil
		case err != nil:
			return err
		case to.State == store.AssignActive:
			return &store.ErrInvalid{Field: "to", Reason: "user already holds a seat in the pool"}
		default:
			if err := s.settleFor(ctx, to); err != nil {
				return err
			}
		}
		out, err = s.move(ctx, from, to, toUserID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.record(), nil
}

func (s *Store) move(ctx context.Context, from, to *assignmentDoc, toUserID string) (*assignmentDoc, error) {
	at := now()
	tok := newToken()
	e := journalEntry{A: from.ID, Tok: tok, Op: opMove, Over: from.Over, To: toUserID, At: at}
	pool, err := s.note(ctx, from, e)
	if err != nil {
		return nil, err
	}
	if pool == nil {
		return nil, store.ErrNotFound
	}
	if err := s.step("move.noted"); err != nil {
		return nil, err
	}
	res, err := s.c.assignments.UpdateOne(ctx,
		match(from.TenantID, from.ID, bson.E{Key: "version", Value: from.Version}, bson.E{Key: "state", Value: store.AssignActive}),
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: stateReleased}, {Key: "claim", Value: tok}, {Key: "updatedAt", Value: at}}},
			{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}})
	if err != nil {
		return nil, mapErr(err, collAssignments)
	}
	if res.MatchedCount == 0 {
		if err := s.dropEntry(ctx, pool, from.ID, tok); err != nil {
			return nil, err
		}
		return nil, errRetry
	}
	if err := s.step("move.released"); err != nil {
		return nil, err
	}
	var got assignmentDoc
	if to == nil {
		got = assignmentDoc{ID: store.NewID(), TenantID: from.TenantID, PoolID: from.PoolID, UserID: toUserID, State: store.AssignActive,
			Sources: []string{store.SourceDirect}, Over: from.Over, Slots: []slot{}, Claim: tok, Version: 1, CreatedAt: at, UpdatedAt: at}
		_, err = s.c.assignments.InsertOne(ctx, got)
		err = mapErr(err, collAssignments)
		if c, ok := store.IsConflict(err); ok && c.Attr == "userId" {
			err = errRetry // the receiver got an assignment meanwhile
		}
	} else {
		err = s.c.assignments.FindOneAndUpdate(ctx,
			match(to.TenantID, to.ID, bson.E{Key: "version", Value: to.Version}, bson.E{Key: "state", Value: to.State}),
			bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: store.AssignActive}, {Key: "reason", Value: ""}, {Key: "over", Value: from.Over},
				{Key: "sources", Value: mergeSources(to.Sources, []string{store.SourceDirect})}, {Key: "claim", Value: tok}, {Key: "updatedAt", Value: at}}},
				{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}},
			options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&got)
		if errors.Is(err, mongodrv.ErrNoDocuments) {
			err = errRetry
		} else {
			err = mapErr(err, collAssignments)
		}
	}
	if err != nil {
		// The receiver changed under us: the giver keeps the seat.
		if rerr := s.restoreGiver(ctx, from, tok); rerr != nil {
			return nil, rerr
		}
		if derr := s.dropEntry(ctx, pool, from.ID, tok); derr != nil {
			return nil, derr
		}
		return nil, err
	}
	if err := s.step("move.received"); err != nil {
		return nil, err
	}
	if err := s.dropEntry(ctx, pool, from.ID, tok); err != nil {
		return nil, err
	}
	if err := s.dropTombstone(ctx, from.TenantID, from.ID, tok); err != nil {
		return nil, err
	}
	return &got, s.unbindDevicesOf(ctx, from.TenantID, []string{from.ID})
}

// GetAssignment reads the user's assignment in the pool.
func (s *Store) GetAssignment(ctx context.Context, tenantID, poolID, userID string) (*store.Assignment, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	d, err := s.assignment(ctx, tenantID, poolID, userID)
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// ListAssignments lists assignments oldest first, which makes the waiting
// list of a pool (State waiting) first-come, first-served.
func (s *Store) ListAssignments(ctx context.Context, tenantID string, q store.AssignmentQuery) ([]*store.Assignment, error) {
	filter := bson.D{{Key: "tenantId", Value: tenantID}}
	for _, f := range []struct{ k, v string }{{"poolId", q.PoolID}, {"userId", q.UserID}} {
		if f.v != "" {
			filter = append(filter, bson.E{Key: f.k, Value: f.v})
		}
	}
	if q.State != "" {
		filter = append(filter, bson.E{Key: "state", Value: q.State})
	} else {
		filter = append(filter, notReleased)
	}
	ds, err := findAll[assignmentDoc](ctx, s.c.assignments, filter, options.Find().SetSort(sortBy("createdAt", 1, "_id", 1)))
	if err != nil {
		return nil, err
	}
	out := make([]*store.Assignment, 0, len(ds))
	for i := range ds {
		if ds[i].State != stateReleased {
			out = append(out, ds[i].record())
		}
	}
	return out, nil
}

// finishPending completes a claim whose claimer died (or stalled beyond
// the grace period). An entry it left is settled first; if the assignment
// is still pending, it gets a fresh token, so the stalled claimer's later
// steps see it is no longer theirs and give their count back, and the
// seat step runs again: the assignment ends active, over or waiting.
func (s *Store) finishPending(ctx context.Context, pool *poolDoc, d *assignmentDoc) (*assignmentDoc, error) {
	p, err := s.pool(ctx, pool.TenantID, pool.ID)
	if err != nil {
		return nil, err
	}
	if e := p.entry(d.ID); e != nil {
		if _, err := s.settle(ctx, p, *e, true); err != nil {
			return nil, err
		}
		d, err = findOne[assignmentDoc](ctx, s.c.assignments, idFilter(d.TenantID, d.ID))
		if err != nil || d.State != store.AssignPending {
			return d, err
		}
	}
	tok := newToken()
	d, err = s.casAssignment(ctx, d, bson.D{{Key: "claim", Value: tok}}, now())
	if err != nil {
		return nil, err
	}
	got, err := s.takeSeat(ctx, p, d, tok, now())
	if errors.Is(err, store.ErrNoSeats) {
		err = nil
	}
	return got, err
}

// Recount makes the pool's counters agree with its assignments: it settles
// journal entries left by dead nodes, finishes their pending claims (a seat
// if one is free, overage under allow-over, else waiting), clears their
// tombstones, moves seats beyond Total to waiting (or overage under
// allow-over), sets Assigned and Overage from the active assignments, and
// frees device slots that dead binds left.
// It returns how far the counters were off plus how many assignments it
// changed; 0 means the pool was consistent. Steps of live operations on
// other nodes are waited for, never undone.
func (s *Store) Recount(ctx context.Context, tenantID, poolID string) (int, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	fixed := 0
	// A step in flight finishes in milliseconds; one that does not within
	// a few tries belongs to a node that stalled or died, which only the
	// grace period tells apart, so Recount reports the pool busy and the
	// reconciler comes back later rather than wait here.
	const attempts = 8
	for attempt := 0; attempt < attempts; attempt++ {
		p, err := s.pool(ctx, tenantID, poolID)
		if err != nil {
			return fixed, err
		}
		busy := false
		for _, e := range p.Journal {
			ok, err := s.settle(ctx, p, e, false)
			if err != nil {
				return fixed, err
			}
			busy = busy || !ok
		}
		left, err := findAll[assignmentDoc](ctx, s.c.assignments, append(poolFilter(tenantID, poolID),
			bson.E{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{store.AssignPending, stateReleased}}}},
			bson.E{Key: "updatedAt", Value: bson.D{{Key: "$lt", Value: now().Add(-s.grace)}}}))
		if err != nil {
			return fixed, err
		}
		for i := range left {
			d := &left[i]
			if d.State == stateReleased {
				if err := s.clearTombstone(ctx, d); err != nil {
					return fixed, err
				}
				continue
			}
			if _, err := s.finishPending(ctx, p, d); err != nil && !errors.Is(err, errRetry) {
				return fixed, err
			}
			fixed++
		}
		if busy || len(left) > 0 || len(p.Journal) > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return fixed, err
			}
			continue
		}
		n, done, err := s.recountOnce(ctx, p)
		fixed += n
		if err != nil {
			return fixed, err
		}
		if done {
			return fixed, s.collectPoolSlots(ctx, p)
		}
		if err := backoff(ctx, attempt); err != nil {
			return fixed, err
		}
	}
	return fixed, fmt.Errorf("%w: pool %s is busy (seat steps in flight), recount again later", store.ErrPrecondition, poolID)
}

// recountOnce counts the active assignments and sets the counters if the
// pool did not move since p was read (done). Seats beyond Total, which
// only a manual change of the data can cause, are taken back first,
// newest first.
func (s *Store) recountOnce(ctx context.Context, p *poolDoc) (fixed int, done bool, err error) {
	active, err := findAll[assignmentDoc](ctx, s.c.assignments, append(poolFilter(p.TenantID, p.ID),
		bson.E{Key: "state", Value: store.AssignActive}), options.Find().SetSort(sortBy("createdAt", 1, "_id", 1)))
	if err != nil {
		return 0, false, err
	}
	seats, over := 0, 0
	var excess []*assignmentDoc
	for i := range active {
		a := &active[i]
		switch {
		case a.Over:
			over++
		case seats < p.Total:
			seats++
		default:
			excess = append(excess, a)
		}
	}
	if len(excess) > 0 {
		for _, a := range excess {
			if err := s.deactivate(ctx, a, store.AssignWaiting, reasonNoSeats); err != nil && !errors.Is(err, errRetry) {
				return fixed, false, err
			}
			fixed++
		}
		if p.Policy == store.PolicyAllowOver {
			for _, a := range excess {
				w := &store.Assignment{TenantID: a.TenantID, PoolID: a.PoolID, UserID: a.UserID, Sources: a.Sources}
				if err := s.ClaimSeat(ctx, w, now()); err != nil && !errors.Is(err, store.ErrNoSeats) {
					return fixed, false, err
				}
			}
		}
		return fixed, false, nil
	}
	if seats == p.Assigned && over == p.Overage {
		return 0, true, nil
	}
	res, err := s.c.pools.UpdateOne(ctx,
		append(idFilter(p.TenantID, p.ID), bson.E{Key: "seq", Value: p.Seq}, bson.E{Key: "journal.0", Value: bson.D{{Key: "$exists", Value: false}}}),
		bson.D{{Key: "$set", Value: bson.D{{Key: "assigned", Value: seats}, {Key: "overage", Value: over}}}, {Key: "$inc", Value: bson.D{{Key: "seq", Value: 1}}}})
	if err != nil {
		return 0, false, mapErr(err, collPools)
	}
	if res.MatchedCount == 0 {
		return 0, false, nil
	}
	return abs(seats-p.Assigned) + abs(over-p.Overage), true, nil
}

// collectPoolSlots frees device slots of the pool's seats that binds
// which died half-way left behind (see collectSlots).
func (s *Store) collectPoolSlots(ctx context.Context, p *poolDoc) error {
	held, err := findAll[assignmentDoc](ctx, s.c.assignments, append(poolFilter(p.TenantID, p.ID),
		bson.E{Key: "slots.0", Value: bson.D{{Key: "$exists", Value: true}}}))
	if err != nil {
		return err
	}
	for i := range held {
		if _, err := s.collectSlots(ctx, &held[i]); err != nil {
			return err
		}
	}
	return nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
