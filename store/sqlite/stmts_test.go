package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// TestBuiltStmtsBounded runs more distinct built queries than the cache
// keeps, one of them inside a read transaction that uses it again after
// it was evicted (and so closed): every query answers, and the cache
// stays within its bound.
func TestBuiltStmtsBounded(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	ctx := context.Background()
	query := func(i int) string { return fmt.Sprintf("SELECT %d + ?", i) }
	check := func(q queryer, i int) {
		t.Helper()
		var got int
		if err := q.QueryRowContext(ctx, query(i), 1).Scan(&got); err != nil {
			t.Fatalf("%s: %v", query(i), err)
		}
		if got != i+1 {
			t.Fatalf("%s with 1 = %d, want %d", query(i), got, i+1)
		}
	}
	check(s.rd.built(), 0) // cached now
	err := s.read(ctx, func(tx *rtx) error {
		check(tx.built(), 0) // the transaction holds the cached statement
		for i := 1; i <= maxBuilt+10; i++ {
			check(s.rd.built(), i) // evicts query 0 once past maxBuilt
		}
		check(tx.built(), 0)          // unprepared: no longer cached
		check(tx.built(), maxBuilt+3) // cached, used in the transaction
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := s.rd.c.built
	b.mu.Lock()
	n, l := len(b.m), b.order.Len()
	b.mu.Unlock()
	if n > maxBuilt || n != l {
		t.Errorf("built statements: %d in the map, %d in the list; want equal and at most %d", n, l, maxBuilt)
	}
	// The transaction's miss was prepared afterwards.
	if b.lookup(query(0)) == nil {
		t.Errorf("%s was not prepared after the transaction that missed it", query(0))
	}
}

// TestGetAssignmentPrepared: GetAssignment, a lookup by key on a hot
// path (the engine reads the seat it just granted), runs a statement
// prepared once, not parsed per call.
func TestGetAssignmentPrepared(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	if _, err := s.GetAssignment(context.Background(), "t", "p", "u"); err == nil {
		t.Fatal("GetAssignment of nothing: no error")
	}
	if s.rd.c.lookup(getAssignmentSQL) == nil {
		t.Error("GetAssignment's statement is not in the read pool's cache")
	}
}
