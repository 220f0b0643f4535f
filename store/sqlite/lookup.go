package sqlite

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/roster-scim/roster/store"
)

// A read of one user by key is the commonest call of all (GET, a filter
// on userName, the read before every PATCH), and through database/sql
// most of its time was not SQLite's: a pooled statement looked up per
// call, the driver's rows with their column names and types read again,
// each text argument copied into a C allocation and freed, a Rows and a
// Row, values boxed and converted by reflection, then three locks to give
// it all back. lookups answers those reads on connections of its own,
// opened with the library the driver is built on and the same settings as
// the read pool: each keeps its two statements prepared, binds the
// arguments from a buffer it owns, steps once and copies out the row.
// SQLite is the same library with the same process-wide state (locks,
// shared memory, the WAL index), so these connections are readers like
// any other: every step is its own read transaction of the file as it
// is, committed by this process or another.
//
// On anything unexpected (a connection that will not open, a statement
// that fails) the caller falls back to the read pool, which reports the
// error as the driver words it.
//
// A lookup connection keeps its read transaction open from one lookup to
// the next while the WAL index header says no commit came since it began
// (see walWatch), for at most maxHold: the lock and unlock system calls
// and the header check of each transaction were a third of a lookup. It
// holds only snapshots that read the database file alone (walWatch's
// backfilled), which never keep a writer from starting the WAL over.
// Such a snapshot does keep a checkpoint from copying later commits into
// the file, so the checkpoint loop calls release before each checkpoint,
// ending the idle connections' transactions and having the busy ones end
// theirs at their next lookup; any commit ends them all at their next
// lookup too (a new header).

// maxHold bounds how long a lookup connection serves from one read
// transaction, however quiet the writers.
const maxHold = 5 * time.Millisecond

// Statements the lookup connections keep prepared. The columns are the
// ones scanUser reads, less the keys the caller already has.
const (
	lookupByID = `SELECT version, created, updated, doc FROM users WHERE tenant_id = ? AND id = ?`
	// user_name_norm is unique per tenant, so at most one row.
	lookupByUserName = `SELECT id, version, created, updated, doc FROM users WHERE tenant_id = ? AND user_name_norm = ?`
)

// errLookup is a lookup that could not run; the read pool tries again.
var errLookup = errors.New("sqlite: direct lookup failed")

// lookups is a small pool of lookup connections on one database file.
type lookups struct {
	dsn  string // file name, NUL-terminated in C memory when opening
	max  int
	idle chan *lookupConn
	done chan struct{} // closed by close

	// watch reads the WAL index header; nil: no held transactions.
	watch atomic.Pointer[walWatch]
	// epoch moves on at each release; a connection holding a transaction
	// of an older epoch ends it before its next lookup.
	epoch atomic.Uint64

	mu      sync.Mutex
	open    int       // connections opened and not closed
	closed  bool      // Close ran: connections coming back are closed
	broken  bool      // a connection failed to open: stop trying
	dropped *walWatch // the store closed its connections: close this after the last of ours
}

func newLookups(path string, max int) *lookups {
	return &lookups{dsn: path, max: max, idle: make(chan *lookupConn, max), done: make(chan struct{})}
}

// get returns an idle connection, opens one, or waits for one; nil when
// the pool cannot serve (closed, or connections fail to open).
func (p *lookups) get() *lookupConn {
	select {
	case c := <-p.idle:
		return c
	default:
	}
	p.mu.Lock()
	if p.closed || p.broken {
		p.mu.Unlock()
		return nil
	}
	if p.open < p.max {
		p.open++
		p.mu.Unlock()
		c, err := openLookupConn(p.dsn)
		if err != nil {
			p.mu.Lock()
			p.open--
			p.broken = true
			p.mu.Unlock()
			return nil
		}
		return c
	}
	p.mu.Unlock()
	select {
	case c := <-p.idle:
		return c
	case <-p.done:
		return nil
	}
}

