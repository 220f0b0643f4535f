package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGCLeavesOperatorSetting(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })

	env := map[string]string{"GOGC": "100"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if tuneGC(lookup) {
		t.Fatal("tuneGC changed the collector with GOGC set")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent = %d after tuneGC with GOGC set, want the operator's 100", got)
	}

	delete(env, "GOGC")
	if !tuneGC(lookup) {
		t.Fatal("tuneGC left the collector alone with GOGC unset")
	}
	if got := debug.SetGCPercent(100); got != serveGCPercent {
		t.Fatalf("GC percent = %d, want %d", got, serveGCPercent)
	}
}
