// Package sqlite is Roster's embedded default store: one SQLite file
// (modernc.org/sqlite, pure Go) in WAL mode that needs no set-up.
//
// A Store holds one writer connection and a pool of read-only connections.
// SQLite allows one writer at a time per file anyway; funnelling a
// process's writes through one connection turns lock contention inside the
// process into a queue on database/sql's pool, and every transaction that
// must be atomic starts with BEGIN IMMEDIATE so it takes the file's write
// lock before reading (no upgrade deadlocks, no SQLITE_BUSY_SNAPSHOT).
// Several Stores on one file, in one process or several (a CLI beside a
// running server), are safe: they meet at SQLite's file locks and wait for
// each other up to the busy timeout.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/roster-scim/roster/store"
)

var _ store.Store = (*Store)(nil)

const (
	// busyTimeout is how long a statement waits for another
	// connection's (or process's) write lock before failing with
	// SQLITE_BUSY.
	busyTimeout = 10 * time.Second
	// checkpointEvery is how often the background checkpoint copies the
	// WAL into the database file.
	checkpointEvery = time.Second
	// autoCheckpointPages is the WAL size at which a commit checkpoints
	// by itself, should the background checkpoint fall behind.
	autoCheckpointPages = 10000
)

// Store is a Roster store on one SQLite file.
type Store struct {
	path  string
	w     *sql.DB  // exactly one connection: every write goes through it
	r     *sql.DB  // query_only connections for reads outside transactions
	wr    cdb      // w with prepared statements
	rd    cdb      // r with prepared statements
	look  *lookups // reads of one user by key (lookup.go)
	runs  runCache // per tenant, users in id order cut into counted runs (position.go)
	batch batcher  // single-statement writes committed together (batch.go)
	scans scanObs  // see ObserveFilterScans (scan.go)

	ck       *sql.DB   // one connection for background checkpoints
	shm      *walWatch // the -shm file, open until Close (walwatch.go)
	stopCk   chan struct{}
	ckDone   chan struct{}
	closeOne sync.Once
	closeErr error
}

// cacheKiB is each connection's own page cache, in KiB.
const cacheKiB = 16 << 10

// Open opens (creating when missing) the database file at path and its
// parent directory, and brings its schema up to date.
func Open(path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || strings.Contains(path, ":memory:") {
		return nil, fmt.Errorf("sqlite: %q is not a database file path", path)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: create data directory: %w", err)
	}
	// SQLite's own error for an unwritable file or directory is "unable to
	// open database file"; checking first lets the operator read which
	// path and why.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: database file is not writable: %w", err)
	}
	f.Close()
	if err := dirWritable(dir); err != nil {
		return nil, fmt.Errorf("sqlite: data directory %s is not writable (SQLite keeps its -wal and -shm files there): %w", dir, err)
	}

	common := url.Values{}
	common.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	common.Set("_foreign_keys", "1")
	// The bigger per-connection cache keeps the B-tree's upper levels and
	// hot rows decoded. The file is not mapped (mmap_size stays 0): a
	// read whose snapshot another connection's commit changed makes
	// SQLite unmap the whole file and fault every page back in, which
	// cost reads between writes more than the map saved (PATCH 283 → 257
	// µs CPU without it, list-100 no slower); and each connection's map
	// counts every page it touched in resident memory, which at a
	// million users grows towards the file's size per connection.
	common.Add("_pragma", fmt.Sprintf("cache_size(%d)", -cacheKiB))

	wq := url.Values{}
	for k, v := range common {
		wq[k] = v
	}
	wq.Set("_journal_mode", "WAL")
	wq.Set("_synchronous", "NORMAL")
	wq.Set("_txlock", "immediate")
	// Checkpoints run in the background (checkpointLoop), not in the
	// commit that happens to cross SQLite's default 1000-page mark: that
	// commit would pay for copying the WAL and an fsync. The raised
	// threshold stays as a backstop (about 40 MB of WAL).
	wq.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", autoCheckpointPages))
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	rq := url.Values{}
	for k, v := range common {
		rq[k] = v
	}
	rq.Set("_query_only", "1")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)

	cq := url.Values{}
	for k, v := range common {
		cq[k] = v
	}
	ck, err := sql.Open("sqlite", path+"?"+cq.Encode())
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)

	s := &Store{path: path, w: w, r: r, wr: cdb{DB: w, c: newStmtCache(w)}, rd: cdb{DB: r, c: newStmtCache(r), detach: true},
		look: newLookups(path, max(2, runtime.GOMAXPROCS(0))),
		ck:   ck, stopCk: make(chan struct{}), ckDone: make(chan struct{})}
	if err := s.migrate(context.Background()); err != nil {
		close(s.ckDone)
		s.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	// The writer's connection, open for the store's life, keeps the -shm
	// file in place; without a map of it each lookup is its own
	// transaction, as any read.
	shm, err := openWalWatch(path)
	s.shm = shm
	if err == nil {
		s.look.watch.Store(shm)
	}
	go s.checkpointLoop()
	return s, nil
}