// put gives c back; a connection that failed is closed, so the next
// caller opens a fresh one.
func (p *lookups) put(c *lookupConn, failed bool) {
	p.mu.Lock()
	if p.closed || failed {
		p.open--
		w := p.lastOut()
		p.mu.Unlock()
		c.close()
		if w != nil {
			w.close()
		}
		return
	}
	p.mu.Unlock()
	p.idle <- c // never blocks: at most max connections exist
}

// release ends the read transactions of the idle connections and has the
// busy ones end theirs before their next lookup (see maxHold).
func (p *lookups) release() {
	p.epoch.Add(1)
	for n := len(p.idle); n > 0; n-- {
		select {
		case c := <-p.idle:
			p.put(c, c.end() != nil)
		default:
			return
		}
	}
}

// dropWatch closes w, the store's watch, once no lookup connection is
// open: the store calls it when its own connections are closed.
func (p *lookups) dropWatch(w *walWatch) {
	p.mu.Lock()
	p.dropped = w
	w = p.lastOut()
	p.mu.Unlock()
	if w != nil {
		w.close()
	}
}

// lastOut returns the watch to close when the store and every lookup
// connection are closed (once), else nil. p.mu is held.
func (p *lookups) lastOut() *walWatch {
	w := p.dropped
	if w == nil || !p.closed || p.open > 0 {
		return nil
	}
	p.dropped = nil
	p.watch.Store(nil)
	return w
}

// close closes the idle connections; those in use close when they come
// back.
func (p *lookups) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	p.mu.Unlock()
	for {
		select {
		case c := <-p.idle:
			p.mu.Lock()
			p.open--
			p.mu.Unlock()
			c.close()
		default:
			return
		}
	}
}

// lookupConn is one SQLite connection and its prepared statements. Only
// the goroutine that took it from the pool uses it.
type lookupConn struct {
	tls           *libc.TLS
	db            uintptr
	byID, byName  uintptr
	parts         uintptr // partsQuery (pages.go)
	begin, commit uintptr
	arg           uintptr // C buffer the arguments are bound from
	argCap        int

	// A read transaction held open (see maxHold): its snapshot's header,
	// when it began and in which epoch of the pool.
	held  bool
	snap  walHeader
	since time.Time
	epoch uint64
}

func openLookupConn(path string) (_ *lookupConn, err error) {
	c := &lookupConn{tls: libc.NewTLS()}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	name, err := libc.CString(path)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(c.tls, name)
	pdb := c.tls.Alloc(int(unsafe.Sizeof(uintptr(0))))
	defer c.tls.Free(int(unsafe.Sizeof(uintptr(0))))
	// No CREATE: the store created the file. NOMUTEX: one goroutine at a
	// time, so SQLite's own per-connection mutex would only cost.
	rc := sqlite3.Xsqlite3_open_v2(c.tls, name, pdb,
		sqlite3.SQLITE_OPEN_READWRITE|sqlite3.SQLITE_OPEN_NOMUTEX|sqlite3.SQLITE_OPEN_EXRESCODE, 0)
	c.db = cptr(pdb)
	if rc != sqlite3.SQLITE_OK {
		return nil, c.err(rc)
	}
	// What Open sets on the read pool's connections (no map of the
	// file: see Open).
	if rc := sqlite3.Xsqlite3_busy_timeout(c.tls, c.db, int32(busyTimeout.Milliseconds())); rc != sqlite3.SQLITE_OK {
		return nil, c.err(rc)
	}
	if err := c.exec(fmt.Sprintf("PRAGMA query_only = 1; PRAGMA mmap_size = 0; PRAGMA cache_size = %d", -cacheKiB)); err != nil {
		return nil, err
	}
	if c.byID, err = c.prepare(lookupByID); err != nil {
		return nil, err
	}
	if c.byName, err = c.prepare(lookupByUserName); err != nil {
		return nil, err
	}
	if c.parts, err = c.prepare(partsQuery); err != nil {
		return nil, err
	}
	if c.begin, err = c.prepare("BEGIN"); err != nil {
		return nil, err
	}
	if c.commit, err = c.prepare("COMMIT"); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *lookupConn) close() {
	if c.tls == nil {
		return
	}
	for _, st := range []uintptr{c.byID, c.byName, c.parts, c.begin, c.commit} {
		if st != 0 {
			sqlite3.Xsqlite3_finalize(c.tls, st)
		}
	}
	if c.db != 0 {
		sqlite3.Xsqlite3_close_v2(c.tls, c.db)
	}
	if c.arg != 0 {
		libc.Xfree(c.tls, c.arg)
	}
	c.tls.Close()
	*c = lookupConn{}
}

