package admin

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/importer"
	"github.com/roster-scim/roster/store"
)

// withImports gives the portal an import runner. Passwords are "hashed"
// by hash, which a test may slow down or block.
func withImports(hash func(string) (string, error)) envOption {
	if hash == nil {
		hash = func(pw string) (string, error) { return "hash-of-" + pw, nil }
	}
	return func(d *Deps) {
		d.Imports = &importer.Runner{Store: d.Store, Engine: d.Engine, HashPassword: hash, Logger: d.Logger}
	}
}

// upload posts a file to the Import page as a browser's multipart form.
func (e *env) upload(c *http.Cookie, tenantID, name, content, mode string) *httptest.ResponseRecorder {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if mode != "" {
		must(e.t, mw.WriteField("mode", mode))
	}
	fw, err := mw.CreateFormFile("file", name)
	must(e.t, err)
	_, _ = io.WriteString(fw, content)
	must(e.t, mw.Close())
	req := httptest.NewRequest(http.MethodPost, "https://roster.example.com/admin/t/"+tenantID+"/import", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if c != nil {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// jobOf reads the job a redirect to its page names.
func (e *env) jobOf(t *testing.T, rec *httptest.ResponseRecorder, tenantID string) *store.ImportJob {
	t.Helper()
	wantStatus(t, rec, http.StatusSeeOther, "upload")
	loc := rec.Header().Get("Location")
	prefix := "/admin/t/" + tenantID + "/import/"
	if !strings.HasPrefix(loc, prefix) {
		t.Fatalf("upload went to %q, want a job page under %s (flash %q)", loc, prefix, flashOf(rec))
	}
	j, err := e.st.GetImportJob(e.ctx, tenantID, strings.TrimPrefix(loc, prefix))
	must(t, err)
	return j
}

// runImports runs the queued jobs as cmd's workers would.
func (e *env) runImports(t *testing.T) {
	t.Helper()
	if _, err := e.srv.imports.RunPending(e.ctx); err != nil {
		t.Fatal(err)
	}
}

const importHeader = "First Name,Last Name,Login,Email Address,Products\n"

// TestImportAllOrNothingRefusesFile: one bad row in all-or-nothing mode
// imports nobody; the job page says so and the result file, in the
// uploaded format, names the problem in its Errors column.
func TestImportAllOrNothingRefusesFile(t *testing.T) {
	e := newEnv(t, withImports(nil))
	e.srv.importWait = time.Minute // a small file's verdict comes back with the request
	// Sessions are rechecked: the signed-in person must be an admin.
	e.user(e.acme.ID, "boss@acme.test", true)
	op := e.session(store.RoleTenantAdmin, e.acme.ID, "boss@acme.test")
	file := importHeader + "Ann,Lee,ann@acme.test,ann@acme.test,\nBob,Ray,bob@acme,bob@acme.test,\nCy,Fox,cy@acme.test,cy@acme.test,\n"
	j := e.jobOf(t, e.upload(op, e.acme.ID, "staff.csv", file, store.ImportAllOrNothing), e.acme.ID)
	if j.State != store.JobDone || j.Total != 3 || j.Failed != 1 || j.Done != 0 || !strings.Contains(j.Error, "nothing was imported") {
		t.Fatalf("job: %+v", j)
	}
	for _, n := range []string{"ann@acme.test", "bob@acme", "cy@acme.test"} {
		if _, err := e.st.GetUserByUserName(e.ctx, e.acme.ID, n); err == nil {
			t.Errorf("%s was imported from a refused file", n)
		}
	}

	rec := e.get(op, "/admin/t/"+e.acme.ID+"/import/"+j.ID)
	wantStatus(t, rec, http.StatusOK, "job page")
	body := rec.Body.String()
	for _, want := range []string{"Not imported", "nothing was imported", "Download result file", `/import/` + j.ID + `/result"`} {
		if !strings.Contains(body, want) {
			t.Errorf("job page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, `http-equiv="refresh"`) {
		t.Errorf("a finished job's page still reloads itself")
	}

	rec = e.get(op, "/admin/t/"+e.acme.ID+"/import/"+j.ID+"/result")
	wantStatus(t, rec, http.StatusOK, "result file")
	if ct, cd := rec.Header().Get("Content-Type"), rec.Header().Get("Content-Disposition"); !strings.HasPrefix(ct, "text/csv") || cd != `attachment; filename=staff-result.csv` {
		t.Errorf("result file headers: Content-Type %q, Content-Disposition %q", ct, cd)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(rec.Body.String(), "\ufeff"))).ReadAll()
	must(t, err)
	if len(rows) != 4 || rows[0][len(rows[0])-1] != "Errors" {
		t.Fatalf("result file: %q", rows)
	}
	for i, r := range rows[1:] {
		bad := r[len(r)-1] != ""
		if bad != (i == 1) {
			t.Errorf("result row %d: Errors %q", i+1, r[len(r)-1])
		}
	}
	if !strings.Contains(rows[2][len(rows[2])-1], "e-mail address") {
		t.Errorf("Bob's error does not say what is wrong: %q", rows[2][len(rows[2])-1])
	}
	// The other format on request.
	rec = e.get(op, "/admin/t/"+e.acme.ID+"/import/"+j.ID+"/result?format=xlsx")
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "PK") || !strings.Contains(rec.Header().Get("Content-Disposition"), "staff-result.xlsx") {
		t.Errorf("xlsx result: %d %q", rec.Code, rec.Header().Get("Content-Disposition"))
	}

	// The Import page lists it.
	body = e.get(op, "/admin/t/"+e.acme.ID+"/import").Body.String()
	if !strings.Contains(body, "staff.csv") || !strings.Contains(body, "Not imported") {
		t.Errorf("Import page does not list the job:\n%s", body)
	}
}

// TestImportValidFile: a good file is checked, queued, run by the
// workers' RunPending, and its users exist with the seats its Products
// column asked for.
func TestImportValidFile(t *testing.T) {
	e := newEnv(t, withImports(nil))
	e.srv.importWait = time.Minute
	op := e.operator()
	file := importHeader + "Ann,Lee,ann@acme.test,ann@acme.test,counter\nCy,Fox,cy@acme.test,cy@acme.test,counter\nDee,Ng,dee@acme.test,dee@acme.test,\n"
	j := e.jobOf(t, e.upload(op, e.acme.ID, "new-hires.csv", file, store.ImportValidRows), e.acme.ID)
	if j.State != store.JobQueued || j.Total != 3 || j.Mode != store.ImportValidRows {
		t.Fatalf("job after upload: %+v", j)
	}
	body := e.get(op, "/admin/t/"+e.acme.ID+"/import/"+j.ID).Body.String()
	if !strings.Contains(body, "Waiting to start") || !strings.Contains(body, `<meta http-equiv="refresh" content="2">`) {
		t.Errorf("queued job's page: no state or no reload:\n%s", body)
	}
	e.runImports(t)
	j, err := e.st.GetImportJob(e.ctx, e.acme.ID, j.ID)
	must(t, err)
	if j.State != store.JobDone || j.Done != 3 || j.Failed != 0 || j.Error != "" {
		t.Fatalf("job after run: %+v", j)
	}
	for _, n := range []string{"ann@acme.test", "cy@acme.test"} {
		u, err := e.st.GetUserByUserName(e.ctx, e.acme.ID, n)
		if err != nil {
			t.Fatalf("%s not imported: %v", n, err)
		}
		if a, err := e.st.GetAssignment(e.ctx, e.acme.ID, e.poolA.ID, u.ID); err != nil || a.State != store.AssignActive {
			t.Errorf("%s has no seat of Counter Pro: %+v %v", n, a, err)
		}
	}
	if _, err := e.st.GetUserByUserName(e.ctx, e.acme.ID, "dee@acme.test"); err != nil {
		t.Errorf("dee not imported: %v", err)
	}
	body = e.get(op, "/admin/t/"+e.acme.ID+"/import/"+j.ID).Body.String()
	for _, want := range []string{">Done<", "Every row was imported", "Download result file", "Go to users"} {
		if !strings.Contains(body, want) {
			t.Errorf("done job's page lacks %q", want)
		}
	}
	rec := e.get(op, "/admin/t/"+e.acme.ID+"/import/"+j.ID+"/result")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), ",Errors\r\n") {
		t.Errorf("result file of a clean import: %d\n%s", rec.Code, rec.Body.String())
	}
}

// TestImportProgress: while a job runs, its page reloads itself and shows
// rows done of total, the failures, the rate and the time left.
func TestImportProgress(t *testing.T) {
	e := newEnv(t, withImports(nil))
	op := e.operator()
	j := &store.ImportJob{TenantID: e.acme.ID, FileName: "big.xlsx", Format: "xlsx", Mode: store.ImportValidRows, State: store.JobRunning, CreatedBy: "admin:x"}
	must(t, e.st.CreateImportJob(e.ctx, j))
	page := func() string {
		t.Helper()
		rec := e.get(op, "/admin/t/"+e.acme.ID+"/import/"+j.ID)
		wantStatus(t, rec, http.StatusOK, "job page")
		return rec.Body.String()
	}
	if b := page(); !strings.Contains(b, "Checking the file") || !strings.Contains(b, `http-equiv="refresh"`) || strings.Contains(b, "Download result file") {
		t.Errorf("job being checked:\n%s", b)
	}
	set := func(done, failed int) {
		j.Total, j.Done, j.Failed = 10000, done, failed
		must(t, e.st.UpdateImportJob(e.ctx, j))
	}
	set(1000, 0)
	if b := page(); !strings.Contains(b, "1,000 of 10,000") || !strings.Contains(b, "measuring") {
		t.Errorf("first look at a running job:\n%s", b)
	}
	e.clock.Add(4 * time.Second)
	set(2900, 100)
	b := page()
	for _, want := range []string{"3,000 of 10,000", "(30%)", `data-stat="failed" class="warn-text">100<`, "500 rows/s", "about 15 seconds", `http-equiv="refresh"`} {
		if !strings.Contains(b, want) {
			t.Errorf("running job's page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", b)
	}
}

// TestImportSlowCheck: a file whose check outlasts the request sends the
// browser to a page that follows the upload to its job.
func TestImportSlowCheck(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, withImports(func(pw string) (string, error) { <-release; return "h", nil }))
	e.srv.importWait = 50 * time.Millisecond
	op := e.operator()
	rec := e.upload(op, e.acme.ID, "slow.csv", "First Name,Last Name,Login,Email Address,Password\nAnn,Lee,ann@acme.test,ann@acme.test,correct-horse\n", "")
	wantStatus(t, rec, http.StatusSeeOther, "slow upload")
	loc := rec.Header().Get("Location")
	if !strings.Contains(loc, "/import?upload=") {
		close(release)
		t.Fatalf("slow upload went to %q", loc)
	}
	// The check hashes the password now, so the job exists, checking.
	var jobURL string
	for range 100 {
		rec = e.get(op, loc)
		if rec.Code == http.StatusSeeOther {
			jobURL = rec.Header().Get("Location")
			break
		}
		if !strings.Contains(rec.Body.String(), "Reading your file") || !strings.Contains(rec.Body.String(), `http-equiv="refresh"`) {
			t.Fatalf("page following the upload:\n%s", rec.Body.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if jobURL == "" {
		close(release)
		t.Fatal("the upload's job never appeared")
	}
	if b := e.get(op, jobURL).Body.String(); !strings.Contains(b, "Checking the file") {
		t.Errorf("job page while checking:\n%s", b)
	}
	close(release)
	for range 100 {
		j, err := e.st.ListImportJobs(e.ctx, e.acme.ID)
		must(t, err)
		if j[0].State == store.JobQueued && len(e.srv.importSlots) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the check never finished")
}

// TestImportFollowUpload covers the page an upload is followed on when no
// job is there yet: it reloads, then shows the refusal recorded under the
// upload's token, and gives up on an upload lost long ago.
func TestImportFollowUpload(t *testing.T) {
	e := newEnv(t, withImports(nil))
	op := e.operator()
	tok := store.NewID()
	rec := e.get(op, "/admin/t/"+e.acme.ID+"/import?upload="+tok)
	if b := rec.Body.String(); rec.Code != 200 || !strings.Contains(b, "Reading your file") || !strings.Contains(b, `http-equiv="refresh"`) {
		t.Fatalf("waiting page: %d\n%s", rec.Code, b)
	}
	after, _ := json.Marshal(refusal{FileName: "x.xls", Message: "This is an Excel 97-2003 (.xls) workbook."})
	e.srv.auditIn(e.ctx, e.acme.ID, "admin:sub-op@roster.example.com", actionImportRefused, "import", tok, "", string(after), "")
	rec = e.get(op, "/admin/t/"+e.acme.ID+"/import?upload="+tok)
	if b := rec.Body.String(); rec.Code != 422 || !strings.Contains(b, "Excel 97-2003") || strings.Contains(b, `http-equiv="refresh"`) {
		t.Fatalf("refused upload: %d\n%s", rec.Code, b)
	}
	old := "01000000" + store.NewID()[8:] // 2004
	if b := e.get(op, "/admin/t/"+e.acme.ID+"/import?upload="+old).Body.String(); !strings.Contains(b, "Upload it again") || strings.Contains(b, `http-equiv="refresh"`) {
		t.Errorf("lost upload:\n%s", b)
	}
	if rec := e.get(op, "/admin/t/"+e.acme.ID+"/import?upload=../../x"); rec.Code != http.StatusSeeOther {
		t.Errorf("malformed token: %d", rec.Code)
	}
}

// TestImportBadUploads: what cannot become a job is said on the form,
// and recorded.
func TestImportBadUploads(t *testing.T) {
	e := newEnv(t, withImports(nil), func(d *Deps) { d.Imports.Limits.MaxFileSize = 4096 })
	e.srv.importWait = time.Minute
	op := e.operator()
	for _, tc := range []struct {
		name, file, content, mode string
		status                    int
		want                      string
	}{
		{"missing columns", "people.csv", "Name,Phone\nAnn,123\n", "", 422, "Username"},
		{"legacy xls", "old.xls", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + strings.Repeat("\x00", 600), "", 422, "Excel 97-2003"},
		{"empty", "empty.csv", "", "", 422, "The file is empty."},
		{"too big", "huge.csv", importHeader + strings.Repeat("Ann,Lee,ann@acme.test,ann@acme.test,\n", 200), "", 413, "larger than 4 KB"},
		{"no file", "", "", "", 422, "Choose a file"},
		{"unknown mode", "a.csv", importHeader, "everything", 422, "Choose how to import"},
	} {
		rec := e.upload(op, e.acme.ID, tc.file, tc.content, tc.mode)
		body := rec.Body.String()
		if rec.Code != tc.status || !strings.Contains(body, tc.want) || !strings.Contains(body, `enctype="multipart/form-data"`) {
			t.Errorf("%s: %d, want %d with %q on the form\n%s", tc.name, rec.Code, tc.status, tc.want, body)
		}
	}
	if jobs, _ := e.st.ListImportJobs(e.ctx, e.acme.ID); len(jobs) != 0 {
		t.Errorf("bad uploads made %d jobs", len(jobs))
	}
	body := e.get(op, "/admin/t/"+e.acme.ID+"/import").Body.String()
	if !strings.Contains(body, "old.xls") || !strings.Contains(body, "Not read") {
		t.Errorf("refused uploads are not listed:\n%s", body)
	}
	if evs, _ := e.st.ListAudit(e.ctx, e.acme.ID, store.AuditQuery{Action: actionImportRefused}); len(evs) != 3 {
		t.Errorf("%d refusals in the audit log, want 3 (files read and refused)", len(evs))
	}
}

// TestImportTenantIsolation: a tenant admin can neither see, download nor
// add to another tenant's imports, by that tenant's URLs or by slipping
// its job id into their own.
func TestImportTenantIsolation(t *testing.T) {
	e := newEnv(t, withImports(nil))
	e.srv.importWait = time.Minute
	e.user(e.globex.ID, "boss@globex.test", true)
	e.user(e.acme.ID, "boss@acme.test", true)
	globexAdmin := e.session(store.RoleTenantAdmin, e.globex.ID, "boss@globex.test")
	j := e.jobOf(t, e.upload(globexAdmin, e.globex.ID, "globex-secret-staff.csv", importHeader+"Gus,Lo,gus@globex.test,gus@globex.test,\n", ""), e.globex.ID)
	e.runImports(t)

	acme := e.session(store.RoleTenantAdmin, e.acme.ID, "boss@acme.test")
	for _, p := range []string{"/admin/t/" + e.globex.ID + "/import", "/admin/t/" + e.globex.ID + "/import/" + j.ID,
		"/admin/t/" + e.globex.ID + "/import/" + j.ID + "/result", "/admin/t/" + e.globex.ID + "/import/template.csv"} {
		rec := e.get(acme, p)
		if rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "globex-secret") || strings.Contains(rec.Body.String(), "gus@") {
			t.Errorf("GET %s: %d, want 403 without Globex data", p, rec.Code)
		}
	}
	for _, p := range []string{"/admin/t/" + e.acme.ID + "/import/" + j.ID, "/admin/t/" + e.acme.ID + "/import/" + j.ID + "/result"} {
		rec := e.get(acme, p)
		if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "globex-secret") || strings.Contains(rec.Body.String(), "gus@") {
			t.Errorf("GET %s (Globex's job under Acme): %d, want 404 without Globex data", p, rec.Code)
		}
	}
	if b := e.get(acme, "/admin/t/"+e.acme.ID+"/import").Body.String(); strings.Contains(b, "globex-secret") {
		t.Errorf("Acme's Import page lists Globex's job")
	}
	if rec := e.upload(acme, e.globex.ID, "intruder.csv", importHeader+"Eve,Il,eve@globex.test,eve@globex.test,\n", ""); rec.Code != http.StatusForbidden {
		t.Errorf("upload into Globex: %d, want 403", rec.Code)
	}
	if jobs, _ := e.st.ListImportJobs(e.ctx, e.globex.ID); len(jobs) != 1 {
		t.Errorf("Globex has %d jobs, want 1", len(jobs))
	}
	// A following page for another admin's upload finds nothing of it.
	rec := e.get(acme, "/admin/t/"+e.acme.ID+"/import?upload="+strings.Repeat("0", 8)+"-0000-7000-8000-000000000000")
	if strings.Contains(rec.Body.String(), "globex-secret") || rec.Code == http.StatusSeeOther {
		t.Errorf("following an upload leaked another tenant's job: %d %s", rec.Code, rec.Header().Get("Location"))
	}
}

// TestImportNotConfigured: without a runner the page says so and the
// templates still download; an upload is refused.
func TestImportNotConfigured(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	rec := e.get(op, "/admin/t/"+e.acme.ID+"/import")
	if b := rec.Body.String(); rec.Code != 200 || !strings.Contains(b, "Imports are not configured") || strings.Contains(b, `type="file"`) {
		t.Errorf("page without a runner: %d\n%s", rec.Code, b)
	}
	rec = e.get(op, "/admin/t/"+e.acme.ID+"/import/template.xlsx")
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "PK") || !strings.Contains(rec.Header().Get("Content-Type"), "spreadsheetml") ||
		rec.Header().Get("Content-Disposition") != "attachment; filename=roster-users-template.xlsx" {
		t.Errorf("xlsx template: %d %v", rec.Code, rec.Header())
	}
	rec = e.get(op, "/admin/t/"+e.acme.ID+"/import/template.csv")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "First Name*") {
		t.Errorf("csv template: %d %q", rec.Code, rec.Body.String())
	}
	if rec := e.upload(op, e.acme.ID, "a.csv", importHeader, ""); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("upload without a runner: %d", rec.Code)
	}
}

