package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

// A file with one bad row, in all-or-nothing mode (the seeds' behaviour),
// changes nothing: no user, membership, seat or invitation, and running
// the job does nothing either.
func TestAllOrNothingLeavesStoreUntouched(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	bad := person(3)
	bad[3] = "not-an-address"
	rows := [][]string{header, person(1), person(2), bad, person(4)}
	rows[1][10], rows[2][11] = "Sales", "pro"
	rows[1][4], rows[4][4] = "first password", "fourth password"
	for _, format := range []string{FormatCSV, FormatXLSX} {
		data := csvBytes(rows...)
		if format == FormatXLSX {
			data = xlsxBytes(t, rows...)
		}
		j := e.submit(data, "users."+format, store.ImportAllOrNothing)
		if j.State != store.JobDone || j.Total != 4 || j.Failed != 1 || j.Done != 0 || !strings.Contains(j.Error, "1 row of 4 have errors, so nothing was imported") {
			t.Fatalf("%s: job = %+v", format, j)
		}
		if j.Format != format {
			t.Errorf("format = %s, want %s", j.Format, format)
		}
		j = e.run(j)
		if j.State != store.JobDone || j.Done != 0 {
			t.Errorf("%s: job after Run = %+v", format, j)
		}
		if got := e.snapshot(); got != before {
			t.Errorf("%s: the store changed:\n%s", format, got)
		}
		r := e.rows(j)
		if len(r) != 4 || !reflect.DeepEqual(r[2].Errors, []string{"E-mail: not a valid address"}) || len(r[0].Errors) != 0 {
			t.Errorf("%s: row errors: %q %q", format, r[0].Errors, r[2].Errors)
		}
		// The refused file keeps no password hash, before or after the
		// bad row, only the mark that a row had one.
		for _, row := range r {
			if h, had := row.Cells[keyPasswordHash]; h != "" || (row.N == 1 || row.N == 4) != had {
				t.Errorf("%s: row %d keeps password hash %q (had: %v)", format, row.N, h, had)
			}
		}
	}
}

// In valid-rows mode the good rows are imported with everything they ask
// for, and the bad ones are reported.
func TestValidRowsImportsGoodOnes(t *testing.T) {
	e := newEnv(t)
	rows := [][]string{header, person(1), person(2), person(3), person(4)}
	rows[1][10] = "sales"         // rule: a "pro" seat by group, matched case-insensitively
	rows[2][11] = "PRO; lite"     // direct seats
	rows[2][12] = "yes"           // account admin
	rows[3][4] = "correct horse"  // password: no invitation
	rows[4][5] = "+44 phone home" // bad
	j := e.submit(csvBytes(rows...), "users.csv", store.ImportValidRows)
	if j.State != store.JobQueued || j.Failed != 1 {
		t.Fatalf("job = %+v", j)
	}
	j = e.run(j)
	if j.State != store.JobDone || j.Done != 3 || j.Failed != 1 || j.FinishedAt.IsZero() || !strings.Contains(j.Error, "1 row of 4 could not be imported") {
		t.Fatalf("job = %+v", j)
	}
	if n := len(e.users()); n != 3 {
		t.Fatalf("%d users, want 3", n)
	}
	u1, u2, u3 := e.user("user1@acme.test"), e.user("USER2@acme.test"), e.user("user3@acme.test")
	if u2.AccountAdmin != true || u1.AccountAdmin || u1.Activation != store.ActivationPending || u3.Activation != store.ActivationActive ||
		u3.PasswordHash == "" || !strings.HasPrefix(u3.PasswordHash, "$fake$") || u1.PhoneNumbers[0].Value != "+447700900001" ||
		u1.Emails[0].Value != "user1@acme.test" || u1.DisplayName != "First1 Last1" || u1.CustomerCode != "C-1" {
		t.Errorf("users:\n%+v\n%+v\n%+v", u1, u2, u3)
	}
	if ent, _ := u1.Extra[uriEnterprise].(map[string]any); ent["organization"] != "Acme" {
		t.Errorf("company = %v", u1.Extra)
	}
	snap := e.snapshot()
	for _, want := range []string{
		"member Sales user1@acme.test",
		"seat pro user1@acme.test active [group:Sales]",
		"seat pro user2@acme.test active [direct]",
		"seat lite user2@acme.test active [direct]",
		"pool pro total=3 assigned=2 overage=0",
	} {
		if !strings.Contains(snap, want) {
			t.Errorf("store lacks %q:\n%s", want, snap)
		}
	}
	if e.invited.count["user1@acme.test"] != 1 || e.invited.count["user2@acme.test"] != 1 || e.invited.count["user3@acme.test"] != 0 {
		t.Errorf("invitations: %v", e.invited.count)
	}
	// The imported rows keep no password, not even its hash.
	for _, r := range e.rows(j) {
		if r.Cells[ColPassword] != "" || r.Cells[keyPasswordHash] != "" {
			t.Errorf("row %d keeps a password: %q", r.N, r.Cells)
		}
		if r.Done != (len(r.Errors) == 0) || (r.Done && r.UserID == "") {
			t.Errorf("row %d: done=%v user=%q errors=%q", r.N, r.Done, r.UserID, r.Errors)
		}
	}
	// Each created user has an audit event naming the job.
	evs, err := e.st.ListAudit(t.Context(), e.tenant.ID, store.AuditQuery{Actor: "import:" + j.ID, Action: "user.create", Limit: 100})
	must(t, err)
	if len(evs) != 3 {
		t.Errorf("%d user.create events by the job, want 3", len(evs))
	}
	for _, ev := range evs {
		if strings.Contains(ev.After, "correct horse") || strings.Contains(ev.After, "$fake$") {
			t.Errorf("audit event leaks the password: %s", ev.After)
		}
	}
}

