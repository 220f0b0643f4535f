package sqlite

import (
	"encoding/binary"
	"errors"
	"os"
	"sync/atomic"
	"unsafe"
)

// A read transaction of SQLite's WAL mode starts by locking a slot of the
// -shm file (a system call), reading the WAL index header and, when the
// header changed, emptying the connection's page cache; it ends by
// unlocking (another call). For a lookup of one user by key that is half
// its time. A lookup connection may instead keep its read transaction
// open and serve the next lookup from the same snapshot, provided that
// snapshot is still the newest: that is exactly when the WAL index header
// is what it was when the transaction began, since every commit, of any
// connection in any process, publishes a new header (it counts commits in
// iChange) before it returns.
//
// walWatch reads that header the way SQLite's own readers do before they
// take a lock (https://www.sqlite.org/walformat.html, "The WAL-Index
// Header"): the writer writes the second of two copies, then the first;
// a reader reads the first, then the second, and trusts them only when
// they agree. The -shm file is mapped read-only and shared, so the bytes
// are the ones SQLite's own map of it sees. The file stays while any
// connection has the database open (SQLite deletes or truncates it only
// for the first or the last connection of all processes), and the store
// keeps its writer connection open for its whole life.
//
// The watch keeps its descriptor of the -shm file open until the store's
// connections are all closed: closing any descriptor of a file drops
// every POSIX lock the process holds on it, SQLite's included. (Closing
// it at once let another process take this one's connections for gone
// and set the -shm file up anew under them: disk I/O errors in
// TestSeatClaimsAcrossProcesses.)

// A held snapshot must not keep the WAL from starting over, which a
// writer does only when no reader is reading from the WAL, that is when
// every reader reads the database file alone (SQLite's read lock 0).
// A reader gets that lock when the WAL is wholly copied into the file
// (nBackfill, the first word after the two header copies, is mxFrame):
// lookups hold only such snapshots. So they hold while the writers are
// quiet, which is when a read transaction per lookup costs the most, and
// under a stream of commits they read as any reader does.

// walHeaderWords is one copy of the WAL index header in 32-bit words (48
// bytes: iVersion, unused, iChange, isInit/bigEndCksum/szPage, mxFrame,
// nPage, aFrameCksum[2], aSalt[2], aCksum[2]).
const walHeaderWords = 12

type walHeader [walHeaderWords]uint32

type walWatch struct {
	f   *os.File // open until close (see above)
	mem []byte   // the start of the -shm file, mapped read-only
}

// openWalWatch maps the header of path's -shm file; an error means the
// lookups keep to a transaction per read.
func openWalWatch(path string) (*walWatch, error) {
	f, err := os.Open(path + "-shm")
	if err != nil {
		return nil, err
	}
	w := &walWatch{f: f}
	fi, err := f.Stat()
	if err == nil && fi.Size() < 2*4*walHeaderWords+4 {
		err = errors.New("sqlite: -shm file too short for a WAL index header")
	}
	if err == nil {
		w.mem, err = mapShared(f, min(int(fi.Size()), 4096))
	}
	if err == nil {
		if _, ok := w.header(); !ok {
			err = errors.New("sqlite: no WAL index header in the -shm file")
		}
	}
	if err != nil {
		// Kept open all the same, until the store closes: see above.
		return w, err
	}
	return w, nil
}

// close unmaps the header and closes the file; only once no connection
// of the store is open.
func (w *walWatch) close() {
	if w.mem != nil {
		_ = unmap(w.mem)
		w.mem = nil
	}
	w.f.Close()
}

// header returns the current WAL index header; ok is false while a
// writer is writing it (the copies differ) or it was never initialised.
func (w *walWatch) header() (h walHeader, ok bool) {
	var h2 walHeader
	for i := range h {
		h[i] = atomic.LoadUint32((*uint32)(unsafe.Pointer(&w.mem[4*i])))
	}
	for i := range h2 {
		h2[i] = atomic.LoadUint32((*uint32)(unsafe.Pointer(&w.mem[4*(walHeaderWords+i)])))
	}
	var word [4]byte
	binary.NativeEndian.PutUint32(word[:], h[3])
	return h, h == h2 && word[0] != 0 // word[0] is isInit
}

// backfilled reports whether the WAL of header h is wholly copied into
// the database file (so a reader beginning on it reads the file alone).
func (w *walWatch) backfilled(h walHeader) bool {
	const nBackfill = 4 * 2 * walHeaderWords // the word after the copies
	const mxFrame = 4                        // word of the header
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&w.mem[nBackfill]))) == h[mxFrame]
}
