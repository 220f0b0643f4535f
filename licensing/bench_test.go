package licensing_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// BenchmarkAssignVsBareUpdate alternates, in one run, an admin assign +
// unassign pair through the engine and a bare single-row SQLite UPDATE on
// the same kind of file, and reports the throughput ratio (pairs per bare
// update), so a noisy machine affects both sides alike.
func BenchmarkAssignVsBareUpdate(b *testing.B) {
	f := newFixture(&testing.T{}, 1_000_000, store.PolicyDeny)
	defer f.st.Close()
	u := f.user("bench@x.io")
	bare, err := sql.Open("sqlite", filepath.Join(b.TempDir(), "bare.db")+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Close()
	bare.SetMaxOpenConns(1)
	if _, err := bare.Exec(`CREATE TABLE pools (id TEXT PRIMARY KEY, assigned INTEGER NOT NULL, total INTEGER NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	if _, err := bare.Exec(`INSERT INTO pools VALUES ('p', 0, 1000000000)`); err != nil {
		b.Fatal(err)
	}
	upd, err := bare.Prepare(`UPDATE pools SET assigned = assigned + 1 WHERE id = 'p' AND assigned < total`)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	const chunk = 64
	var engT, bareT time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		t0 := time.Now()
		for range n {
			if err := f.eng.Assign(ctx, f.tenant, f.pool.ID, u.ID, "bench"); err != nil {
				b.Fatal(err)
			}
			if err := f.eng.Unassign(ctx, f.tenant, f.pool.ID, u.ID, "bench"); err != nil {
				b.Fatal(err)
			}
		}
		engT += time.Since(t0)
		t0 = time.Now()
		for range n {
			if _, err := upd.Exec(); err != nil {
				b.Fatal(err)
			}
		}
		bareT += time.Since(t0)
	}
	b.ReportMetric(float64(engT.Nanoseconds())/float64(b.N), "ns/assign+unassign")
	b.ReportMetric(float64(bareT.Nanoseconds())/float64(b.N), "ns/bare-update")
	b.ReportMetric(float64(bareT)/float64(engT), "ratio")
}

var reprocessUsers = flag.Int("reprocess-users", 100_000, "users in BenchmarkReprocess's tenant")

// BenchmarkReprocess measures a full reprocess of a tenant with
// -reprocess-users users in 1,000 groups, 100 of them licensed (10% of the
// users): the first one grants every licensed member a seat (their group
// joins were written without converging), the timed ones find a tenant
// already converged, which is what the periodic reconciler sees. It
// reports seconds and bytes allocated.
func BenchmarkReprocess(b *testing.B) {
	t := &testing.T{}
	f := newFixture(t, *reprocessUsers, store.PolicyDeny)
	defer f.st.Close()
	ctx := context.Background()
	var groups []*store.Group
	for i := range 1000 {
		g := f.group(fmt.Sprintf("g%04d", i))
		groups = append(groups, g)
		if i%10 == 0 {
			if _, err := f.eng.AddRule(ctx, f.tenant, g.ID, f.pool.ID, "bench"); err != nil {
				b.Fatal(err)
			}
		}
	}
	batch := make([]store.Member, 0, 1000)
	for i := range *reprocessUsers {
		u := &store.User{TenantID: f.tenant, UserName: fmt.Sprintf("u%07d@x.io", i), Active: true}
		if err := f.st.CreateUser(ctx, u); err != nil {
			b.Fatal(err)
		}
		batch = append(batch, store.Member{MemberID: u.ID, Type: store.MemberUser})
		if len(batch) == cap(batch) {
			g := groups[(i/1000)%len(groups)]
			if _, err := f.st.AddMembers(ctx, f.tenant, g.ID, 0, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	t0 := time.Now()
	if _, err := f.eng.Reprocess(ctx, f.tenant, licensing.System); err != nil {
		b.Fatal(err)
	}
	first := time.Since(t0)
	b.ResetTimer()
	b.ReportMetric(first.Seconds(), "s/first-reprocess")
	var peak uint64
	for range b.N {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		if _, err := f.eng.Reprocess(ctx, f.tenant, licensing.System); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "s/reprocess")
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		peak = max(peak, after.TotalAlloc-before.TotalAlloc)
	}
	b.ReportMetric(float64(peak)/(1<<20), "MB-allocated")
}