// Importing the same users again updates them (rows are keyed by login,
// case-insensitively) instead of creating duplicates; an identical file
// changes nothing at all.
func TestReimportUpdatesInsteadOfDuplicating(t *testing.T) {
	e := newEnv(t)
	rows := [][]string{header, person(1), person(2)}
	rows[1][10] = "Support"
	e.run(e.submit(csvBytes(rows...), "a.csv", ""))
	first := e.snapshot()

	// The same file: nothing is written.
	j := e.run(e.submit(csvBytes(rows...), "a.csv", ""))
	if j.Done != 2 || e.snapshot() != first {
		t.Fatalf("re-import of the same file changed the store:\n%s\nwas\n%s", e.snapshot(), first)
	}
	if evs, _ := e.st.ListAudit(t.Context(), e.tenant.ID, store.AuditQuery{Actor: "import:" + j.ID, Action: "user.update"}); len(evs) != 0 {
		t.Errorf("identical re-import wrote %d update events", len(evs))
	}

	// Changed values, other capitalisation of the login, fewer columns
	// and an empty cell (which keeps the value).
	h := []string{"Login", "First Name", "Last Name", "Email Address", "Mobile Phone number", "Unique Customer Code", "Groups", "Account Admin"}
	j = e.submit(csvBytes(h,
		[]string{"USER1@ACME.TEST", "Firstone", "Last1", "first.one@acme.test", "+1 202 555 0100", "", "Sales", "yes"},
		[]string{"user2@acme.test", "First2", "Last2", "user2@acme.test", "", "", "", ""},
	), "b.csv", "")
	j = e.run(j)
	if j.Done != 2 || j.Failed != 0 {
		t.Fatalf("job = %+v", j)
	}
	users := e.users()
	if len(users) != 2 {
		t.Fatalf("%d users after re-import, want 2", len(users))
	}
	u := e.user("user1@acme.test")
	if u.UserName != "user1@acme.test" || u.Name.GivenName != "Firstone" || u.DisplayName != "Firstone Last1" ||
		u.PrimaryEmail() != "first.one@acme.test" || len(u.Emails) != 2 || u.CustomerCode != "C-1" || !u.AccountAdmin ||
		phone(u, "mobile") != "+12025550100" {
		t.Errorf("updated user = %+v", u)
	}
	snap := e.snapshot()
	for _, want := range []string{"member Support user1@acme.test", "member Sales user1@acme.test", "seat pro user1@acme.test active [group:Sales]"} {
		if !strings.Contains(snap, want) {
			t.Errorf("store lacks %q:\n%s", want, snap)
		}
	}
	evs, err := e.st.ListAudit(t.Context(), e.tenant.ID, store.AuditQuery{Actor: "import:" + j.ID, Action: "user.update"})
	must(t, err)
	if len(evs) != 1 || evs[0].TargetID != u.ID {
		t.Fatalf("update events = %+v", evs)
	}
	var after map[string]any
	must(t, json.Unmarshal([]byte(evs[0].After), &after))
	if after["firstName"] != "Firstone" || after["email"] != "first.one@acme.test" || after["accountAdmin"] != true {
		t.Errorf("update event after = %v", after)
	}
	if e.invited.count["user1@acme.test"] != 1 {
		t.Errorf("re-import re-invited: %v", e.invited.count)
	}
}

