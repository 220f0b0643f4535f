package main

import (
	"runtime/debug"
)

// Go's default collector (GOGC=100) lets the heap grow to twice what is
// live before collecting. Roster keeps little live: its data is in the
// store (SQLite's page caches are outside Go's heap), so a busy server's
// live heap is a few megabytes and it collected every few megabytes
// allocated, many times a second, at 5–10% of the CPU of each request.
// serve lets the heap grow to three times what is live instead: a few
// percent of CPU per request back for a few tens of megabytes. No soft
// memory limit is set by default: one below a large import's live heap
// would have the collector run without pause. An operator's GOGC or
// GOMEMLIMIT applies as Go documents them.
const serveGCPercent = 200

// tuneGC applies serve's collector setting unless the environment
// (looked up with env) sets GOGC, and reports whether it did.
func tuneGC(env func(string) (string, bool)) bool {
	if _, ok := env("GOGC"); ok {
		return false
	}
	debug.SetGCPercent(serveGCPercent)
	return true
}
