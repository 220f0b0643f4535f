package admin

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// sampleData is representative data for every template, with the optional
// parts filled in, so a field a template names that the data lacks fails
// here rather than in front of an admin.
func sampleData(now time.Time) map[string][]any {
	u := &store.User{ID: "u1", UserName: "ada@acme.test", Name: store.Name{GivenName: "Ada", FamilyName: "Lovelace"}, Active: true,
		AccountAdmin: true, Activation: store.ActivationPending, Notes: "Counts PVC pipes", Permissions: []string{"count"},
		Emails: []store.MultiValue{{Value: "ada@acme.test", Primary: true}}, CreatedAt: now, UpdatedAt: now}
	panel := func(tab string) *userPanel {
		return &userPanel{User: u, Name: "Ada Lovelace", Status: "Pending activation", StatusCls: "warn", Tab: tab, Email: "ada@acme.test",
			Mobile: "+44 1", Groups: []store.GroupRef{{ID: "g1", DisplayName: "Counters"}}, Pending: true, EditURL: "/e", ActionBase: "/a", CloseURL: "/c",
			TabURL: map[string]string{"details": "/d", "licenses": "/l", "devices": "/v", "history": "/h"},
			Seats: []seatRow{{PoolID: "p1", Product: "Counter Pro", State: "active", Direct: true, Groups: []string{"Counters"}},
				{PoolID: "p2", Product: "Scanner", State: "waiting", Reason: "no seats", Full: true, RequestURL: "/r"},
				{PoolID: "p3", Product: "Old", Ended: true}, {PoolID: "p4", Product: "Free", Free: 3}},
			Devices: []deviceRow{{ID: "d1", Code: "DEV-1", Name: "iPad", Product: "Counter Pro", State: "active", LastSeen: now},
				{ID: "d2", Code: "DEV-2", Product: "Counter Pro", State: "blocked"}},
			History: []auditRow{{At: now, Actor: "admin:x", Action: "seat.assign", Label: "Assigned seat", Reason: "direct"}}}
	}
	users := func(tab string) *usersData {
		return &usersData{Query: "ada", Status: "active", Total: 120, Page: 2, Pages: 3, PrevURL: "/p", NextURL: "/n", NewURL: "/new", BulkURL: "/b",
			Rows: []userRow{{ID: "u1", Name: "Ada Lovelace", UserName: "ada@acme.test", Email: "ada@acme.test", Status: "Active", StatusClass: "ok",
				Licenses: []string{"Counter Pro"}, Devices: 2, URL: "/u1", Selected: true}}, Panel: panel(tab), SearchError: "narrow it"}
	}
	card := poolCard{ID: "p1", Product: "Counter Pro", Total: 10, Assigned: 10, Overage: 2, EndsAt: now.AddDate(1, 0, 0), StartsAt: now.AddDate(-1, 0, 0),
		Policy: store.PolicyAllowOver, DevicesPerSeat: 2, AutoAssign: true, WaitingCount: 30, RequestURL: "/req", ResizeURL: "/resize",
		Waiting:  []waitRow{{Name: "bob@acme.test", URL: "/u", Reason: "no seats", Since: now}},
		Rules:    []ruleRow{{ID: "r1", Pool: "Counters", RemoveURL: "/x"}},
		Requests: []*store.SeatRequest{{Seats: 5, State: store.RequestPending, RequestedBy: "ada@acme.test", CreatedAt: now}}}
	card.Chart, card.ChartText = usageChart("Counter Pro", []*store.PoolSample{{At: now.AddDate(0, 0, -10), Total: 8, Assigned: 3, Waiting: 1}, {At: now, Total: 10, Assigned: 10, Overage: 2}}, now)
	tenant := &store.Tenant{ID: "t1", Name: "Acme", CreatedAt: now}
	return map[string][]any{
		"login":      {loginData{OIDC: true, StartURL: "/s"}, loginData{OIDC: true, Error: "bad"}, loginData{Broken: true}, loginData{}},
		"error":      {errorData{Status: 404, Heading: "Not found", Message: "gone", Back: "/", BackLabel: "Back"}, errorData{Status: 500, Heading: "x", Message: "y"}},
		"refused":    {refusedData{Who: "x@y.test", LoginURL: "/l"}, refusedData{Suspended: true}},
		"signed_out": {loginData{OIDC: true}},
		"accounts":   {accountsData{Accounts: []accountChoice{{Name: "Acme", URL: "/s?tenant=a", Current: true}, {Name: "Globex", URL: "/s?tenant=g"}}}, accountsData{}},
		"bootstrap":  {bootstrapData{Token: "rsb_x", Action: "/b"}},
		"confirm":    {confirmData{Heading: "Remove?", Message: "m", Items: []string{"a"}, Action: "/x", Fields: map[string]string{"a": "b"}, IDs: []string{"1"}, Button: "Go", Danger: true, Cancel: "/c"}},
		"users": {users("details"), users("licenses"), users("devices"), users("history"), &usersData{Page: 1, Pages: 1},
			&usersData{Status: "pending", Walked: true, From: 200, Scanned: 5000, NextURL: "/n"}, &usersData{Status: "pending", Walked: true}},
		"user_form": {&userForm{Action: "/a", CancelURL: "/c", Invite: true, Error: "fix", Errors: map[string]string{"firstName": "a", "lastName": "b", "userName": "c", "email": "d",
			"mobile": "e", "business": "f", "customerCode": "g", "udid": "h", "password": "i", "notes": "j", "accountAdmin": "k"},
			Pools: []poolChoice{{ID: "p", Product: "Counter Pro", Free: 1, Chosen: true}, {ID: "q", Product: "Full", Full: true}}},
			&userForm{Edit: true, ID: "u1", Version: 3, Action: "/a", Self: true, AccountAdmin: true}},
		"note":   {noteData{User: u, Name: "Ada", Action: "/n", Back: "devices"}},
		"groups": {&groupsData{Query: "c", Total: 60, Page: 1, Pages: 2, NextURL: "/n", Rows: []groupRow{{ID: "g", Name: "Counters", URL: "/g", Members: 3, Licenses: []string{"Counter Pro"}}}}, &groupsData{}},
		"group": {&groupData{Group: &store.Group{ID: "g", DisplayName: "Counters", ExternalID: "x"}, Count: 51, NextURL: "/n", FirstURL: "/f", RuleURL: "/r", BackURL: "/b",
			Members: []memberRow{{Name: "ada", Type: "User", URL: "/u"}, {Name: "sub", Type: "Group", URL: "/g"}}, Rules: []ruleRow{{ID: "r", Pool: "Counter Pro", RemoveURL: "/x"}},
			Pools: []poolChoice{{ID: "p", Product: "Scanner", Free: 2}}}},
		"licenses": {&licensesData{Cards: []poolCard{card, {ID: "p2", Product: "Ended", Total: 1, EndsAt: now.AddDate(0, 0, -1), Ended: true}}, ReprocessURL: "/r", GroupsURL: "/g"}, &licensesData{}},
		"devices": {&devicesData{Product: "x", Status: "licensed", Products: []productOption{{ID: "x", Name: "Counter Pro"}}, Pools: []poolCard{card}, Total: 51, Page: 1, Pages: 2, Counted: true, NextURL: "/n",
			Return: "/d", LicenseURL: "/l", HasPools: true, Rows: []devRow{
				{DeviceID: "d", Code: "DEV-1", DeviceName: "iPad", UserID: "u", Name: "Ada", Email: "a@x", UserURL: "/u", Product: "Counter Pro", PoolID: "p", License: "Licensed", LicenseClass: "ok",
					UserActive: true, Note: "night", CanRemove: true, CanMove: true, MoveURL: "/m", NoteURL: "/n", FlagURL: "/f", BlockURL: "/b", MoveDeviceURL: "/md"},
				{DeviceID: "e", Code: "DEV-2", DeviceState: "blocked", UserID: "v", License: "No license", LicenseClass: "muted", CanAssign: true, CanFlag: true, FlagURL: "/f", NoteURL: "/n", GroupGranted: true}}},
			&devicesData{HasPools: true}, &devicesData{}, &devicesData{HasPools: true, Page: 3, Pages: 3, More: true, PrevURL: "/p", NextURL: "/n",
				Rows: []devRow{{DeviceID: "f", Code: "DEV-3", License: "Waiting", LicenseClass: "warn"}}}, &devicesData{HasPools: true, Page: 4}},
		"move_device": {&moveDeviceData{Device: &store.Device{ID: "d", DeviceCode: "DEV-1", Name: "iPad"}, Product: "Counter Pro", FromName: "Ada", FromUser: "ada@x",
			Candidates: []moveCandidate{{ID: "v", Name: "Bob", UserName: "bob@x"}}, Action: "/m", Cancel: "/c", Error: "no", UserName: "x"},
			&moveDeviceData{Device: &store.Device{ID: "d", DeviceCode: "DEV-2"}, Product: "Counter Pro"}},
		"move":     {&moveData{From: u, FromName: "Ada", PoolID: "p", Product: "Counter Pro", Candidates: []moveCandidate{{ID: "v", Name: "Bob", UserName: "bob@x"}}, Action: "/m", Cancel: "/c", Error: "no", UserName: "x"}, &moveData{From: u}},
		"tokens":   {&tokensData{Secret: "rst_secret", SCIMURL: "https://x/scim/v2", CreateURL: "/t", Error: "name it", NewName: "x", Connect: "/c", Tokens: []tokenRow{{ID: "1", Name: "Okta", Created: now, LastUsed: now, RevokeURL: "/r"}, {ID: "2", Name: "Old", Created: now, Revoked: now}}}, &tokensData{}},
		"connect":  {&connectData{IdP: "okta", SCIMURL: "https://x/scim/v2", TokensURL: "/t", ActiveTokens: 1, RequestsURL: "/r", Requests: []LoggedRequest{{At: now, Method: "POST", Path: "/scim/v2/Users", Status: 201}, {At: now, Method: "GET", Path: "/scim/v2/Users/x", Status: 404}, {At: now, Method: "GET", Path: "/x", Status: 500}}, Tabs: []connectTab{{Key: "okta", Label: "Okta", URL: "/o", Current: true}}}, &connectData{IdP: "entra"}, &connectData{IdP: "generic"}},
		"audit":    {&auditData{Actor: "system", Action: "seat.assign", Target: "ada", Since: "2026-01-01", Until: "2026-02-01", OlderURL: "/o", Actions: []string{"seat.assign"}, Rows: []auditRow{{At: now, Actor: "system", Action: "seat.assign", Label: "Assigned seat", Target: "ada", Reason: "r", Details: "{}"}}}, &auditData{Error: "dates"}},
		"settings": {&settingsData{Name: "Acme", InviteFrom: "IT <it@x>", Version: 2, Action: "/s", Error: "fix", Errors: map[string]string{"name": "n", "inviteFrom": "i"}}},
		"import": {&importsData{Configured: true, TemplateXLSX: "/x", TemplateCSV: "/c", Action: "/i", Mode: store.ImportValidRows, Error: "bad file", Waiting: true,
			MaxSize: "64 MB", MaxRows: "250,000", Columns: templateColumns(), GroupsURL: "/g",
			Products: []importProduct{{Code: "counter", Name: "Counter Pro", Free: 3}, {Code: "old", Name: "Old", Ended: true}},
			Jobs: []importRow{{URL: "/j1", FileName: "users.xlsx", At: now, Status: "Importing", StatusClass: "info", Total: 1000, Processed: 200, Running: true},
				{URL: "/j2", FileName: "staff.csv", At: now, Status: "Done with errors", StatusClass: "warn", Total: 10, Done: 8, Failed: 2, ResultURL: "/r"},
				{FileName: "old.xls", At: now, Status: "Not read", StatusClass: "danger", Message: "This is an Excel 97-2003 workbook."}}},
			&importsData{}},
		"import_job": {
			&importJobData{Job: &store.ImportJob{ID: "j", FileName: "users.xlsx", State: store.JobRunning, CreatedAt: now, Mode: store.ImportAllOrNothing}, Status: "Checking the file", StatusClass: "info",
				Checking: true, Running: true, Phase: "Reading", ModeLabel: "All or nothing", ImportURL: "/i", UsersURL: "/u"},
			&importJobData{Job: &store.ImportJob{ID: "j", FileName: "users.xlsx", State: store.JobRunning, Total: 12000, Done: 1100, Failed: 100, CreatedAt: now}, Status: "Importing", StatusClass: "info",
				Running: true, Processed: 1200, Percent: 10, Rate: "450 rows/s", Left: "about 24 seconds", Phase: "Users are being created", Warnings: []string{"Columns not imported: \"Shoe size\"."}, ImportURL: "/i"},
			&importJobData{Job: &store.ImportJob{ID: "j", FileName: "users.csv", Format: "csv", State: store.JobDone, Total: 3, Failed: 1, Error: "1 row of 3 has errors, so nothing was imported.", CreatedAt: now, FinishedAt: now},
				Status: "Not imported", StatusClass: "danger", Finished: true, Processed: 1, ErrorText: "1 row of 3 has errors.", ErrorClass: "error", ResultURL: "/r", AltURL: "/r?format=xlsx", AltLabel: "Excel workbook", ImportURL: "/i", UsersURL: "/u"},
			&importJobData{Job: &store.ImportJob{ID: "j", State: store.JobFailed, Error: "the file has a header row but no users under it"}, Status: "Failed", StatusClass: "danger", Finished: true}},
		"op_tenants":  {&opTenantsData{CreateURL: "/c", NewName: "x", Error: "taken", Rows: []opTenantRow{{T: tenant, Users: 3, Pools: 1, UpdateURL: "/u", PoolsURL: "/p", UsersURL: "/us"}, {T: &store.Tenant{ID: "t2", Name: "Frozen", Suspended: true}}}}},
		"op_pools":    {&opPoolsData{Tenant: tenant, CreateURL: "/c", Error: "bad", Form: poolForm{Product: "p", Total: "5", Policy: "deny"}, Products: []productOption{{ID: "p", Name: "Scanner"}}, Pools: []opPoolRow{{P: &store.Pool{ID: "p1", Total: 5, Assigned: 2, Overage: 1, EndsAt: now, Policy: "allow-over", AutoAssign: true}, Product: "Counter Pro", UpdateURL: "/u"}, {P: &store.Pool{ID: "p2"}, Product: "Old", Ended: true}}}, &opPoolsData{Tenant: tenant}},
		"op_products": {&opProductsData{CreateURL: "/c", Code: "x", Name: "y", Error: "e", Products: []opProductRow{{P: &store.Product{ID: "p", Code: "counter", Name: "Counter Pro"}, UpdateURL: "/u"}}}, &opProductsData{}},
		"op_requests": {&opRequestsData{Pending: []opRequestRow{{R: &store.SeatRequest{Seats: 5, Note: "team", RequestedBy: "ada@x", CreatedAt: now}, Tenant: "Acme", Product: "Counter Pro", Total: 10, DecideURL: "/d", TenantLicensesURL: "/l"}},
			Decided: []opRequestRow{{R: &store.SeatRequest{Seats: 1, State: store.RequestApproved, DecidedAt: now}, Tenant: "Acme", Product: "x"}}}, &opRequestsData{}},
	}
}