// Seats are counted for the whole file before anything is written: a
// product named in more rows than it has free seats fails the rows beyond
// them; a user who already holds the seat needs none; allow-over pools
// never run out; seats a group rule asks for beyond the free ones wait,
// which is a warning, not an error.
func TestSeatAvailabilityAcrossFile(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	// One of pro's 3 seats is taken by a user the file also lists.
	holder := &store.User{TenantID: e.tenant.ID, UserName: "user1@acme.test", Active: true}
	must(t, e.st.CreateUser(ctx, holder))
	must(t, e.engine.Assign(ctx, e.tenant.ID, e.pools["pro"].ID, holder.ID, "admin:t"))

	rows := [][]string{header}
	for i := 1; i <= 5; i++ {
		r := person(i)
		r[11] = "pro; lite"
		rows = append(rows, r)
	}
	j := e.submit(csvBytes(rows...), "seats.csv", store.ImportAllOrNothing)
	got := e.rows(j)
	var failed []int
	for _, r := range got {
		if len(r.Errors) > 0 {
			failed = append(failed, r.N)
			if !strings.Contains(r.Errors[0], `Products: no free "pro" seat left for this row (the account has 2 unassigned`) {
				t.Errorf("row %d: %q", r.N, r.Errors)
			}
		}
	}
	// user1 holds a seat; users 2 and 3 take the 2 free ones.
	if !reflect.DeepEqual(failed, []int{4, 5}) || j.State != store.JobDone || j.Failed != 2 {
		t.Fatalf("failed rows %v, job %+v", failed, j)
	}
	if n := len(e.users()); n != 1 {
		t.Fatalf("all-or-nothing wrote users: %d", n)
	}

	j = e.run(e.submit(csvBytes(rows...), "seats.csv", store.ImportValidRows))
	if j.Done != 3 || j.Failed != 2 {
		t.Fatalf("job = %+v", j)
	}
	snap := e.snapshot()
	if !strings.Contains(snap, "pool pro total=3 assigned=3 overage=0") || !strings.Contains(snap, "pool lite total=1 assigned=1 overage=2") {
		t.Errorf("pools:\n%s", snap)
	}

	// Group demand beyond the (now zero) free seats waits: a warning.
	rows = [][]string{header}
	for i := 10; i < 12; i++ {
		r := person(i)
		r[10] = "Sales"
		rows = append(rows, r)
	}
	j = e.submit(csvBytes(rows...), "group.csv", "")
	if j.State != store.JobQueued {
		t.Fatalf("job = %+v", j)
	}
	warn, err := e.runner.Warnings(ctx, e.tenant.ID, j.ID)
	must(t, err)
	if len(warn) != 1 || !strings.HasPrefix(warn[0], `2 users join groups that give a "pro" seat, but no seat will be free for them`) {
		t.Errorf("warnings = %q", warn)
	}
	e.run(j)
	if snap := e.snapshot(); !strings.Contains(snap, "seat pro user10@acme.test waiting [group:Sales]") {
		t.Errorf("group seat does not wait:\n%s", snap)
	}
}

