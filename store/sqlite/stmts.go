package sqlite

import (
	clist "container/list"
	"context"
	"database/sql"
	"sync"
)

// The driver parses every statement it is handed; for the short queries
// of this package parsing costs as much as running them (a third of a
// ClaimSeat went to the SQL parser). So every fixed statement is prepared
// once per connection and kept: stmtCache holds the *sql.Stmt per query
// text, and database/sql keeps each one prepared on every connection that
// ran it. Queries built from a filter are not fixed: their text depends
// on the filter's shape (never on its values, which are arguments), so the
// same few shapes recur, and they go through builtStmts, a bounded cache
// that closes the statement used least recently to make room.

// maxCached bounds the cache in case a caller builds queries dynamically.
const maxCached = 512

// maxBuilt bounds the statements kept for queries built from filters.
const maxBuilt = 256

type stmtCache struct {
	db    *sql.DB
	mu    sync.RWMutex
	m     map[string]*sql.Stmt
	built *builtStmts
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt), built: newBuiltStmts(db, maxBuilt)}
}

func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[query]
}

// get returns the prepared statement for query, preparing it on the pool
// when missing, or nil (and no error) when the cache is full and the
// caller should run query unprepared. It must not be called while the
// caller holds one of the pool's connections in a transaction: preparing
// needs a connection, and the writer pool has exactly one.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := c.lookup(query); st != nil {
		return st, nil
	}
	c.mu.RLock()
	full := len(c.m) >= maxCached
	c.mu.RUnlock()
	if full {
		return nil, nil
	}
	// Prepare without the lock: waiting for a connection while holding
	// it would block every transaction that wants a cached statement.
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.m[query]; prev != nil {
		st.Close()
		return prev, nil
	}
	if c.m == nil { // closed
		st.Close()
		return nil, nil
	}
	c.m[query] = st
	return st, nil
}

// missedStmts are the queries a transaction found in neither cache.
type missedStmts struct{ fixed, built []string }

// warm prepares queries a transaction had to prepare for itself, once
// the transaction has given its connection back.
func (c *stmtCache) warm(ctx context.Context, missed *missedStmts) {
	ctx = context.WithoutCancel(ctx)
	for _, q := range missed.fixed {
		_, _ = c.get(ctx, q) // an error shows when the query runs again
	}
	for _, q := range missed.built {
		_, _ = c.built.get(ctx, q)
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
	c.built.close()
}

// builtStmts keeps the most recently used statements built from filters.
// Closing an evicted statement is safe while a transaction still runs
// it: database/sql finalises it when its last user is done.
type builtStmts struct {
	db    *sql.DB
	max   int
	mu    sync.Mutex
	m     map[string]*clist.Element // of *builtStmt; nil once closed
	order clist.List                // most recently used first
}

type builtStmt struct {
	query string
	st    *sql.Stmt
}

func newBuiltStmts(db *sql.DB, max int) *builtStmts {
	return &builtStmts{db: db, max: max, m: make(map[string]*clist.Element)}
}

func (b *builtStmts) lookup(query string) *sql.Stmt {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e := b.m[query]; e != nil {
		b.order.MoveToFront(e)
		return e.Value.(*builtStmt).st
	}
	return nil
}

// get returns query prepared on the pool, preparing it when missing. Like
// stmtCache.get, it must not be called while holding one of the pool's
// connections.
func (b *builtStmts) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := b.lookup(query); st != nil {
		return st, nil
	}
	st, err := b.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil { // closed
		st.Close()
		return nil, sql.ErrConnDone
	}
	if e := b.m[query]; e != nil {
		st.Close()
		b.order.MoveToFront(e)
		return e.Value.(*builtStmt).st, nil
	}
	b.m[query] = b.order.PushFront(&builtStmt{query, st})
	for b.order.Len() > b.max {
		old := b.order.Remove(b.order.Back()).(*builtStmt)
		delete(b.m, old.query)
		old.st.Close()
	}
	return st, nil
}

func (b *builtStmts) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for e := b.order.Front(); e != nil; e = e.Next() {
		e.Value.(*builtStmt).st.Close()
	}
	b.m = nil
	b.order.Init()
}

// cdb runs cached statements on a pool (reads on s.r, single writes on
// s.w).
type cdb struct {
	*sql.DB
	c *stmtCache
	// detach runs QueryRowContext without the caller's cancellation. On
	// the read pool it answers lookups by key, which take microseconds;
	// watching a cancellable context costs more than that: a goroutine
	// in database/sql, one in the driver and a progress handler, per
	// statement.
	detach bool
}

// built runs queries built from filters through the bounded cache.
func (d cdb) built() builtDB { return builtDB{d.DB, d.c} }

type builtDB struct {
	*sql.DB
	c *stmtCache
}

func (d builtDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := d.c.built.get(ctx, query)
	if err != nil {
		return d.DB.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (d builtDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := d.c.built.get(ctx, query)
	if err != nil {
		return d.DB.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (d builtDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := d.c.built.get(ctx, query)
	if err != nil {
		return d.DB.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (d cdb) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := d.c.get(ctx, query)
	if err != nil || st == nil {
		return d.DB.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (d cdb) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := d.c.get(ctx, query)
	if err != nil || st == nil {
		return d.DB.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (d cdb) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if d.detach {
		ctx = context.WithoutCancel(ctx)
	}
	st, err := d.c.get(ctx, query)
	if err != nil || st == nil {
		// Running it unprepared reports the same error through the Row.
		return d.DB.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// ctxTx is a transaction running cached statements: the write
// transaction on s.w (wtx) or a read snapshot on s.r (rtx). A statement
// not cached yet is prepared for the transaction alone and noted in
// missed, for the cache to prepare once the transaction is over.
type ctxTx struct {
	*sql.Tx
	c      *stmtCache
	missed *missedStmts
}

type (
	wtx struct{ ctxTx }
	rtx struct{ ctxTx }
)

// prepare returns query prepared for this transaction.
func (t ctxTx) prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := t.c.lookup(query); st != nil {
		return t.Tx.StmtContext(ctx, st), nil
	}
	t.missed.fixed = append(t.missed.fixed, query)
	return t.Tx.PrepareContext(ctx, query)
}

// built runs queries built from filters through the bounded cache; one
// not cached yet runs unprepared and is prepared after the transaction.
func (t ctxTx) built() builtTx { return builtTx(t) }

type builtTx ctxTx

func (t builtTx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := t.c.built.lookup(query); st != nil {
		return t.Tx.StmtContext(ctx, st)
	}
	t.missed.built = append(t.missed.built, query)
	return nil
}

func (t builtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

func (t builtTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

func (t builtTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

func (t ctxTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

func (t ctxTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (t ctxTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.prepare(ctx, query)
	if err != nil {
		return t.Tx.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}