var (
	labelled   = regexp.MustCompile(`<(input|select|textarea)\b[^>]*>`)
	idAttr     = regexp.MustCompile(`\bid="([^"]+)"`)
	labelFor   = regexp.MustCompile(`<label[^>]*\bfor="([^"]+)"`)
	typeHidden = regexp.MustCompile(`type="(hidden|submit)"`)
)

// TestTemplatesRenderEveryPage renders every template, as operator and as
// tenant admin, with and without a flash message.
func TestTemplatesRenderEveryPage(t *testing.T) {
	e := newEnv(t)
	pages, err := e.srv.assets.templates()
	must(t, err)
	data := sampleData(e.clock.Now())
	for name := range pages {
		if _, ok := data[name]; !ok {
			t.Errorf("template %s has no sample data in this test", name)
		}
	}
	sessions := map[string]*store.Session{
		"operator":     {Subject: "op", Role: store.RoleOperator, Name: "Olga"},
		"tenant admin": {Subject: "ta", Role: store.RoleTenantAdmin, TenantID: e.acme.ID, Email: "ada@acme.test"},
		"signed out":   nil,
	}
	for name, variants := range data {
		for i, d := range variants {
			for who, sess := range sessions {
				p := &page{Title: name, Section: "users", Session: sess, Operator: sess != nil && sess.Role == store.RoleOperator, Tenant: e.acme,
					Tenants: []*store.Tenant{e.acme, e.globex}, OIDCMissing: i%2 == 0, Pending: 2, Flash: &flash{Kind: "ok", Text: "Saved."}, Data: d}
				rec := httptest.NewRecorder()
				e.srv.render(rec, httptest.NewRequest("GET", "/admin/x", nil), http.StatusOK, name, p)
				body := rec.Body.String()
				if rec.Code != http.StatusOK {
					t.Errorf("%s #%d as %s: status %d; log:\n%s", name, i, who, rec.Code, e.log.String())
					continue
				}
				for _, bad := range []string{"no value", "%!", "<nil>", "map["} {
					if strings.Contains(body, bad) {
						t.Errorf("%s #%d as %s: output contains %q", name, i, who, bad)
					}
				}
				for _, tag := range []string{"form", "table", "section", "div", "ul", "select"} {
					if o, c := strings.Count(body, "<"+tag+">")+strings.Count(body, "<"+tag+" "), strings.Count(body, "</"+tag+">"); o != c {
						t.Errorf("%s #%d as %s: %d <%s> but %d </%s>", name, i, who, o, tag, c, tag)
					}
				}
				checkLabels(t, name, body)
			}
		}
	}
}