func (c *lookupConn) err(rc int32) error {
	msg := "unknown error"
	if c.db != 0 {
		msg = libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db))
	}
	return fmt.Errorf("%w: %s (%d)", errLookup, msg, rc)
}

func (c *lookupConn) exec(sql string) error {
	z, err := libc.CString(sql)
	if err != nil {
		return err
	}
	defer libc.Xfree(c.tls, z)
	if rc := sqlite3.Xsqlite3_exec(c.tls, c.db, z, 0, 0, 0); rc != sqlite3.SQLITE_OK {
		return c.err(rc)
	}
	return nil
}

func (c *lookupConn) prepare(sql string) (uintptr, error) {
	z, err := libc.CString(sql)
	if err != nil {
		return 0, err
	}
	defer libc.Xfree(c.tls, z)
	pst := c.tls.Alloc(int(unsafe.Sizeof(uintptr(0))))
	defer c.tls.Free(int(unsafe.Sizeof(uintptr(0))))
	if rc := sqlite3.Xsqlite3_prepare_v3(c.tls, c.db, z, -1, sqlite3.SQLITE_PREPARE_PERSISTENT, pst, 0); rc != sqlite3.SQLITE_OK {
		return 0, c.err(rc)
	}
	return cptr(pst), nil
}

// bind binds a and b, in that order, to st's two parameters, from the
// connection's buffer; they stay valid until the statement is reset.
func (c *lookupConn) bind(st uintptr, a, b string) error {
	if n := len(a) + len(b); n > c.argCap || c.arg == 0 {
		size := max(n, 256)
		p := libc.Xrealloc(c.tls, c.arg, libc.Tsize_t(size))
		if p == 0 {
			return fmt.Errorf("%w: out of memory", errLookup)
		}
		c.arg, c.argCap = p, size
	}
	buf := cmem(c.arg, c.argCap)
	copy(buf, a)
	copy(buf[len(a):], b)
	// SQLITE_STATIC (0): SQLite reads the buffer in place.
	if rc := sqlite3.Xsqlite3_bind_text(c.tls, st, 1, c.arg, int32(len(a)), 0); rc != sqlite3.SQLITE_OK {
		return c.err(rc)
	}
	if rc := sqlite3.Xsqlite3_bind_text(c.tls, st, 2, c.arg+uintptr(len(a)), int32(len(b)), 0); rc != sqlite3.SQLITE_OK {
		return c.err(rc)
	}
	return nil
}

