package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/roster-scim/roster/admin"
	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// rootRoutes classifies every pattern of the root router: who may call
// it. TestAuthorizationMatrix fails when the router grows a pattern this
// table does not know, so a new route cannot ship without an
// authorisation case.
var rootRoutes = map[string]string{
	"/healthz":               "public: liveness",
	"/readyz":                "public: readiness",
	"/metrics":               "public unless server.admin_addr is set (names tenants: see README Operations)",
	"/":                      "public: redirect to /admin",
	"/.well-known/jwks.json": "public: a tenant's lease verification keys",
	"/scim/v2/*":             "SCIM token",
	"/api/v1/devices/*":      "credentials in the body (password, ID token or lease)",
	"/invite/*":              "the link's secret",
	"/admin/*":               "portal session",
}

// authzEnv is a server with two tenants and credentials of every kind.
type authzEnv struct {
	s                *runningServer
	st               store.Store
	dir, cfg         string
	tenantA, tenantB *store.Tenant
	tokenA, tokenB   string // default's and acme's
	revoked          string // a revoked token of default
	userA, groupA    string // ids in default
	userB, groupB    string // ids in acme
	leaseA           string // a device lease of default
	sessA, sessB     string // cookies: default's and acme's tenant admins
	sessExpired      string // cookie: an expired operator
}

// apiRoutesCovered are the device API's routes the matrix calls; the
// matrix fails when api/ registers one that is not here.
var apiRoutesCovered = []string{"POST /api/v1/devices/login", "POST /api/v1/devices/renew", "GET /.well-known/jwks.json"}

// session stores a portal session for role in tenantID as the person with
// e-mail email (verified), returning its cookie value.
func (e *authzEnv) session(t *testing.T, role, tenantID, email string, expires time.Time) string {
	t.Helper()
	secret := "sess_" + store.NewID()
	now := store.Timestamp(time.Now())
	if err := e.st.CreateSession(context.Background(), &store.Session{Hash: auth.HashSecret(secret), Subject: "matrix-" + email, Email: email,
		Role: role, TenantID: tenantID, CreatedAt: now.Add(-time.Hour), LastSeenAt: now, ExpiresAt: store.Timestamp(expires)}); err != nil {
		t.Fatal(err)
	}
	return secret
}