// checkLabels: every visible form control has a label (or aria-label).
func checkLabels(t *testing.T, page, body string) {
	t.Helper()
	fors := map[string]bool{}
	for _, m := range labelFor.FindAllStringSubmatch(body, -1) {
		fors[m[1]] = true
	}
	for _, tag := range labelled.FindAllString(body, -1) {
		if typeHidden.MatchString(tag) || strings.Contains(tag, "aria-label=") {
			continue
		}
		id := idAttr.FindStringSubmatch(tag)
		if id == nil || !fors[id[1]] {
			t.Errorf("%s: control without a label: %s", page, tag)
		}
	}
}

// failingStore fails every read and write with an error whose text must
// never reach a page.
type failingStore struct {
	store.Store
	fail bool
}

var errSecret = errors.New("sqlite: SECRET-DETAIL disk I/O error at /var/lib/roster/roster.db")

func (f *failingStore) err() error {
	if f.fail {
		return errSecret
	}
	return nil
}

func (f *failingStore) ListUsers(ctx context.Context, t string, q store.Query) (*store.UserPage, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.ListUsers(ctx, t, q)
}
func (f *failingStore) GetUser(ctx context.Context, t, id string) (*store.User, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.GetUser(ctx, t, id)
}
func (f *failingStore) CreateUser(ctx context.Context, u *store.User) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.CreateUser(ctx, u)
}
func (f *failingStore) ListPools(ctx context.Context, t string) ([]*store.Pool, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.ListPools(ctx, t)
}
func (f *failingStore) ListGroups(ctx context.Context, t string, q store.Query) (*store.GroupPage, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.ListGroups(ctx, t, q)
}
func (f *failingStore) ListTokens(ctx context.Context, t string) ([]*store.Token, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.ListTokens(ctx, t)
}
func (f *failingStore) CreateToken(ctx context.Context, tk *store.Token) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.CreateToken(ctx, tk)
}
func (f *failingStore) ListAudit(ctx context.Context, t string, q store.AuditQuery) ([]*store.AuditEvent, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.ListAudit(ctx, t, q)
}
func (f *failingStore) ListDevices(ctx context.Context, t, u string) ([]*store.Device, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.ListDevices(ctx, t, u)
}
func (f *failingStore) UpdateTenant(ctx context.Context, tn *store.Tenant) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.UpdateTenant(ctx, tn)
}
func (f *failingStore) ListProducts(ctx context.Context) ([]*store.Product, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.ListProducts(ctx)
}
func (f *failingStore) ListSeatRequests(ctx context.Context, t, s string) ([]*store.SeatRequest, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.ListSeatRequests(ctx, t, s)
}