// text returns column i of st's row as a Go string.
func (c *lookupConn) text(st uintptr, i int32) string {
	p := sqlite3.Xsqlite3_column_blob(c.tls, st, i)
	n := sqlite3.Xsqlite3_column_bytes(c.tls, st, i)
	if p == 0 || n <= 0 {
		return ""
	}
	b := make([]byte, n)
	copy(b, cmem(p, int(n)))
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// user runs st (lookupByID when byID, else lookupByUserName) with the
// arguments a and b and returns the user it finds, store.ErrNotFound, or
// an error wrapping errLookup.
func (c *lookupConn) user(st uintptr, byID bool, a, b string) (*store.User, error) {
	if err := c.bind(st, a, b); err != nil {
		sqlite3.Xsqlite3_reset(c.tls, st)
		return nil, err
	}
	rc := sqlite3.Xsqlite3_step(c.tls, st)
	switch rc {
	case sqlite3.SQLITE_DONE:
		sqlite3.Xsqlite3_reset(c.tls, st)
		return nil, store.ErrNotFound
	case sqlite3.SQLITE_ROW:
	default:
		err := c.err(rc)
		sqlite3.Xsqlite3_reset(c.tls, st)
		return nil, err
	}
	col := int32(0)
	u := new(store.User)
	id := b
	if !byID {
		id = c.text(st, 0)
		col = 1
	}
	version := sqlite3.Xsqlite3_column_int64(c.tls, st, col)
	created := sqlite3.Xsqlite3_column_int64(c.tls, st, col+1)
	updated := sqlite3.Xsqlite3_column_int64(c.tls, st, col+2)
	doc := c.text(st, col+3)
	// Ends the read transaction before the decoding, which needs no lock.
	sqlite3.Xsqlite3_reset(c.tls, st)
	if err := decodeUserDoc(doc, u); err != nil {
		return nil, err
	}
	// As scanUser: the columns are authoritative.
	u.TenantID, u.ID, u.Version = a, id, version
	u.CreatedAt, u.UpdatedAt = msTime(created), msTime(updated)
	return u, nil
}

// bindArgs binds args (strings and ints) to st's parameters in order,
// the strings from the connection's buffer; they stay valid until the
// statement is reset.
func (c *lookupConn) bindArgs(st uintptr, args ...any) error {
	n := 0
	for _, a := range args {
		if s, ok := a.(string); ok {
			n += len(s)
		}
	}
	if n > c.argCap || c.arg == 0 {
		size := max(n, 256)
		p := libc.Xrealloc(c.tls, c.arg, libc.Tsize_t(size))
		if p == 0 {
			return fmt.Errorf("%w: out of memory", errLookup)
		}
		c.arg, c.argCap = p, size
	}
	buf := cmem(c.arg, c.argCap)
	off := 0
	for i, a := range args {
		var rc int32
		switch v := a.(type) {
		case string:
			copy(buf[off:], v)
			rc = sqlite3.Xsqlite3_bind_text(c.tls, st, int32(i+1), c.arg+uintptr(off), int32(len(v)), 0)
			off += len(v)
		case int:
			rc = sqlite3.Xsqlite3_bind_int64(c.tls, st, int32(i+1), int64(v))
		default:
			return fmt.Errorf("%w: cannot bind %T", errLookup, a)
		}
		if rc != sqlite3.SQLITE_OK {
			return c.err(rc)
		}
	}
	return nil
}

// rawPartRows steps partsQuery on a lookup connection (see partRows).
type rawPartRows struct{ c *lookupConn }

func (r rawPartRows) next(row *partRow) (bool, error) {
	c, st := r.c, r.c.parts
	switch rc := sqlite3.Xsqlite3_step(c.tls, st); rc {
	case sqlite3.SQLITE_DONE:
		return false, nil
	case sqlite3.SQLITE_ROW:
	default:
		return false, c.err(rc)
	}
	row.gen = sqlite3.Xsqlite3_column_int64(c.tls, st, 0)
	row.n = int(sqlite3.Xsqlite3_column_int64(c.tls, st, 1))
	row.lo = c.text(st, 2)
	row.num = int(sqlite3.Xsqlite3_column_int64(c.tls, st, 3))
	row.size = int(sqlite3.Xsqlite3_column_int64(c.tls, st, 4))
	row.render = int(sqlite3.Xsqlite3_column_int64(c.tls, st, 5))
	row.data = c.text(st, 6)
	return true, nil
}

func (r rawPartRows) close() error {
	sqlite3.Xsqlite3_reset(r.c.tls, r.c.parts)
	return nil
}

// lookupParts is readPartsAt (pages.go) through the lookup pool, which
// spares a page of users database/sql's layers and, while no commit
// comes, the read transaction (see maxHold). An error wrapping errLookup
// means the pool could not answer.
func (s *Store) lookupParts(tenantID string, r *runs, p *listPlan, key string) (pg *partsPage, missing []string, ok bool, err error) {
	c := s.look.get()
	if c == nil {
		return nil, nil, false, errLookup
	}
	began, h, err := c.ready(s.look)
	if err == nil {
		pg, missing, ok, err = walkParts(func(args ...any) (partRows, error) {
			if err := c.bindArgs(c.parts, args...); err != nil {
				sqlite3.Xsqlite3_reset(c.tls, c.parts)
				return nil, err
			}
			return rawPartRows{c}, nil
		}, tenantID, r, p, key)
	}
	if err != nil && !errors.Is(err, errLookup) {
		err = fmt.Errorf("%w: %v", errLookup, err)
	}
	if began && err == nil {
		if serr := c.settle(s.look, h); serr != nil {
			pg, missing, ok, err = nil, nil, false, serr
		}
	}
	s.look.put(c, err != nil)
	return pg, missing, ok, err
}

// run steps a statement that returns no rows (BEGIN, COMMIT).
func (c *lookupConn) run(st uintptr) error {
	rc := sqlite3.Xsqlite3_step(c.tls, st)
	sqlite3.Xsqlite3_reset(c.tls, st)
	if rc != sqlite3.SQLITE_DONE {
		return c.err(rc)
	}
	return nil
}

// end ends the transaction c holds, if any.
func (c *lookupConn) end() error {
	if !c.held {
		return nil
	}
	c.held = false
	return c.run(c.commit)
}

// ready readies c for a lookup from the newest snapshot: it keeps the
// transaction c holds when no commit came since it began (and it is of
// this epoch and younger than maxHold), else ends it, and begins one to
// hold when it can read the header. began reports a transaction begun
// now: after its first read, settle checks which snapshot that read took.
func (c *lookupConn) ready(p *lookups) (began bool, h walHeader, err error) {
	w := p.watch.Load()
	if w == nil {
		return false, h, c.end()
	}
	h, ok := w.header()
	epoch := p.epoch.Load()
	if c.held {
		if ok && h == c.snap && c.epoch == epoch && time.Since(c.since) < maxHold {
			return false, h, nil
		}
		if err := c.end(); err != nil {
			return false, h, err
		}
	}
	if !ok || !w.backfilled(h) {
		// A header being written, or a WAL with commits to copy: this
		// read is a transaction of its own.
		return false, h, nil
	}
	if err := c.run(c.begin); err != nil {
		return false, h, err
	}
	c.held, c.since, c.epoch = true, time.Now(), epoch
	return true, h, nil
}

// settle follows the first read of a transaction ready began with header
// h. SQLite took the snapshot within that read; if the header is still h
// no commit came between, so the snapshot is h's and c may hold it (if
// the WAL is still wholly copied: else the snapshot may read from it). If
// not, the read was still of the newest state when it ran, but which one
// is unknown: c ends the transaction.
func (c *lookupConn) settle(p *lookups, h walHeader) error {
	if w := p.watch.Load(); w != nil {
		if now, ok := w.header(); ok && now == h && w.backfilled(h) {
			c.snap = h
			return nil
		}
	}
	return c.end()
}

// lookupUser reads one user through the lookup pool: by id when byID,
// else by folded userName. An error wrapping errLookup means the pool
// could not answer and the caller should ask the read pool.
func (s *Store) lookupUser(tenantID, key string, byID bool) (*store.User, error) {
	c := s.look.get()
	if c == nil {
		return nil, errLookup
	}
	st := c.byName
	if byID {
		st = c.byID
	}
	began, h, err := c.ready(s.look)
	var u *store.User
	if err == nil {
		u, err = c.user(st, byID, tenantID, key)
	}
	if began && !errors.Is(err, errLookup) {
		if serr := c.settle(s.look, h); serr != nil {
			u, err = nil, serr
		}
	}
	s.look.put(c, errors.Is(err, errLookup))
	return u, err
}

// cmem is the n bytes of C memory at p. libc allocates outside Go's heap,
// so the collector neither moves nor frees them. (Converting through a
// pointer to p, not p itself, says so to go vet.)
func cmem(p uintptr, n int) []byte {
	return unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&p))), n)
}

// cptr reads the pointer stored in C memory at p.
func cptr(p uintptr) uintptr {
	return *(*uintptr)(*(*unsafe.Pointer)(unsafe.Pointer(&p)))
}