// Groups and products the tenant does not have, expired pools, inactive
// users and repeated logins are row errors naming the value.
func TestRowErrorsAgainstTenant(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	off := &store.User{TenantID: e.tenant.ID, UserName: "off@acme.test", Active: false}
	must(t, e.st.CreateUser(ctx, off))
	rows := [][]string{header,
		withCells(person(1), 10, "Sales; Nobody; Ghosts"),
		withCells(person(2), 11, "pro; unknown-sku"),
		withCells(person(3), 11, "nopool"),
		withCells(person(4), 11, "old"),
		withCells(person(5), 2, "USER1@acme.test"),
		withCells(withCells(person(6), 2, "off@acme.test"), 11, "lite"),
		withCells(person(7), 10, "Sales, Support"),
	}
	j := e.submit(csvBytes(rows...), "bad.csv", store.ImportValidRows)
	want := map[int][]string{
		1: {`Groups: no group named "Nobody" and "Ghosts" in this account; create it first or correct the name`, "Username: user1@acme.test is also on row 6; each login may appear only once"},
		2: {`Products: unknown product "unknown-sku"`},
		3: {`Products: this account has no "nopool" licenses`},
		4: {`Products: the "old" licenses ended on 2026-05-01`},
		5: {"Username: USER1@acme.test is also on row 2; each login may appear only once"},
		6: {"Products: off@acme.test is deactivated; reactivate the user before giving them a license"},
		7: {`Groups: no group named "Sales, Support" in this account; create it first or correct the name (separate groups with semicolons)`},
	}
	for _, r := range e.rows(j) {
		if !reflect.DeepEqual(r.Errors, want[r.N]) {
			t.Errorf("row %d errors\n got %q\nwant %q", r.N, r.Errors, want[r.N])
		}
	}
	if j.State != store.JobDone || j.Failed != 7 || !strings.Contains(j.Error, "no row can be imported") {
		t.Errorf("job = %+v", j)
	}
}

func withCells(r []string, i int, v string) []string {
	r = slices.Clone(r)
	r[i] = v
	return r
}

// The result file of a file full of bad rows: same format, the file's
// columns (unknown ones too), an Errors column, no passwords.
func TestResultFileGolden(t *testing.T) {
	e := newEnv(t)
	h := append(slices.Clone(header), "Employee ID")
	row := func(r []string, extra string) []string { return append(r, extra) }
	rows := [][]string{h,
		row(person(1), "E1"),
		row(withCells(withCells(person(2), 3, "bob@"), 5, "call me"), "E2"),
		row(withCells(withCells(person(3), 0, ""), 4, "short"), "E3"),
		row(withCells(withCells(person(4), 11, "nope"), 12, "perhaps"), "E4"),
		row(withCells(person(5), 4, "long enough password"), "E5"),
		row(withCells(person(6), 2, "user5@ACME.test"), "E6"),
		row(withCells(person(7), 10, "Sales; Marketing"), "E7"),
		row(withCells(person(8), 2, "jane.doe@example.com"), "E8"),
	}
	for _, format := range []string{FormatCSV, FormatXLSX} {
		t.Run(format, func(t *testing.T) {
			data := csvBytes(rows...)
			if format == FormatXLSX {
				data = xlsxBytes(t, rows...)
			}
			j := e.submit(data, "bad."+format, "")
			var out bytes.Buffer
			must(t, e.runner.WriteJobResult(t.Context(), &out, e.tenant.ID, j.ID, ""))
			got := out.Bytes()
			if format == FormatXLSX {
				got = dumpXLSX(t, got)
			}
			golden(t, "result_bad_rows."+format+".golden", got)
			if bytes.Contains(got, []byte("long enough password")) {
				t.Error("the result file contains a password")
			}
			// The same through WriteResult with rows in memory.
			var again bytes.Buffer
			must(t, WriteResult(&again, j, e.rows(j), format))
			if format == FormatCSV && !bytes.Equal(again.Bytes(), out.Bytes()) {
				t.Error("WriteResult and WriteJobResult differ")
			}
			// Sent back as it is, the result file is understood, and
			// the password placeholder is refused.
			back, lay := parseAll(t, out.Bytes(), "result."+format, Limits{})
			if len(back) != 8 || !reflect.DeepEqual(lay.unknown, []string{"Employee ID"}) {
				t.Fatalf("result file read back: %d rows, unknown %q", len(back), lay.unknown)
			}
			if _, errs := parseRow(back[4], 32767, nil); len(errs) != 1 || !strings.HasPrefix(errs[0], "Password: the result file does not repeat passwords") {
				t.Errorf("placeholder read back: %q", errs)
			}
		})
	}
	warn, err := e.runner.Warnings(t.Context(), e.tenant.ID, mustLastJob(t, e).ID)
	must(t, err)
	if len(warn) == 0 || warn[0] != `columns not imported (not part of the template): "Employee ID"` {
		t.Errorf("warnings = %q", warn)
	}
}

func mustLastJob(t *testing.T, e *env) *store.ImportJob {
	jobs, err := e.st.ListImportJobs(t.Context(), e.tenant.ID)
	must(t, err)
	return jobs[0]
}