// TestNoInternalErrorText: whatever fails inside, a page says only that
// something went wrong; the cause goes to the log.
func TestNoInternalErrorText(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	must(t, err)
	t.Cleanup(func() { st.Close() })
	fs := &failingStore{Store: st}
	e := newEnvOn(t, fs)
	op := e.operator()
	u := e.user(e.acme.ID, "ada@acme.test", false)
	fs.fail = true
	tp := "/admin/t/" + e.acme.ID
	reqs := []struct {
		method, path string
		form         url.Values
	}{
		{"GET", tp + "/users", nil}, {"GET", tp + "/users/" + u.ID, nil}, {"GET", tp + "/users/new", nil}, {"GET", tp + "/users/" + u.ID + "/edit", nil},
		{"GET", tp + "/groups", nil}, {"GET", tp + "/licenses", nil}, {"GET", tp + "/devices", nil}, {"GET", tp + "/tokens", nil},
		{"GET", tp + "/connect", nil}, {"GET", tp + "/audit", nil}, {"GET", "/admin/op/tenants", nil}, {"GET", "/admin/op/products", nil},
		{"GET", "/admin/op/requests", nil}, {"GET", tp + "/import", nil},
		{"POST", tp + "/users", url.Values{"firstName": {"A"}, "lastName": {"B"}, "userName": {"new@acme.test"}}},
		{"POST", tp + "/tokens", url.Values{"name": {"x"}}},
		{"POST", tp + "/settings", url.Values{"name": {"Acme 2"}}},
		{"POST", tp + "/users/" + u.ID + "/seats", url.Values{"pool": {e.poolA.ID}, "action": {"assign"}}},
		{"POST", tp + "/reprocess", url.Values{}},
		{"POST", tp + "/import", url.Values{"mode": {"valid-rows"}}},
	}
	for _, r := range reqs {
		var rec *httptest.ResponseRecorder
		if r.method == "GET" {
			rec = e.get(op, r.path)
		} else {
			rec = e.post(op, r.path, r.form)
		}
		body := rec.Body.String()
		if strings.Contains(body, "SECRET") || strings.Contains(body, "sqlite") || strings.Contains(body, "roster.db") {
			t.Errorf("%s %s: internal error text reached the page:\n%s", r.method, r.path, body)
		}
		if rec.Code != http.StatusInternalServerError || !strings.Contains(body, "Something went wrong on our side") {
			t.Errorf("%s %s: got %d, want the generic 500 page", r.method, r.path, rec.Code)
		}
	}
	if !strings.Contains(e.log.String(), "SECRET-DETAIL") {
		t.Errorf("the cause did not reach the log")
	}
}