// TestImportUploadCrossOrigin: the upload form is refused from another
// site like every other form.
func TestImportUploadCrossOrigin(t *testing.T) {
	e := newEnv(t, withImports(nil))
	op := e.operator()
	req := httptest.NewRequest(http.MethodPost, "https://roster.example.com/admin/t/"+e.acme.ID+"/import", strings.NewReader(url.Values{}.Encode()))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(op)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-site upload: %d", rec.Code)
	}
}

func TestRoughly(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{time.Second, "1 second"}, {12 * time.Second, "10 seconds"}, {59 * time.Second, "1 minute"}, {150 * time.Second, "3 minutes"},
		{time.Hour, "1 hour"}, {100 * time.Minute, "1 hour 40 minutes"}, {5 * time.Hour, "5 hours"},
	} {
		if got := roughly(tc.d); got != tc.want {
			t.Errorf("roughly(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestImportSlowUpload: an upload may take longer than the server's read
// and write timeouts, which are sized for forms.
func TestImportSlowUpload(t *testing.T) {
	e := newEnv(t, withImports(nil))
	e.srv.importWait = time.Minute
	srv := httptest.NewUnstartedServer(e.h)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, _ := mw.CreateFormFile("file", "slow.csv")
		_, _ = io.WriteString(fw, importHeader)
		time.Sleep(800 * time.Millisecond) // a slow link
		_, _ = io.WriteString(fw, "Ann,Lee,ann@acme.test,ann@acme.test,\n")
		_ = mw.Close()
		_ = pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/admin/t/"+e.acme.ID+"/import", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(e.operator())
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("slow upload: %v", err)
	}
	defer res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "/import/") || strings.Contains(loc, "upload=") {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("slow upload: %d %q\n%s", res.StatusCode, loc, body)
	}
}