func newAuthzEnv(t *testing.T) *authzEnv {
	t.Helper()
	e := &authzEnv{dir: t.TempDir()}
	// No token cache, so the revocation counts at once; no rate limits in
	// the way of many requests.
	e.cfg = writeConfigFile(t, "scim:\n  token_cache_ttl: 0s\n  rate_limit:\n    requests_per_second: 0\ndevices:\n  login_limit:\n    failures_per_minute: 0\n")
	e.s = startServer(t, e.dir, "--config", e.cfg)
	e.tokenA = e.s.token
	cli := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(append(args, "--data", e.dir, "--config", e.cfg)...)
		if code != 0 {
			t.Fatalf("roster %v: %d %s %s", args, code, out, errOut)
		}
		return out
	}
	cli("tenant", "create", "acme")
	e.tokenB = regexp.MustCompile(`rst_\S+`).FindString(cli("token", "create", "--tenant", "acme"))
	out := cli("token", "create", "--tenant", "default", "--name", "doomed")
	e.revoked = regexp.MustCompile(`rst_\S+`).FindString(out)
	cli("token", "revoke", "--tenant", "default", regexp.MustCompile(`token (\S+) for`).FindStringSubmatch(out)[1])

	st := openSQLiteT(t, e.dir)
	e.st = st
	ctx := context.Background()
	var err error
	if e.tenantA, err = st.GetTenantByName(ctx, "default"); err != nil {
		t.Fatal(err)
	}
	if e.tenantB, err = st.GetTenantByName(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	seedPool(t, st, "default", "counter", 5, true)

	create := func(token, path, body string) string {
		t.Helper()
		code, resp := scimDo(t, http.DefaultClient, "POST", e.s.url+"/scim/v2/"+path, token, body)
		if code != 201 {
			t.Fatalf("POST %s: %d %s", path, code, resp)
		}
		var r struct{ ID string }
		json.Unmarshal([]byte(resp), &r)
		return r.ID
	}
	e.userA = create(e.tokenA, "Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@default.example","password":"ada's long password"}`)
	e.groupA = create(e.tokenA, "Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineers","members":[{"value":"`+e.userA+`"}]}`)
	e.userB = create(e.tokenB, "Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@acme.example","urn:ietf:params:scim:schemas:extension:roster:2.0:User":{"accountAdmin":true}}`)
	// Default's account admin, and Eve: a user of default, not an admin,
	// with a password of her own.
	create(e.tokenA, "Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"boss@default.example","urn:ietf:params:scim:schemas:extension:roster:2.0:User":{"accountAdmin":true}}`)
	create(e.tokenA, "Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"eve@default.example","password":"eve's long password"}`)
	e.groupB = create(e.tokenB, "Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Acme staff"}`)

	res := e.post(t, "/api/v1/devices/login", `{"tenant":"default","userName":"ada@default.example","password":"ada's long password","deviceCode":"DEV-A","product":"counter"}`, nil)
	var g struct{ Lease string }
	json.NewDecoder(res.Body).Decode(&g)
	res.Body.Close()
	if res.StatusCode != 200 || g.Lease == "" {
		t.Fatalf("device login: %d", res.StatusCode)
	}
	e.leaseA = g.Lease

	e.sessA = e.session(t, store.RoleTenantAdmin, e.tenantA.ID, "boss@default.example", time.Now().Add(time.Hour))
	e.sessB = e.session(t, store.RoleTenantAdmin, e.tenantB.ID, "bob@acme.example", time.Now().Add(time.Hour))
	e.sessExpired = e.session(t, store.RoleOperator, "", "operator@example.com", time.Now().Add(-time.Minute))
	return e
}

// post sends a JSON POST with extra headers.
func (e *authzEnv) post(t *testing.T, path, body string, h map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", e.s.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// noRedirect shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// fingerprint is everything a refused request must leave as it was, in
// both tenants (last-used times of tokens and sessions aside).
func (e *authzEnv) fingerprint(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, tn := range []*store.Tenant{e.tenantA, e.tenantB} {
		tn, err := e.st.GetTenant(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "tenant %s v%d suspended=%v\n", tn.Name, tn.Version, tn.Suspended)
		users, err := e.st.ListUsers(ctx, tn.ID, store.Query{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users.Users {
			fmt.Fprintf(&b, "user %s %s v%d active=%v pw=%v\n", u.ID, u.UserName, u.Version, u.Active, u.PasswordHash != "")
		}
		groups, err := e.st.ListGroups(ctx, tn.ID, store.Query{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range groups.Groups {
			n, _ := e.st.CountMembers(ctx, tn.ID, g.ID)
			fmt.Fprintf(&b, "group %s %s v%d members=%d\n", g.ID, g.DisplayName, g.Version, n)
		}
		tokens, _ := e.st.ListTokens(ctx, tn.ID)
		for _, tk := range tokens {
			fmt.Fprintf(&b, "token %s revoked=%v\n", tk.ID, !tk.RevokedAt.IsZero())
		}
		pools, _ := e.st.ListPools(ctx, tn.ID)
		for _, p := range pools {
			fmt.Fprintf(&b, "pool %s total=%d assigned=%d v%d\n", p.ID, p.Total, p.Assigned, p.Version)
		}
		as, _ := e.st.ListAssignments(ctx, tn.ID, store.AssignmentQuery{})
		for _, a := range as {
			fmt.Fprintf(&b, "assignment %s %s %s\n", a.PoolID, a.UserID, a.State)
		}
		ds, _ := e.st.ListDevices(ctx, tn.ID, "")
		for _, d := range ds {
			fmt.Fprintf(&b, "device %s %s %s user=%s\n", d.ID, d.DeviceCode, d.State, d.UserID)
		}
		audit, _ := e.st.ListAudit(ctx, tn.ID, store.AuditQuery{Limit: 10000})
		fmt.Fprintf(&b, "audit events %d\n", len(audit))
		rules, _ := e.st.ListRules(ctx, tn.ID)
		fmt.Fprintf(&b, "rules %d\n", len(rules))
		jobs, _ := e.st.ListImportJobs(ctx, tn.ID)
		fmt.Fprintf(&b, "import jobs %d\n", len(jobs))
		out, _ := e.st.ListOutbox(ctx, tn.ID, 1000)
		fmt.Fprintf(&b, "outbox %d\n", len(out))
	}
	tenants, _ := e.st.ListTenants(ctx)
	products, _ := e.st.ListProducts(ctx)
	fmt.Fprintf(&b, "tenants %d products %d\n", len(tenants), len(products))
	return b.String()
}

// scimCalls are every SCIM endpoint, aimed at tenant default's records.
func (e *authzEnv) scimCalls() []struct{ method, path, body string } {
	user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"mallory@default.example","active":true}`
	group := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Mallory's"}`
	patchUser := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`
	patchGroup := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members"}]}`
	search := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName sw \"ada\""}`
	bulk := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[` +
		`{"method":"PATCH","path":"/Users/` + e.userA + `","data":` + patchUser + `},` +
		`{"method":"DELETE","path":"/Groups/` + e.groupA + `"},` +
		`{"method":"PUT","path":"/Users/` + e.userA + `","data":` + user + `}]}`
	return []struct{ method, path, body string }{
		{"GET", "/scim/v2/Users", ""},
		{"GET", "/scim/v2/Users?filter=" + strings.ReplaceAll(`userName eq "ada@default.example"`, " ", "%20"), ""},
		{"POST", "/scim/v2/Users", user},
		{"GET", "/scim/v2/Users/" + e.userA, ""},
		{"PUT", "/scim/v2/Users/" + e.userA, user},
		{"PATCH", "/scim/v2/Users/" + e.userA, patchUser},
		{"DELETE", "/scim/v2/Users/" + e.userA, ""},
		{"POST", "/scim/v2/Users/.search", search},
		{"GET", "/scim/v2/Groups", ""},
		{"POST", "/scim/v2/Groups", group},
		{"GET", "/scim/v2/Groups/" + e.groupA, ""},
		{"PUT", "/scim/v2/Groups/" + e.groupA, group},
		{"PATCH", "/scim/v2/Groups/" + e.groupA, patchGroup},
		{"DELETE", "/scim/v2/Groups/" + e.groupA, ""},
		{"POST", "/scim/v2/Groups/.search", search},
		{"POST", "/scim/v2/.search", search},
		{"POST", "/scim/v2/Bulk", bulk},
		{"GET", "/scim/v2/Me", ""},
		{"GET", "/scim/v2/ServiceProviderConfig", ""},
		{"GET", "/scim/v2/ResourceTypes", ""},
		{"GET", "/scim/v2/ResourceTypes/User", ""},
		{"GET", "/scim/v2/Schemas", ""},
		{"GET", "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", ""},
		{"GET", "/scim/v2/", ""},
		{"GET", "/scim/v2/NoSuchEndpoint", ""},
	}
}