// Run, RunPending and Submit respect each other's leases: a job another
// node runs is not touched, and a job whose node died is taken over once
// its lease expires.
func TestLeases(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	j := e.submit(csvBytes(header, person(1), person(2)), "a.csv", "")
	ok, err := e.st.AcquireLease(ctx, leaseName(j.ID), "node-b", e.clock.Now(), time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := e.runner.Run(ctx, e.tenant.ID, j.ID); !errors.Is(err, ErrBusy) {
		t.Fatalf("Run while node-b holds the lease: %v", err)
	}
	if n, err := e.runner.RunPending(ctx); n != 0 || err != nil {
		t.Fatalf("RunPending = %d, %v", n, err)
	}
	e.clock.Add(2 * time.Minute) // node-b died
	if n, err := e.runner.RunPending(ctx); n != 1 || err != nil {
		t.Fatalf("RunPending after expiry = %d, %v", n, err)
	}
	if got, _ := e.st.GetImportJob(ctx, e.tenant.ID, j.ID); got.State != store.JobDone || got.Done != 2 {
		t.Errorf("job = %+v", got)
	}
	// Two calls on one node exclude each other too (RunPending while
	// Submit is still checking).
	j = e.submit(csvBytes(header, person(3)), "b.csv", "")
	ls, err := e.runner.acquire(ctx, j.ID)
	must(t, err)
	if _, err := e.runner.Run(ctx, e.tenant.ID, j.ID); !errors.Is(err, ErrBusy) {
		t.Fatalf("Run while the same node holds the lease: %v", err)
	}
	ls.release(ctx)
	if got, err := e.runner.Run(ctx, e.tenant.ID, j.ID); err != nil || got.State != store.JobDone {
		t.Fatalf("Run after release: %+v, %v", got, err)
	}
	// A job left by a Submit that died while checking (running, Total 0)
	// is failed with a message, not applied.
	dead := &store.ImportJob{TenantID: e.tenant.ID, FileName: "x.csv", Format: FormatCSV, Mode: store.ImportAllOrNothing, State: store.JobRunning}
	must(t, e.st.CreateImportJob(ctx, dead))
	got, err := e.runner.Run(ctx, e.tenant.ID, dead.ID)
	if err != nil || got.State != store.JobFailed || !strings.Contains(got.Error, "upload the file again") {
		t.Errorf("interrupted submit: %+v, %v", got, err)
	}
}

func TestMeter(t *testing.T) {
	var m Meter
	t0 := time.Unix(0, 0)
	j := &store.ImportJob{Total: 1000}
	if line := m.Line(j, t0); line != "0 / 1,000 rows (0%)" {
		t.Errorf("line = %q", line)
	}
	j.Done, j.Failed = 480, 20
	if line := m.Line(j, t0.Add(10*time.Second)); line != "500 / 1,000 rows (50%), 20 failed, 50 rows/s, about 10s left" {
		t.Errorf("line = %q", line)
	}
}

// The same checks hold when the tenant is too big to list its logins up
// front and each row's login is looked up on its own.
func TestPerRowLookup(t *testing.T) {
	defer func(n int) { preloadMax = n }(preloadMax)
	preloadMax = 0
	t.Run("reimport", TestReimportUpdatesInsteadOfDuplicating)
	t.Run("seats", TestSeatAvailabilityAcrossFile)
	t.Run("row errors", TestRowErrorsAgainstTenant)
	t.Run("crash", TestCrashResumeSameFinalState)
}

// batchingStore offers AuditBatcher (here by appending one by one).
type batchingStore struct {
	store.Store
	calls []int
}

func (b *batchingStore) AppendAudits(ctx context.Context, events []*store.AuditEvent) error {
	b.calls = append(b.calls, len(events))
	for _, e := range events {
		if err := b.Store.AppendAudit(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// A store that can append audit events in batches gets the user events of
// a batch of rows in one call.
func TestAuditBatcherUsed(t *testing.T) {
	st := openStore(t)
	bs := &batchingStore{Store: st}
	e := seedEnv(t, st, bs)
	rows := [][]string{header}
	for i := 1; i <= 10; i++ {
		rows = append(rows, person(i))
	}
	j := e.run(e.submit(csvBytes(rows...), "a.csv", ""))
	if j.Done != 10 {
		t.Fatalf("job = %+v", j)
	}
	// Batches of 7 rows, then the job's own events one at a time.
	if len(bs.calls) < 3 || bs.calls[0] != 1 || bs.calls[1] != 7 || bs.calls[2] != 3 {
		t.Errorf("AppendAudits calls = %v, want [1 (submit) 7 3 …]", bs.calls)
	}
	evs, err := st.ListAudit(t.Context(), e.tenant.ID, store.AuditQuery{Action: "user.create", Limit: 100})
	must(t, err)
	if len(evs) != 10 {
		t.Errorf("%d user.create events", len(evs))
	}
}

// A refused file whose bad row comes after passwords were already hashed
// (a later batch, or a repeated login found at the end) keeps no hash.
func TestRefusedFileKeepsNoPasswordHash(t *testing.T) {
	e := newEnv(t)
	for _, last := range [][]string{
		withCells(person(9), 3, "broken@"),         // bad in the second batch
		withCells(person(9), 2, "user2@acme.test"), // repeats row 2's login
	} {
		rows := [][]string{header}
		for i := 1; i <= 8; i++ {
			rows = append(rows, withCells(person(i), 4, fmt.Sprintf("password %d", i)))
		}
		rows = append(rows, last)
		j := e.submit(csvBytes(rows...), "a.csv", store.ImportAllOrNothing)
		if j.State != store.JobDone || j.Failed == 0 {
			t.Fatalf("job = %+v", j)
		}
		for _, row := range e.rows(j) {
			if h, had := row.Cells[keyPasswordHash]; h != "" || (row.N <= 8) != had {
				t.Errorf("row %d keeps password hash %q (had: %v)", row.N, h, had)
			}
		}
	}
}

// Without a password hasher a row with a password is refused with a
// message, never stored in the clear.
func TestNoHasher(t *testing.T) {
	e := newEnv(t)
	e.runner.HashPassword = nil
	j := e.submit(csvBytes(header, withCells(person(1), 4, "a fine password"), person(2)), "a.csv", store.ImportValidRows)
	rows := e.rows(j)
	if len(rows[0].Errors) != 1 || !strings.HasPrefix(rows[0].Errors[0], "Password: this server does not set passwords from an import") ||
		rows[0].Cells[ColPassword] != "" || rows[0].Cells[keyPasswordHash] != "" {
		t.Errorf("row 1: %q %q", rows[0].Errors, rows[0].Cells)
	}
	if j = e.run(j); j.Done != 1 || j.Failed != 1 {
		t.Errorf("job = %+v", j)
	}
}

// TestImportAnnouncesAdminRights: a file that makes someone an account
// admin, or takes it away, sends them the access-change e-mail the
// portal and SCIM send, once, and an unchanged re-import sends nothing.
func TestImportAnnouncesAdminRights(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mails := func() map[string][]string {
		t.Helper()
		ms, err := e.st.ListOutbox(ctx, e.tenant.ID, 100)
		must(t, err)
		out := map[string][]string{}
		for _, m := range ms {
			if m.Subject == "Your administrator rights changed" {
				out[m.To] = append(out[m.To], strings.TrimSpace(m.Text))
			}
		}
		return out
	}
	rows := [][]string{header, person(1), person(2)}
	rows[1][12] = "yes"
	e.run(e.submit(csvBytes(rows...), "a.csv", ""))
	got := mails()
	if len(got["user1@acme.test"]) != 1 || !strings.Contains(got["user1@acme.test"][0], "You are now an account administrator") || len(got["user2@acme.test"]) != 0 {
		t.Fatalf("after creating an admin and a user, admin-rights mails = %v", got)
	}
	e.run(e.submit(csvBytes(rows...), "a.csv", ""))
	if n := len(mails()["user1@acme.test"]); n != 1 {
		t.Fatalf("an unchanged re-import sent admin-rights mail again (%d in all)", n)
	}
	rows[1][12], rows[2][12] = "no", "yes"
	e.run(e.submit(csvBytes(rows...), "b.csv", ""))
	got = mails()
	if len(got["user1@acme.test"]) != 2 || !strings.Contains(got["user1@acme.test"][1]+got["user1@acme.test"][0], "no longer an account administrator") ||
		len(got["user2@acme.test"]) != 1 {
		t.Fatalf("after swapping admin rights, admin-rights mails = %v", got)
	}
	if evs, _ := e.st.ListAudit(ctx, e.tenant.ID, store.AuditQuery{Action: "user.admin.grant"}); len(evs) != 2 {
		t.Errorf("%d user.admin.grant audit events, want 2", len(evs))
	}
}
