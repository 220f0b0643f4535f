package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// The driver parses every statement it is handed; for the short queries
// of this package parsing costs as much as running them (a third of a
// ClaimSeat went to the SQL parser). So every fixed statement is prepared
// once per connection and kept: stmtCache holds the *sql.Stmt per query
// text, and database/sql keeps each one prepared on every connection that
// ran it. Queries built from a filter are not fixed and bypass the cache
// (through the embedded *sql.Tx / *sql.DB), so the cache stays bounded.

// maxCached bounds the cache in case a caller builds queries dynamically.
const maxCached = 512

type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt)}
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

// warm prepares queries a transaction had to prepare for itself, once
// the transaction has given its connection back.
func (c *stmtCache) warm(ctx context.Context, queries []string) {
	ctx = context.WithoutCancel(ctx)
	for _, q := range queries {
		_, _ = c.get(ctx, q) // an error shows when the query runs again
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// cdb runs cached statements on a pool (reads on s.r, single writes on
// s.w).
type cdb struct {
	*sql.DB
	c *stmtCache
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
	missed *[]string
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
	*t.missed = append(*t.missed, query)
	return t.Tx.PrepareContext(ctx, query)
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