// adminRoutes reads the portal's routes from its source, so the matrix
// covers the pages added after it was written.
func adminRoutes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../admin/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("admin sources: %v", err)
	}
	re := regexp.MustCompile(`(?m)^\s*(?:m\.HandleFunc|m\.Handle|t|o)\("((?:GET|POST|PUT|PATCH|DELETE) /[^"]*)"`)
	var routes []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			routes = append(routes, m[1])
		}
	}
	if len(routes) < 20 {
		t.Fatalf("found only %d portal routes in admin/*.go; has the way routes are declared changed?", len(routes))
	}
	// A route registered some other way (a new helper) would escape the
	// matrix: every "METHOD /path" literal in the sources must be one of
	// the routes read above.
	literal := regexp.MustCompile(`"((?:GET|HEAD|POST|PUT|PATCH|DELETE) /[^"]*)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, _ := os.ReadFile(f)
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			if !slices.Contains(routes, m[1]) {
				t.Errorf("%s: %q looks like a route the matrix does not read (registered with m.HandleFunc, m.Handle, t or o?)", f, m[1])
			}
		}
	}
	return routes
}

// apiRoutes reads the device API's routes from its source.
func apiRoutes(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../../api/*.go")
	re := regexp.MustCompile(`"((?:GET|HEAD|POST|PUT|PATCH|DELETE) /[^"]*)"`)
	var routes []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			routes = append(routes, m[1])
		}
	}
	if len(routes) == 0 {
		t.Fatal("found no routes in api/*.go; has the way routes are declared changed?")
	}
	return routes
}

