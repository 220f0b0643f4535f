package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

func testLeases(t *testing.T, e *env) {
	ten, other := e.tenant("t"), e.tenant("other")
	now := store.Timestamp(time.Now())
	l1 := &store.Lease{TenantID: ten.ID, ID: "jti-1", UserID: "u", ProductID: "p", DeviceID: "d1", KeyID: "k1", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	l2 := &store.Lease{TenantID: ten.ID, ID: "jti-2", UserID: "u", ProductID: "p", DeviceID: "d2", KeyID: "k1", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	e.must(e.s.RecordLease(e.ctx, l1), "RecordLease")
	e.must(e.s.RecordLease(e.ctx, l2), "RecordLease")
	got, err := e.s.GetLease(e.ctx, ten.ID, "jti-1")
	e.must(err, "GetLease")
	same(t, got, l1, "GetLease")
	_, err = e.s.GetLease(e.ctx, other.ID, "jti-1")
	wantErr(t, err, store.ErrNotFound, "GetLease through another tenant")

	at := now.Add(time.Minute)
	e.must(e.s.RevokeDeviceLeases(e.ctx, other.ID, "d1", at), "RevokeDeviceLeases(other tenant)")
	got, _ = e.s.GetLease(e.ctx, ten.ID, "jti-1")
	if !got.RevokedAt.IsZero() {
		t.Errorf("another tenant revoked a lease")
	}
	e.must(e.s.RevokeDeviceLeases(e.ctx, ten.ID, "d1", at), "RevokeDeviceLeases")
	got, _ = e.s.GetLease(e.ctx, ten.ID, "jti-1")
	same(t, got.RevokedAt, at, "RevokedAt of the device's lease")
	got, _ = e.s.GetLease(e.ctx, ten.ID, "jti-2")
	if !got.RevokedAt.IsZero() {
		t.Errorf("RevokeDeviceLeases revoked another device's lease")
	}

	k1 := &store.SigningKey{TenantID: ten.ID, ID: "kid-1", Private: []byte("seed-1"), Public: []byte("pub-1"), CreatedAt: now.Add(-time.Hour)}
	k2 := &store.SigningKey{TenantID: ten.ID, ID: "kid-2", Private: []byte("seed-2"), Public: []byte("pub-2"), CreatedAt: now}
	e.must(e.s.AddSigningKey(e.ctx, k1), "AddSigningKey")
	e.must(e.s.AddSigningKey(e.ctx, k2), "AddSigningKey")
	keys, err := e.s.SigningKeys(e.ctx, ten.ID)
	e.must(err, "SigningKeys")
	if len(keys) != 2 {
		t.Fatalf("SigningKeys: %d keys, want 2", len(keys))
	}
	same(t, keys[0], k2, "newest key first")
	same(t, keys[1], k1, "older key second")
	keys, err = e.s.SigningKeys(e.ctx, other.ID)
	e.must(err, "SigningKeys(other)")
	same(t, len(keys), 0, "another tenant's keys")
	e.must(e.s.RetireSigningKey(e.ctx, ten.ID, "kid-1", now, now.Add(24*time.Hour)), "RetireSigningKey")
	keys, _ = e.s.SigningKeys(e.ctx, ten.ID)
	same(t, keys[1].RetiredAt, now, "RetiredAt")
	same(t, keys[1].NotAfter, now.Add(24*time.Hour), "NotAfter")
	wantErr(t, e.s.RetireSigningKey(e.ctx, other.ID, "kid-2", now, now), store.ErrNotFound, "RetireSigningKey through another tenant")
}

func testInvitations(t *testing.T, e *env) {
	ten, other := e.tenant("t"), e.tenant("other")
	u := e.user(ten.ID, "ann")
	now := store.Timestamp(time.Now())
	inv := &store.Invitation{TenantID: ten.ID, UserID: u.ID, Kind: store.InviteActivate, TokenHash: "h1", ExpiresAt: now.Add(time.Hour)}
	e.must(e.s.CreateInvitation(e.ctx, inv), "CreateInvitation")
	if inv.ID == "" || inv.Version != 1 || inv.CreatedAt.IsZero() {
		t.Errorf("CreateInvitation filled %+v", inv)
	}
	got, err := e.s.InvitationByHash(e.ctx, "h1")
	e.must(err, "InvitationByHash")
	same(t, got, inv, "InvitationByHash")
	_, err = e.s.InvitationByHash(e.ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "InvitationByHash(unknown)")
	wantConflict(t, e.s.CreateInvitation(e.ctx, &store.Invitation{TenantID: ten.ID, UserID: u.ID, Kind: store.InviteReset, TokenHash: "h1"}),
		"tokenHash", "CreateInvitation(same hash)")
	wantInvalid(t, e.s.CreateInvitation(e.ctx, &store.Invitation{TenantID: ten.ID, UserID: "ghost", Kind: store.InviteReset, TokenHash: "h9"}),
		"userId", "CreateInvitation(unknown user)")

	wantErr(t, e.s.UseInvitation(e.ctx, other.ID, inv.ID, now), store.ErrNotFound, "UseInvitation through another tenant")
	e.must(e.s.UseInvitation(e.ctx, ten.ID, inv.ID, now), "UseInvitation")
	wantErr(t, e.s.UseInvitation(e.ctx, ten.ID, inv.ID, now), store.ErrExpired, "UseInvitation twice")
	got, _ = e.s.InvitationByHash(e.ctx, "h1")
	same(t, got.UsedAt, now, "UsedAt")

	late := &store.Invitation{TenantID: ten.ID, UserID: u.ID, Kind: store.InviteReset, TokenHash: "h2", ExpiresAt: now.Add(time.Minute)}
	e.must(e.s.CreateInvitation(e.ctx, late), "CreateInvitation")
	wantErr(t, e.s.UseInvitation(e.ctx, ten.ID, late.ID, now.Add(2*time.Minute)), store.ErrExpired, "UseInvitation after ExpiresAt")

	// A resend revokes the unused ones.
	r := &store.Invitation{TenantID: ten.ID, UserID: u.ID, Kind: store.InviteReset, TokenHash: "h3", ExpiresAt: now.Add(time.Hour)}
	e.must(e.s.CreateInvitation(e.ctx, r), "CreateInvitation")
	e.must(e.s.RevokeInvitations(e.ctx, other.ID, u.ID, now), "RevokeInvitations(other tenant)")
	e.must(e.s.RevokeInvitations(e.ctx, ten.ID, u.ID, now), "RevokeInvitations")
	wantErr(t, e.s.UseInvitation(e.ctx, ten.ID, r.ID, now.Add(time.Second)), store.ErrExpired, "UseInvitation after a revoke")
	list, err := e.s.ListInvitations(e.ctx, ten.ID, u.ID)
	e.must(err, "ListInvitations")
	same(t, len(list), 3, "invitations of the user")
	list, err = e.s.ListInvitations(e.ctx, other.ID, u.ID)
	e.must(err, "ListInvitations(other tenant)")
	same(t, len(list), 0, "invitations through another tenant")
}

func testImports(t *testing.T, e *env) {
	ten, other := e.tenant("t"), e.tenant("other")
	j := &store.ImportJob{TenantID: ten.ID, FileName: "users.xlsx", Format: "xlsx", Mode: store.ImportValidRows, Total: 3, CreatedBy: "admin:alice"}
	e.must(e.s.CreateImportJob(e.ctx, j), "CreateImportJob")
	if j.ID == "" || j.Version != 1 || j.State != store.JobQueued {
		t.Errorf("CreateImportJob filled %+v", j)
	}
	got, err := e.s.GetImportJob(e.ctx, ten.ID, j.ID)
	e.must(err, "GetImportJob")
	same(t, got, j, "GetImportJob")
	_, err = e.s.GetImportJob(e.ctx, other.ID, j.ID)
	wantErr(t, err, store.ErrNotFound, "GetImportJob through another tenant")

	stale := *j
	j.State, j.Done, j.Failed = store.JobDone, 2, 1
	j.FinishedAt = store.Timestamp(time.Now())
	e.must(e.s.UpdateImportJob(e.ctx, j), "UpdateImportJob")
	got, _ = e.s.GetImportJob(e.ctx, ten.ID, j.ID)
	same(t, got, j, "GetImportJob after UpdateImportJob")
	wantErr(t, e.s.UpdateImportJob(e.ctx, &stale), store.ErrPrecondition, "UpdateImportJob(stale)")
	time.Sleep(2 * time.Millisecond) // newest first is by creation time
	j2 := &store.ImportJob{TenantID: ten.ID, FileName: "b.csv", Format: "csv", Mode: store.ImportAllOrNothing}
	e.must(e.s.CreateImportJob(e.ctx, j2), "CreateImportJob")
	jobs, err := e.s.ListImportJobs(e.ctx, ten.ID)
	e.must(err, "ListImportJobs")
	if len(jobs) != 2 || jobs[0].ID != j2.ID {
		t.Errorf("ListImportJobs: want 2 jobs, newest first")
	}

	var rows []*store.ImportRow
	for n := 1; n <= 5; n++ {
		rows = append(rows, &store.ImportRow{TenantID: ten.ID, JobID: j.ID, N: n, Cells: map[string]string{"Email": fmt.Sprintf("u%d@x.example", n)}})
	}
	rows[1].Errors = []string{"Email: not an e-mail address"}
	e.must(e.s.PutImportRows(e.ctx, rows), "PutImportRows")
	err = e.s.PutImportRows(e.ctx, []*store.ImportRow{{TenantID: other.ID, JobID: j.ID, N: 1}})
	if err == nil {
		t.Errorf("PutImportRows into another tenant's job succeeded")
	}
	page, err := e.s.ImportRows(e.ctx, ten.ID, j.ID, 0, 2)
	e.must(err, "ImportRows")
	if len(page) != 2 || page[0].N != 1 || page[1].N != 2 {
		t.Fatalf("ImportRows(after 0, limit 2) = %d rows", len(page))
	}
	same(t, page[1].Errors, rows[1].Errors, "row errors")
	same(t, page[0].Cells, rows[0].Cells, "row cells")
	page, err = e.s.ImportRows(e.ctx, ten.ID, j.ID, 2, 10)
	e.must(err, "ImportRows")
	if len(page) != 3 || page[0].N != 3 {
		t.Errorf("ImportRows(after 2) = %d rows, want rows 3..5", len(page))
	}
	rows[2].UserID, rows[2].Done = "user-3", true
	e.must(e.s.UpdateImportRow(e.ctx, rows[2]), "UpdateImportRow")
	page, _ = e.s.ImportRows(e.ctx, ten.ID, j.ID, 2, 1)
	if len(page) != 1 || page[0].UserID != "user-3" || !page[0].Done {
		t.Errorf("row after UpdateImportRow = %+v", page)
	}
	wantErr(t, e.s.UpdateImportRow(e.ctx, &store.ImportRow{TenantID: ten.ID, JobID: j.ID, N: 99}), store.ErrNotFound, "UpdateImportRow(missing)")
	page, err = e.s.ImportRows(e.ctx, other.ID, j.ID, 0, 10)
	e.must(err, "ImportRows(other tenant)")
	same(t, len(page), 0, "rows through another tenant")
}

func testAudit(t *testing.T, e *env) {
	ten, other := e.tenant("t"), e.tenant("other")
	base := store.Timestamp(time.Now().Add(-time.Hour))
	var evs []*store.AuditEvent
	for i := range 7 {
		ev := &store.AuditEvent{TenantID: ten.ID, At: base.Add(time.Duration(i) * time.Minute), Actor: "system",
			Action: "user.create", TargetType: "user", TargetID: fmt.Sprintf("u%d", i), After: `{"n":1}`}
		if i%2 == 1 {
			ev.Actor, ev.Action = "admin:alice", "seat.assign"
		}
		e.must(e.s.AppendAudit(e.ctx, ev), "AppendAudit")
		evs = append(evs, ev)
	}
	e.must(e.s.AppendAudit(e.ctx, &store.AuditEvent{TenantID: other.ID, Actor: "system", Action: "user.create"}), "AppendAudit(other)")

	all, err := e.s.ListAudit(e.ctx, ten.ID, store.AuditQuery{})
	e.must(err, "ListAudit")
	if len(all) != 7 {
		t.Fatalf("ListAudit: %d events, want 7", len(all))
	}
	same(t, all[0], evs[6], "newest event first")
	same(t, all[6], evs[0], "oldest event last")

	// Paging with Before yields every event once.
	var seen []string
	q := store.AuditQuery{Limit: 3}
	for {
		p, err := e.s.ListAudit(e.ctx, ten.ID, q)
		e.must(err, "ListAudit(page)")
		for _, ev := range p {
			seen = append(seen, ev.TargetID)
		}
		if len(p) < q.Limit {
			break
		}
		q.Before = p[len(p)-1].ID
	}
	same(t, seen, []string{"u6", "u5", "u4", "u3", "u2", "u1", "u0"}, "audit pages")

	tests := []struct {
		name string
		q    store.AuditQuery
		want []string
	}{
		{"actor", store.AuditQuery{Actor: "admin:alice"}, []string{"u5", "u3", "u1"}},
		{"action", store.AuditQuery{Action: "user.create"}, []string{"u6", "u4", "u2", "u0"}},
		{"target", store.AuditQuery{TargetID: "u4"}, []string{"u4"}},
		{"since until", store.AuditQuery{Since: base.Add(2 * time.Minute), Until: base.Add(4 * time.Minute)}, []string{"u3", "u2"}},
		{"limit", store.AuditQuery{Limit: 2}, []string{"u6", "u5"}},
	}
	for _, tt := range tests {
		got, err := e.s.ListAudit(e.ctx, ten.ID, tt.q)
		e.must(err, "ListAudit(%s)", tt.name)
		var ids []string
		for _, ev := range got {
			ids = append(ids, ev.TargetID)
		}
		same(t, ids, tt.want, "ListAudit("+tt.name+")")
	}
}

func testOutbox(t *testing.T, e *env) {
	ten, other := e.tenant("t"), e.tenant("other")
	now := store.Timestamp(time.Now())
	var ids []string
	for i := range 4 {
		m := &store.OutboxMessage{TenantID: ten.ID, Channel: "email", To: fmt.Sprintf("u%d@x.example", i), Subject: "Welcome", Text: "hi", HTML: "<p>hi</p>",
			NextAttemptAt: now.Add(time.Duration(i) * time.Millisecond)}
		e.must(e.s.Enqueue(e.ctx, m), "Enqueue")
		if m.ID == "" || m.State != store.OutboxQueued {
			t.Errorf("Enqueue filled %+v", m)
		}
		ids = append(ids, m.ID)
	}
	later := &store.OutboxMessage{TenantID: other.ID, Channel: "email", To: "later@x.example", NextAttemptAt: now.Add(time.Hour)}
	e.must(e.s.Enqueue(e.ctx, later), "Enqueue(later)")

	at := now.Add(time.Second)
	a, err := e.s.ClaimOutbox(e.ctx, "node-a", at, time.Minute, 3)
	e.must(err, "ClaimOutbox(a)")
	if len(a) != 3 || a[0].ID != ids[0] || a[0].ClaimedBy != "node-a" {
		t.Fatalf("node-a claimed %d messages, want the 3 oldest due", len(a))
	}
	b, err := e.s.ClaimOutbox(e.ctx, "node-b", at, time.Minute, 3)
	e.must(err, "ClaimOutbox(b)")
	if len(b) != 1 || b[0].ID != ids[3] {
		t.Fatalf("node-b claimed %d messages, want the one left", len(b))
	}
	c, err := e.s.ClaimOutbox(e.ctx, "node-c", at, time.Minute, 3)
	e.must(err, "ClaimOutbox(c)")
	same(t, len(c), 0, "messages left to claim")

	wantErr(t, e.s.MarkSent(e.ctx, ids[0], "node-b", at), store.ErrPrecondition, "MarkSent by a node that did not claim it")
	e.must(e.s.MarkSent(e.ctx, ids[0], "node-a", at), "MarkSent")
	m, err := e.s.GetOutboxMessage(e.ctx, ids[0])
	e.must(err, "GetOutboxMessage")
	if m.State != store.OutboxSent || !m.SentAt.Equal(at) {
		t.Errorf("sent message = %+v", m)
	}
	wantErr(t, e.s.MarkSent(e.ctx, "missing", "node-a", at), store.ErrNotFound, "MarkSent(missing)")

	// A retry is due again at next, a final failure never.
	next := at.Add(time.Minute)
	e.must(e.s.MarkRetry(e.ctx, ids[1], "node-a", "smtp: 451", next, false), "MarkRetry")
	e.must(e.s.MarkRetry(e.ctx, ids[2], "node-a", "smtp: 550", next, true), "MarkRetry(final)")
	m, _ = e.s.GetOutboxMessage(e.ctx, ids[1])
	if m.State != store.OutboxQueued || m.Attempts != 1 || m.LastError != "smtp: 451" || !m.NextAttemptAt.Equal(next) {
		t.Errorf("retried message = %+v", m)
	}
	m, _ = e.s.GetOutboxMessage(e.ctx, ids[2])
	same(t, m.State, store.OutboxFailed, "state after a final failure")
	got, _ := e.s.ClaimOutbox(e.ctx, "node-c", at.Add(30*time.Second), time.Minute, 10)
	same(t, len(got), 0, "messages due before the retry time")

	// node-b died holding ids[3]: after its claim expires, another node
	// takes it, and node-b's late report is refused.
	got, err = e.s.ClaimOutbox(e.ctx, "node-c", next, time.Minute, 10)
	e.must(err, "ClaimOutbox after expiry")
	claimed := map[string]bool{}
	for _, m := range got {
		claimed[m.ID] = true
	}
	if len(got) != 2 || !claimed[ids[1]] || !claimed[ids[3]] {
		t.Errorf("claimed after expiry: %d messages, want the retry and the abandoned one", len(got))
	}
	wantErr(t, e.s.MarkSent(e.ctx, ids[3], "node-b", next), store.ErrPrecondition, "MarkSent after losing the claim")

	list, err := e.s.ListOutbox(e.ctx, ten.ID, 10)
	e.must(err, "ListOutbox")
	same(t, len(list), 4, "tenant's messages")
	list, err = e.s.ListOutbox(e.ctx, other.ID, 10)
	e.must(err, "ListOutbox(other)")
	same(t, len(list), 1, "other tenant's messages")
}

// testOutboxConcurrency: claimers on three handles share the queue and
// every message is claimed exactly once.
func testOutboxConcurrency(t *testing.T, e *env) {
	const n = 30
	ten := e.tenant("t")
	now := store.Timestamp(time.Now())
	for i := range n {
		e.must(e.s.Enqueue(e.ctx, &store.OutboxMessage{TenantID: ten.ID, Channel: "email", To: fmt.Sprintf("u%d@x", i), NextAttemptAt: now}), "Enqueue")
	}
	handles := []store.Store{e.s, e.open(t), e.open(t)}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = map[string]int{}
		errs   []error
		start  = make(chan struct{})
	)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			h := handles[i%len(handles)]
			for {
				got, err := h.ClaimOutbox(e.ctx, fmt.Sprintf("node-%d", i), now, time.Minute, 4)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, m := range got {
					counts[m.ID]++
				}
				mu.Unlock()
				if err != nil || len(got) == 0 {
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("ClaimOutbox failed: %v", errs[0])
	}
	if len(counts) != n {
		t.Errorf("%d distinct messages claimed, want %d", len(counts), n)
	}
	for id, c := range counts {
		if c != 1 {
			t.Errorf("message %s claimed %d times", id, c)
		}
	}
}

func testWorkLeases(t *testing.T, e *env) {
	now := time.Now()
	ttl := 30 * time.Second
	steps := []struct {
		holder string
		at     time.Duration
		want   bool
	}{
		{"a", 0, true},                 // free: taken
		{"b", time.Second, false},      // held by a
		{"a", 10 * time.Second, true},  // a renews until 40s
		{"b", 35 * time.Second, false}, // still a's
		{"b", 41 * time.Second, true},  // expired: taken over
		{"a", 42 * time.Second, false}, // a lost it
	}
	for _, s := range steps {
		got, err := e.s.AcquireLease(e.ctx, "reconcile:t1", s.holder, now.Add(s.at), ttl)
		e.must(err, "AcquireLease")
		if got != s.want {
			t.Errorf("AcquireLease(%s at +%v) = %v, want %v", s.holder, s.at, got, s.want)
		}
	}
	// Leases are independent by name.
	ok, err := e.s.AcquireLease(e.ctx, "import:j1", "a", now.Add(42*time.Second), ttl)
	e.must(err, "AcquireLease(other name)")
	same(t, ok, true, "another lease name is free")

	e.must(e.s.ReleaseLease(e.ctx, "reconcile:t1", "a"), "ReleaseLease by a non-holder")
	ok, _ = e.s.AcquireLease(e.ctx, "reconcile:t1", "c", now.Add(43*time.Second), ttl)
	same(t, ok, false, "lease after a non-holder released it")
	e.must(e.s.ReleaseLease(e.ctx, "reconcile:t1", "b"), "ReleaseLease")
	ok, _ = e.s.AcquireLease(e.ctx, "reconcile:t1", "c", now.Add(43*time.Second), ttl)
	same(t, ok, true, "lease after its holder released it")
}

// testWorkLeaseConcurrency: of many nodes asking at once, one wins.
func testWorkLeaseConcurrency(t *testing.T, e *env) {
	handles := []store.Store{e.s, e.open(t), e.open(t)}
	now := time.Now()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		won   []string
		errs  []error
		start = make(chan struct{})
	)
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			holder := fmt.Sprintf("node-%d", i)
			ok, err := handles[i%len(handles)].AcquireLease(e.ctx, "reconcile", holder, now, time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				won = append(won, holder)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("AcquireLease failed: %v", errs[0])
	}
	if len(won) != 1 {
		t.Fatalf("%d holders acquired the lease (%v), want exactly 1", len(won), won)
	}
	// Every handle sees the winner's lease.
	for _, h := range handles {
		ok, err := h.AcquireLease(e.ctx, "reconcile", "latecomer", now.Add(time.Second), time.Minute)
		e.must(err, "AcquireLease")
		same(t, ok, false, "a latecomer while the lease is held")
	}
}

// testHandles: what one node writes, another reads and compare-and-set
// works across them.
func testHandles(t *testing.T, e *env) {
	h2 := e.open(t)
	ten := e.tenant("t")
	u := e.user(ten.ID, "ann")
	got, err := h2.GetUser(e.ctx, ten.ID, u.ID)
	e.must(err, "GetUser through a second handle")
	same(t, got, u, "user read through a second handle")
	got.Title = "from node 2"
	e.must(h2.UpdateUser(e.ctx, got), "UpdateUser through a second handle")
	u.Title = "from node 1"
	wantErr(t, e.s.UpdateUser(e.ctx, u), store.ErrPrecondition, "stale UpdateUser on the first handle")
	back, err := e.s.GetUser(e.ctx, ten.ID, u.ID)
	e.must(err, "GetUser")
	same(t, back, got, "user after updates through two handles")
	wantConflict(t, h2.CreateUser(e.ctx, &store.User{TenantID: ten.ID, UserName: "ANN"}), "userName", "CreateUser of a taken name on another handle")
}

func testAuditBatch(t *testing.T, e *env) {
	ten := e.tenant("t")
	at := store.Timestamp(time.Now())
	batch := []*store.AuditEvent{
		{TenantID: ten.ID, At: at, Actor: "import:j1", Action: "user.create", TargetType: "user", TargetID: "u1"},
		{TenantID: ten.ID, At: at, Actor: "import:j1", Action: "user.create", TargetType: "user", TargetID: "u2"},
		{TenantID: ten.ID, At: at, Actor: "import:j1", Action: "user.create", TargetType: "user", TargetID: "u3"},
	}
	e.must(e.s.AppendAudits(e.ctx, batch), "AppendAudits")
	for _, ev := range batch {
		if ev.ID == "" {
			t.Fatalf("AppendAudits left an event without an id")
		}
	}
	// A retry of the same batch (same ids) writes nothing twice.
	e.must(e.s.AppendAudits(e.ctx, batch), "AppendAudits (retry)")
	got, err := e.s.ListAudit(e.ctx, ten.ID, store.AuditQuery{Actor: "import:j1"})
	e.must(err, "ListAudit")
	same(t, len(got), 3, "events after a batch and its retry")
	bad := []*store.AuditEvent{{TenantID: ten.ID, Action: "x"}, {Action: "no tenant"}}
	wantInvalid(t, e.s.AppendAudits(e.ctx, bad), "tenantId", "AppendAudits with an event without tenant")
	got, _ = e.s.ListAudit(e.ctx, ten.ID, store.AuditQuery{Action: "x"})
	same(t, len(got), 0, "events written from a refused batch")
	e.must(e.s.AppendAudits(e.ctx, nil), "AppendAudits(nil)")
}