// checkpointLoop copies the WAL into the database file every
// checkpointEvery. PASSIVE never waits for readers or writers; what it
// cannot copy now it copies next time. Before, it moves the users written
// since into the search's trigram index (indexSearch).
func (s *Store) checkpointLoop() {
	defer close(s.ckDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopCk:
			return
		case <-t.C:
			// An error (a busy file, a full disk) shows in the commits
			// that follow; nothing to do about it here.
			_ = s.indexSearch(context.Background())
			// Held lookup snapshots (lookup.go) let go first, so the
			// checkpoint can copy the whole WAL.
			s.look.release()
			_, _ = s.ck.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		}
	}
}

func dirWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".roster-write-test-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// Close releases the connections; the file stays consistent whenever a
// process stops, Close or not (WAL).
func (s *Store) Close() error {
	s.closeOne.Do(func() {
		close(s.stopCk)
		<-s.ckDone
		s.wr.c.close()
		s.rd.c.close()
		s.look.close()
		s.closeErr = errors.Join(s.ck.Close(), s.r.Close(), s.w.Close())
		if s.shm != nil {
			s.look.dropWatch(s.shm)
		}
	})
	return s.closeErr
}

// Ping checks that the read pool and the writer connection both answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return err
	}
	var v int
	return s.w.QueryRowContext(ctx, `SELECT 1`).Scan(&v)
}

// Path is the database file the store was opened on.
func (s *Store) Path() string { return s.path }

// tx runs fn in a BEGIN IMMEDIATE transaction on the writer connection and
// commits when fn returns nil. fn must use only tx: the writer has one
// connection, so touching s.w inside fn would wait for itself.
func (s *Store) tx(ctx context.Context, fn func(tx *wtx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	var missed missedStmts
	err = fn(&wtx{ctxTx{tx, s.wr.c, &missed}})
	if err != nil {
		_ = tx.Rollback()
	} else {
		err = tx.Commit()
	}
	if len(missed.fixed)+len(missed.built) > 0 {
		s.wr.c.warm(ctx, &missed)
	}
	return err
}

// read runs fn in a read transaction, so the queries fn makes see one
// snapshot (a total and its page agree).
func (s *Store) read(ctx context.Context, fn func(tx *rtx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	var missed missedStmts
	err = fn(&rtx{ctxTx{tx, s.rd.c, &missed}})
	_ = tx.Rollback() // read-only: nothing to lose
	if len(missed.fixed)+len(missed.built) > 0 {
		s.rd.c.warm(ctx, &missed)
	}
	return err
}

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ms stores t as unix milliseconds, the zero time as NULL.
func ms(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMS reads what ms wrote.
func fromMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

func msTime(v int64) time.Time { return time.UnixMilli(v).UTC() }

func now() time.Time { return store.Timestamp(time.Now()) }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// constraint maps a constraint violation to the store's error: a unique
// index to ErrConflict on the attribute the caller knows it by, found by
// the first column of the message ("UNIQUE constraint failed: users.tenant_id,
// users.user_name_norm") that attrs names; a CHECK to checkErr. Other
// errors pass through.
func constraint(err error, attrs map[string]string, checkErr error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		// The message ends "UNIQUE constraint failed: t.a, t.b (2067)".
		msg := se.Error()
		if i := strings.LastIndex(msg, "failed: "); i >= 0 {
			msg = msg[i+len("failed: "):]
		}
		if i := strings.LastIndex(msg, " ("); i >= 0 {
			msg = msg[:i]
		}
		for _, col := range strings.Split(msg, ",") {
			if a, ok := attrs[strings.TrimSpace(col)]; ok {
				return &store.ErrConflict{Attr: a}
			}
		}
		return &store.ErrConflict{Attr: "id"}
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		if checkErr != nil {
			return checkErr
		}
	}
	return err
}

// rowsAffected returns how many rows res changed.
func rowsAffected(res sql.Result) int64 {
	n, _ := res.RowsAffected()
	return n
}

// exists reports whether the query (a SELECT 1 ...) finds a row.
func exists(ctx context.Context, q queryer, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// notFound turns sql.ErrNoRows into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// casMiss explains why a compare-and-set UPDATE changed no row: the record
// is missing (ErrNotFound) or has another version (ErrPrecondition).
func casMiss(ctx context.Context, q queryer, table, tenantID, id string) error {
	var ok bool
	var err error
	if tenantID == "" {
		ok, err = exists(ctx, q, `SELECT 1 FROM `+table+` WHERE id = ?`, id)
	} else {
		ok, err = exists(ctx, q, `SELECT 1 FROM `+table+` WHERE tenant_id = ? AND id = ?`, tenantID, id)
	}
	switch {
	case err != nil:
		return err
	case ok:
		return store.ErrPrecondition
	}
	return store.ErrNotFound
}