// adminPublic are portal routes anyone may call: signing in and out, and
// the assets of the sign-in page.
var adminPublic = []string{"/login", "/login/start", "/oidc/callback", "/logout", "/signed-out", "/bootstrap", "/static/"}

func TestAuthorizationMatrix(t *testing.T) {
	// Every root route is classified.
	st := openSQLiteT(t, t.TempDir())
	cfg := defaultConfig()
	root := newRouter(routerDeps{cfg: cfg, publicURL: "http://127.0.0.1", store: st, engine: licensing.New(st),
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), portal: http.NotFoundHandler(), reqlog: admin.NewRequestLog(0),
		metrics: newMetrics(), clients: newClientAddr(nil), draining: new(atomic.Bool)})
	seen := map[string]bool{}
	err := chi.Walk(root.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(strings.ReplaceAll(route, "/*/", "/"), "/")
		if strings.HasPrefix(route, "/scim/v2") {
			route = "/scim/v2/*"
		}
		if route == "" {
			route = "/"
		}
		seen[route] = true
		if _, ok := rootRoutes[route]; !ok {
			t.Errorf("root route %s %s has no authorisation case: add it to rootRoutes and to the matrix", method, route)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for r := range rootRoutes {
		if !seen[r] {
			t.Errorf("rootRoutes names %s, which the router no longer has", r)
		}
	}

	e := newAuthzEnv(t)
	before := e.fingerprint(t)
	check := func(t *testing.T, what string, res *http.Response, ok func(int) bool, want string) {
		t.Helper()
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !ok(res.StatusCode) {
			t.Errorf("%s: got %d, want %s\n%.300s", what, res.StatusCode, want, body)
		}
		if res.StatusCode >= 500 {
			t.Errorf("%s: server error %d", what, res.StatusCode)
		}
	}
	is := func(codes ...int) func(int) bool { return func(c int) bool { return slices.Contains(codes, c) } }

	t.Run("scim", func(t *testing.T) {
		// Every resource type the server announces has each of its
		// endpoints in scimCalls.
		rtCode, rtBody := scimDo(t, http.DefaultClient, "GET", e.s.url+"/scim/v2/ResourceTypes", e.tokenA, "")
		var rts struct{ Resources []struct{ Endpoint string } }
		if err := json.Unmarshal([]byte(rtBody), &rts); rtCode != 200 || err != nil || len(rts.Resources) == 0 {
			t.Fatalf("GET /ResourceTypes: %d %v %s", rtCode, err, rtBody)
		}
		for _, rt := range rts.Resources {
			for _, want := range []string{"GET " + rt.Endpoint, "POST " + rt.Endpoint, "POST " + rt.Endpoint + "/.search",
				"GET " + rt.Endpoint + "/{id}", "PUT " + rt.Endpoint + "/{id}", "PATCH " + rt.Endpoint + "/{id}", "DELETE " + rt.Endpoint + "/{id}"} {
				if !slices.ContainsFunc(e.scimCalls(), func(c struct{ method, path, body string }) bool {
					p := strings.NewReplacer(e.userA, "{id}", e.groupA, "{id}").Replace(c.path)
					p, _, _ = strings.Cut(p, "?")
					return c.method+" "+strings.TrimPrefix(p, "/scim/v2") == want
				}) {
					t.Errorf("resource type endpoint %s has no case in scimCalls", want)
				}
			}
		}
		creds := []struct{ name, header string }{
			{"no token", ""},
			{"empty bearer", "Bearer "},
			{"basic auth", "Basic YWRtaW46YWRtaW4="},
			{"malformed token", "Bearer not-a-roster-token"},
			{"truncated token", "Bearer " + e.tokenA[:len(e.tokenA)-1]},
			{"token with a suffix", "Bearer " + e.tokenA + "x"},
			{"unknown well-formed token", "Bearer rst_" + strings.Repeat("A", 43)},
			{"two tokens", "Bearer " + e.tokenA + " " + e.tokenB},
			{"token in the wrong scheme", "Token " + e.tokenA},
			{"revoked token", "Bearer " + e.revoked},
		}
		for _, c := range creds {
			for _, call := range e.scimCalls() {
				req, _ := http.NewRequest(call.method, e.s.url+call.path, strings.NewReader(call.body))
				req.Header.Set("Content-Type", "application/scim+json")
				if c.header != "" {
					req.Header.Set("Authorization", c.header)
				}
				res, err := noRedirect.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				check(t, c.name+": "+call.method+" "+call.path, res, is(401), "401")
			}
		}
		// The token's in the query string instead of the header.
		res, _ := http.Get(e.s.url + "/scim/v2/Users?access_token=" + e.tokenA)
		check(t, "token in the query", res, is(401), "401")

		// Acme's token on default's records: as if they did not exist.
		for _, call := range e.scimCalls() {
			byID := strings.Contains(call.path, e.userA) || strings.Contains(call.path, e.groupA)
			if !byID {
				continue
			}
			code, body := scimDo(t, http.DefaultClient, call.method, e.s.url+call.path, e.tokenB, call.body)
			if code != 404 {
				t.Errorf("acme's token: %s %s: got %d, want 404\n%.300s", call.method, call.path, code, body)
			}
		}
		// Listing and searching with acme's token shows nothing of default.
		for _, call := range e.scimCalls() {
			if strings.Contains(call.path, e.userA) || strings.Contains(call.path, e.groupA) || (call.method != "GET" && !strings.HasSuffix(call.path, ".search")) {
				continue
			}
			code, body := scimDo(t, http.DefaultClient, call.method, e.s.url+call.path, e.tokenB, call.body)
			if code >= 500 && !strings.HasSuffix(call.path, "/Me") || strings.Contains(body, e.userA) || strings.Contains(body, e.groupA) || strings.Contains(body, "ada@default.example") {
				t.Errorf("acme's token: %s %s: %d leaks default's records\n%.300s", call.method, call.path, code, body)
			}
		}
		// A bulk request of acme's aimed at default's records fails per operation.
		bulk := e.scimCalls()[16]
		code, body := scimDo(t, http.DefaultClient, "POST", e.s.url+bulk.path, e.tokenB, bulk.body)
		if code != 200 || strings.Count(body, `"status":"404","response"`) != 3 {
			t.Errorf("acme's bulk on default's records: %d %s, want 200 with three 404 operations", code, body)
		}
		// Acme cannot pull default's user into its own group.
		code, body = scimDo(t, http.DefaultClient, "PATCH", e.s.url+"/scim/v2/Groups/"+e.groupB, e.tokenB,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+e.userA+`"}]}]}`)
		if code < 400 || code >= 500 {
			t.Errorf("acme adds default's user to its group: %d %s, want a 4xx", code, body)
		}
		code, body = scimDo(t, http.DefaultClient, "POST", e.s.url+"/scim/v2/Groups", e.tokenB,
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Poachers","members":[{"value":"`+e.userA+`"}]}`)
		if code < 400 || code >= 500 {
			t.Errorf("acme creates a group with default's user: %d %s, want a 4xx", code, body)
		}
	})

	t.Run("device api", func(t *testing.T) {
		for _, r := range apiRoutes(t) {
			if !slices.Contains(apiRoutesCovered, r) {
				t.Errorf("device API route %s has no authorisation case: add it to apiRoutesCovered and to the matrix", r)
			}
		}
		cases := []struct {
			name, path, body string
			want             []int
		}{
			{"login without a body", "/api/v1/devices/login", ``, []int{400}},
			{"login with nothing", "/api/v1/devices/login", `{}`, []int{400}},
			{"login in another tenant", "/api/v1/devices/login", `{"tenant":"acme","userName":"ada@default.example","password":"ada's long password","deviceCode":"DEV-X","product":"counter"}`, []int{401}},
			{"login with a wrong password", "/api/v1/devices/login", `{"tenant":"default","userName":"ada@default.example","password":"guess","deviceCode":"DEV-X","product":"counter"}`, []int{401}},
			{"login of a user without a password", "/api/v1/devices/login", `{"tenant":"acme","userName":"bob@acme.example","password":"","idToken":"x.y.z","deviceCode":"DEV-X","product":"counter"}`, []int{400, 401}},
			{"login to an unknown tenant", "/api/v1/devices/login", `{"tenant":"nobody","userName":"ada@default.example","password":"ada's long password","deviceCode":"DEV-X","product":"counter"}`, []int{404}},
			{"renew with another tenant's lease", "/api/v1/devices/renew", `{"tenant":"acme","lease":"` + e.leaseA + `"}`, []int{401}},
			{"renew with a forged lease", "/api/v1/devices/renew", `{"tenant":"default","lease":"` + e.leaseA[:len(e.leaseA)-4] + `AAAA"}`, []int{401}},
			{"renew with garbage", "/api/v1/devices/renew", `{"tenant":"default","lease":"garbage"}`, []int{401}},
			// Another user of the tenant, with her own valid password,
			// claims Ada's device.
			{"login with another user's device", "/api/v1/devices/login", `{"tenant":"default","userName":"eve@default.example","password":"eve's long password","deviceCode":"DEV-A","product":"counter"}`, []int{400, 403, 409}},
		}
		for _, c := range cases {
			check(t, c.name, e.post(t, c.path, c.body, nil), is(c.want...), fmt.Sprint(c.want))
		}
		res, _ := http.Get(e.s.url + "/api/v1/devices/login")
		check(t, "GET login", res, is(404, 405), "404 or 405")
		res, _ = http.Get(e.s.url + "/.well-known/jwks.json")
		check(t, "jwks without a tenant", res, is(400), "400")
	})

	t.Run("invitation links", func(t *testing.T) {
		for _, path := range []string{auth.InvitePath + "garbage", auth.InvitePath, auth.InvitePath + "rsi_" + strings.Repeat("A", 43)} {
			res, _ := noRedirect.Get(e.s.url + path)
			check(t, "GET "+path, res, func(c int) bool { return c >= 400 && c < 500 }, "a 4xx")
			res = e.post(t, path, "password=hunter22hunter22&password2=hunter22hunter22", map[string]string{
				"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"})
			check(t, "POST "+path, res, func(c int) bool { return c >= 400 && c < 500 }, "a 4xx")
		}
	})

	t.Run("portal", func(t *testing.T) {
		// The control: default's real admin gets in, so the refusals
		// below are about who asks.
		req, _ := http.NewRequest("GET", e.s.url+"/admin/t/"+e.tenantA.ID+"/users", nil)
		req.AddCookie(&http.Cookie{Name: auth.PortalCookie, Value: e.sessA})
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		check(t, "default's admin: GET users", res, is(200), "200")
		fill := strings.NewReplacer("{tenant}", e.tenantA.ID, "{id}", e.userA, "{job}", store.NewID(), "{pool}", store.NewID(), "{$}", "")
		for _, route := range adminRoutes(t) {
			method, pattern, _ := strings.Cut(route, " ")
			path := fill.Replace(pattern)
			if slices.ContainsFunc(adminPublic, func(p string) bool { return pattern == p || strings.HasPrefix(pattern, p) && strings.HasSuffix(p, "/") }) {
				continue
			}
			do := func(cookie string) *http.Response {
				req, _ := http.NewRequest(method, e.s.url+"/admin"+path, strings.NewReader("x=1"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Sec-Fetch-Site", "same-origin") // past CSRF: the session is what is tested
				if cookie != "" {
					req.AddCookie(&http.Cookie{Name: auth.PortalCookie, Value: cookie})
				}
				res, err := noRedirect.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			toLogin := func(c int) bool { return c == http.StatusSeeOther }
			for _, c := range []struct{ name, cookie string }{
				{"no session", ""}, {"expired session", e.sessExpired}, {"forged session", "sess_" + store.NewID()},
			} {
				res := do(c.cookie)
				if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/admin/login") {
					t.Errorf("%s: %s /admin%s: redirected to %q, want the sign-in page", c.name, method, path, loc)
				}
				check(t, c.name+": "+method+" /admin"+path, res, toLogin, "303 to /admin/login")
			}
			// Acme's tenant admin on default's pages and the operators' pages.
			if strings.HasPrefix(pattern, "/t/{tenant}") || strings.HasPrefix(pattern, "/op/") {
				check(t, "acme's admin: "+method+" /admin"+path, do(e.sessB), is(403), "403")
			}
			// A user of default who is not (or no longer) its account
			// admin, with a session of their own (fresh each time: a
			// refusal ends it): refused everywhere, as on sign-in.
			ada := e.session(t, store.RoleTenantAdmin, e.tenantA.ID, "ada@default.example", time.Now().Add(time.Hour))
			check(t, "non-admin user: "+method+" /admin"+path, do(ada), is(403), "403")
		}
	})

	if after := e.fingerprint(t); after != before {
		t.Errorf("refused requests changed the data:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