// TestBrokenTemplateIsCleanError: a template failing half-way yields a
// complete 500 page and nothing of the half-rendered one.
func TestBrokenTemplateIsCleanError(t *testing.T) {
	dir := t.TempDir()
	must(t, os.CopyFS(dir, mustSub(t)))
	p := filepath.Join(dir, "templates", "settings.html")
	b, err := os.ReadFile(p)
	must(t, err)
	must(t, os.WriteFile(p, []byte(strings.Replace(string(b), "{{$d.Name}}", "{{$d.Name.Missing}}", 1)), 0o600))
	e := newEnv(t, func(d *Deps) { d.AssetsDir = dir })
	rec := e.get(e.operator(), "/admin/t/"+e.acme.ID+"/settings")
	body := rec.Body.String()
	if rec.Code != http.StatusInternalServerError || !strings.Contains(body, "Something went wrong") || strings.Contains(body, "Organisation name") ||
		strings.Contains(body, "Missing") || strings.Contains(body, "can't evaluate") {
		t.Fatalf("broken template: %d\n%s", rec.Code, body)
	}
}

func mustSub(t *testing.T) fs.FS {
	sub, err := fs.Sub(embedded, "assets")
	must(t, err)
	return sub
}

func TestEmbeddedAssets(t *testing.T) {
	must(t, fstest.TestFS(mustSub(t), "templates/layout.html", "templates/partials.html", "templates/users.html", "static/app.css", "static/app.js"))
	e := newEnv(t)
	css := e.srv.assets.asset("app.css")
	if !strings.Contains(css, "?v=") {
		t.Errorf("embedded asset URL %q is not versioned", css)
	}
	rec := e.get(nil, strings.TrimPrefix(css, "https://roster.example.com"))
	if rec.Code != 200 || !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") {
		t.Errorf("GET %s: %d %v", css, rec.Code, rec.Header())
	}
}

// TestAssetsDirOverride: with Deps.AssetsDir, edits show without a rebuild.
func TestAssetsDirOverride(t *testing.T) {
	dir := t.TempDir()
	must(t, os.CopyFS(dir, mustSub(t)))
	e := newEnv(t, func(d *Deps) { d.AssetsDir = dir })
	must(t, os.WriteFile(filepath.Join(dir, "static", "app.css"), []byte("body{color:red}"), 0o600))
	rec := e.get(nil, "/admin/static/app.css")
	if rec.Body.String() != "body{color:red}" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("override css: %q %q", rec.Body.String(), rec.Header().Get("Cache-Control"))
	}
	p := filepath.Join(dir, "templates", "settings.html")
	b, _ := os.ReadFile(p)
	must(t, os.WriteFile(p, []byte(strings.Replace(string(b), "Organisation name", "Company name", 1)), 0o600))
	if body := e.get(e.operator(), "/admin/t/"+e.acme.ID+"/settings").Body.String(); !strings.Contains(body, "Company name") {
		t.Errorf("template edit not picked up")
	}
}
