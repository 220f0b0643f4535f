package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"runtime"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Group commit. A commit writes every page the transaction changed to the
// WAL, two system calls per page, and takes and releases the file's locks:
// most of what creating or updating a user costs. Concurrent single-row
// writes touch many of the same pages (the last page of the users table,
// of its id and lastModified indexes, of user_runs), so the writes that
// queue while one runs commit together: each page once per batch, the
// locks once per batch.
//
// An op is one statement: if it fails (a unique key taken, a version
// moved on), SQLite backs out that statement alone and the transaction
// goes on, so every op gets the result it would get run by itself, in
// queue order. Anything else going wrong (an error other than a
// constraint, a failed commit) rolls the batch back and runs its ops one
// by one, each in its own autocommit, as if there had been no batch.
//
// Ops run without their caller's cancellation: the driver interrupts a
// statement whose context ends, and an interrupted statement rolls back
// the whole transaction, the other callers' writes with it. A caller whose
// context has ended by the time its op's turn comes gets its context's
// error and writes nothing; once its op ran, it waits for the commit.

// maxBatch bounds the ops of one batch, so the last one's wait is bounded.
const maxBatch = 64

type batchOp struct {
	ctx  context.Context
	run  func(ctx context.Context, q queryer) error
	err  error
	done chan bool // true: err is the op's result; false: lead the next batch
}

type batcher struct {
	mu      sync.Mutex
	queue   []*batchOp
	leading bool // a goroutine is running a batch or about to
}

// batched runs op, alone or with others queued meanwhile.
func (s *Store) batched(ctx context.Context, run func(ctx context.Context, q queryer) error) error {
	op := &batchOp{ctx: ctx, run: run, done: make(chan bool, 1)}
	b := &s.batch
	b.mu.Lock()
	b.queue = append(b.queue, op)
	if b.leading {
		b.mu.Unlock()
		if <-op.done {
			return op.err
		}
		// Handed the lead: this op heads the queue.
	} else {
		b.leading = true
		b.mu.Unlock()
		// Let the requests already under way reach their writes and
		// queue them behind this one (on one core nothing else runs
		// until this goroutine blocks).
		runtime.Gosched()
	}
	b.mu.Lock()
	n := min(len(b.queue), maxBatch)
	ops := b.queue[:n:n]
	b.queue = b.queue[n:]
	b.mu.Unlock()

	s.runBatch(ops)
	for _, o := range ops {
		if o != op {
			o.done <- true
		}
	}
	b.mu.Lock()
	if len(b.queue) > 0 {
		next := b.queue[0]
		b.mu.Unlock()
		next.done <- false
	} else {
		b.leading = false
		b.mu.Unlock()
	}
	return op.err
}

// runBatch runs ops in one transaction, or one by one (see above).
func (s *Store) runBatch(ops []*batchOp) {
	if len(ops) == 1 {
		s.runAlone(ops[0])
		return
	}
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		s.runEachAlone(ops)
		return
	}
	var missed missedStmts
	q := &wtx{ctxTx{tx, s.wr.c, &missed}}
	ok := true
	for _, o := range ops {
		if o.err = o.ctx.Err(); o.err != nil {
			continue
		}
		o.err = o.run(context.WithoutCancel(o.ctx), q)
		if o.err != nil && !isConstraint(o.err) {
			ok = false
			break
		}
	}
	if !ok {
		_ = tx.Rollback()
		s.runEachAlone(ops)
	} else if err := tx.Commit(); err != nil {
		// Make sure no transaction is left open on the connection
		// before running the ops again (an error here only says there
		// was none).
		_, _ = s.w.ExecContext(ctx, `ROLLBACK`)
		s.runEachAlone(ops)
	}
	if len(missed.fixed)+len(missed.built) > 0 {
		s.wr.c.warm(ctx, &missed)
	}
}

func (s *Store) runEachAlone(ops []*batchOp) {
	for _, o := range ops {
		s.runAlone(o)
	}
}

func (s *Store) runAlone(o *batchOp) {
	if o.err = o.ctx.Err(); o.err == nil {
		o.err = o.run(context.WithoutCancel(o.ctx), s.wr)
	}
}

// opFailed is an op's own failure before it wrote anything (a change
// that refused, a row not there): like a constraint, it leaves the
// batch's transaction going.
type opFailed struct{ err error }

func (e *opFailed) Error() string { return e.err.Error() }
func (e *opFailed) Unwrap() error { return e.err }

// isConstraint reports whether err is a constraint violation, which backs
// out the failed statement but leaves its transaction going, no row (a
// compare-and-set that matched nothing), or an op's own failure.
func isConstraint(err error) bool {
	var of *opFailed
	if errors.Is(err, sql.ErrNoRows) || errors.As(err, &of) {
		return true
	}
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}
