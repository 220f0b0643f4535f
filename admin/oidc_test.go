package admin

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	opstorage "github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// opUsers is the example provider's user directory.
type opUsers map[string]*opstorage.User

func (u opUsers) GetUserByID(id string) *opstorage.User { return u[id] }
func (u opUsers) GetUserByUsername(name string) *opstorage.User {
	for _, x := range u {
		if x.Username == name {
			return x
		}
	}
	return nil
}
func (u opUsers) ExampleClientID() string { return "service" }

const opPassword = "verysecure"

func opUser(id, email string, verified bool) *opstorage.User {
	return &opstorage.User{ID: id, Username: id, Password: opPassword, FirstName: strings.ToUpper(id[:1]) + id[1:], LastName: "Example",
		Email: email, EmailVerified: verified, PreferredLanguage: language.English}
}

// oidcEnv is the portal served over HTTP next to zitadel's example OpenID
// provider, both in-process.
type oidcEnv struct {
	*env
	op     *httptest.Server
	portal *httptest.Server
}

var opMu sync.Mutex // the example provider's constructor sets package state

func newOIDCEnv(t *testing.T) *oidcEnv {
	t.Helper()
	return newOIDCEnvWith(t, oidcSetup{})
}

// oidcSetup varies the provider and the portal's OIDC configuration.
type oidcSetup struct {
	// users are added to the provider's directory.
	users opUsers
	// storage wraps the provider's storage (to change its tokens).
	storage func(*opstorage.Storage) exampleop.Storage
	// config changes the portal's OIDC configuration.
	config func(*auth.OIDCConfig)
}

func newOIDCEnvWith(t *testing.T, setup oidcSetup) *oidcEnv {
	t.Helper()
	opSrv := httptest.NewUnstartedServer(nil)
	portal := httptest.NewUnstartedServer(nil)
	issuer := "http://" + opSrv.Listener.Addr().String() + "/"
	portalURL := "http://" + portal.Listener.Addr().String()

	users := opUsers{
		"operator": opUser("operator", "op@roster.example.com", true),
		"alice":    opUser("alice", "alice@acme.test", true),
		"bob":      opUser("bob", "bob@globex.test", true),
		"nobody":   opUser("nobody", "nobody@acme.test", true),
		"mallory":  opUser("mallory", "alice@acme.test", false), // claims Alice's address, unverified
	}
	for k, u := range setup.users {
		users[k] = u
	}
	clients := map[string]*opstorage.Client{
		"roster": opstorage.WebClient("roster", "roster-secret", portalURL+"/admin/oidc/callback"),
	}
	opMu.Lock()
	var opStore exampleop.Storage = opstorage.NewStorageWithClients(users, clients)
	if setup.storage != nil {
		opStore = setup.storage(opStore.(*opstorage.Storage))
	}
	opSrv.Config.Handler = exampleop.SetupServer(issuer, opStore, nil, false, op.WithAllowInsecure())
	opMu.Unlock()
	opSrv.Start()
	t.Cleanup(opSrv.Close)

	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := auth.OIDCConfig{Issuer: issuer, ClientID: "roster", ClientSecret: "roster-secret", RedirectURL: portalURL + "/admin/oidc/callback",
		Scopes: []string{"openid", "email", "profile"}, OperatorEmails: []string{"op@roster.example.com"}}
	if setup.config != nil {
		setup.config(&cfg)
	}
	e := newEnvOn(t, st, func(d *Deps) {
		d.OIDC = cfg
		d.PublicURL = portalURL
	})
	// Tokens carry the provider's real time; the portal's clock must agree.
	e.clock.t = time.Now()
	portal.Config.Handler = e.h
	portal.Start()
	t.Cleanup(portal.Close)

	e.user(e.acme.ID, "alice@acme.test", true)
	e.user(e.globex.ID, "bob@globex.test", true)
	e.user(e.acme.ID, "nobody@acme.test", false)
	return &oidcEnv{env: e, op: opSrv, portal: portal}
}

// browser is a cookie-keeping client that stops before the portal's
// callback, so a test can look at (or tamper with) it.
type browser struct {
	t   *testing.T
	c   *http.Client
	jar *cookiejar.Jar
	o   *oidcEnv
}

func (o *oidcEnv) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, jar: jar, o: o}
	b.c = &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Path == "/admin/oidc/callback" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	if req.Method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func (b *browser) get(u string) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	return b.do(req)
}

var authRequestID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// signInAt starts a sign-in and logs in at the provider's login page as
// user, returning the callback URL the provider sent the browser to.
func (b *browser) signInAt(user string) *url.URL {
	b.t.Helper()
	res, body := b.get(b.o.portal.URL + "/admin/login/start?next=" + url.QueryEscape("/admin/"))
	if res.StatusCode != 200 || !strings.Contains(body, `name="password"`) {
		b.t.Fatalf("provider login page: %d\n%s", res.StatusCode, body)
	}
	m := authRequestID.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no auth request id in the login page:\n%s", body)
	}
	res, body = b.post(b.o.op.URL+"/login/username", url.Values{"username": {user}, "password": {opPassword}, "id": {m[1]}})
	if res.StatusCode != http.StatusFound || !strings.Contains(res.Header.Get("Location"), "/admin/oidc/callback") {
		b.t.Fatalf("provider login: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
	cb, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return cb
}

// callback delivers the browser to the callback URL and follows the
// portal's redirects.
func (b *browser) callback(cb *url.URL) (*http.Response, string) {
	b.t.Helper()
	return b.get(cb.String())
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.o.portal.URL + "/admin/")
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (b *browser) setCookie(c *http.Cookie) {
	u, _ := url.Parse(b.o.portal.URL + "/admin/")
	c.Path = "/admin"
	b.jar.SetCookies(u, []*http.Cookie{c})
}

// signIn runs the whole flow and returns the page the browser ends on.
func (b *browser) signIn(user string) (*http.Response, string) {
	b.t.Helper()
	return b.callback(b.signInAt(user))
}

func TestOIDCSignIn(t *testing.T) {
	o := newOIDCEnv(t)

	t.Run("operator", func(t *testing.T) {
		b := o.browser(t)
		res, body := b.signIn("operator")
		if res.StatusCode != 200 || res.Request.URL.Path != "/admin/op/tenants" || !strings.Contains(body, "Tenants") {
			t.Fatalf("operator lands on %s with %d:\n%s", res.Request.URL, res.StatusCode, body)
		}
		if strings.Contains(body, "OIDC is not configured") {
			t.Errorf("banner shown although OIDC is configured")
		}
		// Operators see every tenant.
		for _, tn := range []*store.Tenant{o.acme, o.globex} {
			if res, _ := b.get(o.portal.URL + "/admin/t/" + tn.ID + "/users"); res.StatusCode != 200 {
				t.Errorf("operator on %s: %d", tn.Name, res.StatusCode)
			}
		}
		// The session is kept in the store, under the hash of the cookie.
		c := b.cookie(auth.PortalCookie)
		if c == nil {
			t.Fatal("no session cookie")
		}
		s, err := o.st.GetSession(o.ctx, auth.HashSecret(c.Value))
		if err != nil || s.Role != store.RoleOperator || s.IDToken == "" || s.Email != "op@roster.example.com" {
			t.Fatalf("stored session: %+v %v", s, err)
		}
		if b.cookie(auth.LoginCookie) != nil {
			t.Errorf("sign-in cookie left behind")
		}
		// Sign-out ends the session here and at the provider.
		res, _ = b.post(o.portal.URL+"/admin/logout", url.Values{})
		if res.Request.URL.Host != strings.TrimPrefix(o.op.URL, "http://") || !strings.Contains(res.Request.URL.String(), "logged-out") {
			t.Errorf("logout ended at %s, want the provider's end-session page", res.Request.URL)
		}
		var logoutURL *url.URL
		for r := res.Request; r != nil; r = r.Response.Request {
			if strings.Contains(r.URL.Path, "end_session") {
				logoutURL = r.URL
			}
			if r.Response == nil {
				break
			}
		}
		if logoutURL == nil || logoutURL.Query().Get("id_token_hint") == "" || logoutURL.Query().Get("client_id") != "roster" {
			t.Errorf("RP-initiated logout without id_token_hint: %v", logoutURL)
		}
		if _, err := o.st.GetSession(o.ctx, auth.HashSecret(c.Value)); err == nil {
			t.Errorf("session still stored after logout")
		}
	})

	t.Run("tenant admin", func(t *testing.T) {
		b := o.browser(t)
		res, body := b.signIn("alice")
		if res.StatusCode != 200 || res.Request.URL.Path != "/admin/t/"+o.acme.ID+"/users" {
			t.Fatalf("tenant admin lands on %s with %d:\n%s", res.Request.URL, res.StatusCode, body)
		}
		if strings.Contains(body, "Platform") || strings.Contains(body, "tenant-switch") {
			t.Errorf("tenant admin sees operator menus")
		}
	})

	t.Run("not an admin", func(t *testing.T) {
		b := o.browser(t)
		res, body := b.signIn("nobody")
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "You are not an administrator in Roster") || !strings.Contains(body, "nobody@acme.test") {
			t.Fatalf("non-admin: %d\n%s", res.StatusCode, body)
		}
		if b.cookie(auth.PortalCookie) != nil {
			t.Errorf("non-admin got a session")
		}
	})

	t.Run("unverified e-mail does not match", func(t *testing.T) {
		b := o.browser(t)
		res, _ := b.signIn("mallory")
		if res.StatusCode != http.StatusForbidden || b.cookie(auth.PortalCookie) != nil {
			t.Fatalf("unverified e-mail of a tenant admin: %d, session %v", res.StatusCode, b.cookie(auth.PortalCookie))
		}
	})

	t.Run("wrong state", func(t *testing.T) {
		b := o.browser(t)
		cb := b.signInAt("alice")
		q := cb.Query()
		q.Set("state", "forged")
		cb.RawQuery = q.Encode()
		res, body := b.callback(cb)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not started in this browser") {
			t.Fatalf("wrong state: %d\n%s", res.StatusCode, body)
		}
		if b.cookie(auth.PortalCookie) != nil {
			t.Errorf("wrong state gave a session")
		}
	})

	t.Run("callback without the sign-in cookie", func(t *testing.T) {
		b := o.browser(t)
		cb := b.signInAt("alice")
		other := o.browser(t) // a different browser: login CSRF
		res, _ := other.callback(cb)
		if res.StatusCode != http.StatusBadRequest || other.cookie(auth.PortalCookie) != nil {
			t.Fatalf("callback in another browser: %d", res.StatusCode)
		}
	})

	t.Run("replayed code", func(t *testing.T) {
		b := o.browser(t)
		cb := b.signInAt("alice")
		login := *b.cookie(auth.LoginCookie)
		if res, _ := b.callback(cb); res.StatusCode != 200 {
			t.Fatalf("first use: %d", res.StatusCode)
		}
		// Same browser, same callback: the sign-in cookie is spent.
		res, body := b.callback(cb)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "already completed") {
			t.Errorf("replay: %d\n%s", res.StatusCode, body)
		}
		// Even with the cookie put back, the provider refuses the code.
		attacker := o.browser(t)
		attacker.setCookie(&login)
		res, body = attacker.callback(cb)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "refused to complete the sign-in") {
			t.Errorf("replay with the cookie: %d\n%s", res.StatusCode, body)
		}
		if attacker.cookie(auth.PortalCookie) != nil {
			t.Errorf("replayed code gave a session")
		}
	})

	t.Run("wrong nonce", func(t *testing.T) {
		b := o.browser(t)
		cb := b.signInAt("alice")
		c := b.cookie(auth.LoginCookie)
		raw, err := base64.RawURLEncoding.DecodeString(c.Value)
		if err != nil {
			t.Fatal(err)
		}
		var ls map[string]any
		must(t, json.Unmarshal(raw, &ls))
		ls["n"] = "another-nonce"
		raw, _ = json.Marshal(ls)
		b.setCookie(&http.Cookie{Name: auth.LoginCookie, Value: base64.RawURLEncoding.EncodeToString(raw)})
		res, body := b.callback(cb)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "could not be verified") {
			t.Fatalf("wrong nonce: %d\n%s", res.StatusCode, body)
		}
		if b.cookie(auth.PortalCookie) != nil {
			t.Errorf("wrong nonce gave a session")
		}
		if !strings.Contains(o.log.String(), "nonce does not match") {
			t.Errorf("log does not say the nonce was wrong")
		}
	})

	t.Run("expired session", func(t *testing.T) {
		b := o.browser(t)
		if res, _ := b.signIn("alice"); res.StatusCode != 200 {
			t.Fatalf("sign-in: %d", res.StatusCode)
		}
		o.clock.Add(auth.DefaultIdleTimeout + time.Minute)
		defer o.clock.Add(-(auth.DefaultIdleTimeout + time.Minute))
		res, body := b.get(o.portal.URL + "/admin/t/" + o.acme.ID + "/users")
		if res.Request.URL.Path != "/admin/login" || !strings.Contains(body, "Sign in with your identity provider") {
			t.Fatalf("expired session ends on %s:\n%s", res.Request.URL, body)
		}
	})
}

// TestTenantAdminCannotReachOtherTenant signs Alice (Acme) in through the
// provider and has her ask for every page and action of Globex: each is
// 403 and Globex is unchanged.
func TestTenantAdminCannotReachOtherTenant(t *testing.T) {
	o := newOIDCEnv(t)
	b := o.browser(t)
	if res, _ := b.signIn("alice"); res.StatusCode != 200 {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	g := o.globex
	victim, _ := o.st.GetUserByUserName(o.ctx, g.ID, "bob@globex.test")
	must(t, o.eng.Assign(o.ctx, g.ID, o.poolB.ID, victim.ID, "test"))
	grant, err := o.eng.DeviceLogin(o.ctx, victim, "counter", "DEV-GLOBEX", "Bob's phone", time.Hour)
	must(t, err)
	devB := grant.Device
	grp := &store.Group{TenantID: g.ID, DisplayName: "Globex staff"}
	must(t, o.st.CreateGroup(o.ctx, grp))
	_, tokB, err := auth.MintToken(o.ctx, o.st, g.ID, "globex okta", time.Now())
	must(t, err)
	before := snapshot(t, o.env, g.ID)

	base := o.portal.URL + "/admin/t/" + g.ID
	gets := []string{"/", "/users", "/users/new", "/users/" + victim.ID, "/users/" + victim.ID + "/edit", "/users/" + victim.ID + "/note",
		"/groups", "/groups/" + grp.ID, "/licenses", "/devices", "/devices/move?pool=" + o.poolB.ID + "&from=" + victim.ID,
		"/tokens", "/connect", "/connect/requests", "/audit", "/settings", "/devices/" + devB.ID + "/move"}
	for _, p := range gets {
		res, body := b.get(base + p)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "belongs to another account") {
			t.Errorf("GET %s: %d, want 403", p, res.StatusCode)
		}
		if strings.Contains(body, "bob@globex.test") || strings.Contains(body, "Globex staff") {
			t.Errorf("GET %s leaks Globex data", p)
		}
	}
	posts := map[string]url.Values{
		"/users":                            {"firstName": {"E"}, "lastName": {"V"}, "userName": {"eve@globex.test"}},
		"/users/" + victim.ID:               {"firstName": {"X"}, "lastName": {"Y"}, "userName": {"bob@globex.test"}, "accountAdmin": {"on"}},
		"/users/" + victim.ID + "/active":   {"active": {"false"}, "confirm": {"yes"}},
		"/users/" + victim.ID + "/invite":   {},
		"/users/" + victim.ID + "/reset":    {},
		"/users/" + victim.ID + "/seats":    {"pool": {o.poolB.ID}, "action": {"unassign"}},
		"/users/" + victim.ID + "/note":     {"note": {"owned"}},
		"/users/" + victim.ID + "/inactive": {},
		"/users/bulk":                       {"action": {"remove"}, "confirm": {"yes"}, "id": {victim.ID}},
		"/groups/" + grp.ID + "/rules":      {"pool": {o.poolB.ID}},
		"/reprocess":                        {},
		"/pools/" + o.poolB.ID + "/request": {"seats": {"100"}},
		"/pools/" + o.poolB.ID + "/resize":  {"total": {"1000"}},
		"/devices/license":                  {"action": {"remove"}, "user": {victim.ID}, "pool": {o.poolB.ID}},
		"/devices/move":                     {"pool": {o.poolB.ID}, "from": {victim.ID}, "toUserName": {"bob@globex.test"}},
		"/devices/" + devB.ID + "/move":     {"toUserName": {"alice@acme.test"}},
		"/devices/" + devB.ID + "/state":    {"action": {"block"}},
		"/tokens":                           {"name": {"stolen"}},
		"/tokens/" + tokB.ID + "/revoke":    {},
		"/settings":                         {"name": {"Pwned"}},
	}
	for p, form := range posts {
		res, _ := b.post(base+p, form)
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s: %d, want 403", p, res.StatusCode)
		}
	}
	// Operator pages too.
	for _, p := range []string{"/admin/op/tenants", "/admin/op/products", "/admin/op/requests", "/admin/op/tenants/" + g.ID + "/pools"} {
		if res, _ := b.get(o.portal.URL + p); res.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s: %d, want 403", p, res.StatusCode)
		}
	}
	for _, p := range []string{"/admin/op/tenants/" + g.ID, "/admin/op/tenants/" + g.ID + "/pools/" + o.poolB.ID} {
		if res, _ := b.post(o.portal.URL+p, url.Values{"action": {"suspend"}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s: %d, want 403", p, res.StatusCode)
		}
	}
	if after := snapshot(t, o.env, g.ID); after != before {
		t.Errorf("Globex changed:\nbefore %s\nafter  %s", before, after)
	}
	// Her own tenant still works.
	if res, _ := b.get(o.portal.URL + "/admin/t/" + o.acme.ID + "/licenses"); res.StatusCode != 200 {
		t.Errorf("own tenant: %d", res.StatusCode)
	}
}

// snapshot summarises what a tenant's admin could change.
func snapshot(t *testing.T, e *env, tenantID string) string {
	t.Helper()
	tn, _ := e.st.GetTenant(e.ctx, tenantID)
	users, _ := e.st.ListUsers(e.ctx, tenantID, store.Query{Limit: 1000})
	pools, _ := e.st.ListPools(e.ctx, tenantID)
	rules, _ := e.st.ListRules(e.ctx, tenantID)
	toks, _ := e.st.ListTokens(e.ctx, tenantID)
	invs := 0
	var b strings.Builder
	b.WriteString(tn.Name + "|" + itoa(tn.Version) + "|")
	for _, u := range users.Users {
		l, _ := e.st.ListInvitations(e.ctx, tenantID, u.ID)
		invs += len(l)
		b.WriteString(u.UserName + ":" + itoa(u.Version) + ",")
	}
	for _, p := range pools {
		b.WriteString(p.ID + ":" + itoa(int64(p.Total)) + "/" + itoa(int64(p.Assigned)) + ",")
	}
	reqs, _ := e.st.ListSeatRequests(e.ctx, tenantID, "")
	devs, _ := e.st.ListDevices(e.ctx, tenantID, "")
	for _, d := range devs {
		b.WriteString(d.DeviceCode + ":" + d.UserID + ":" + d.State + ",")
	}
	for _, tk := range toks {
		b.WriteString(tk.Name + ":" + tk.RevokedAt.String() + ",")
	}
	b.WriteString("|rules=" + itoa(int64(len(rules))) + "|invitations=" + itoa(int64(invs)) + "|requests=" + itoa(int64(len(reqs))))
	return b.String()
}

// TestAdminOfSeveralTenants signs in Carol, account admin of Acme and of
// Globex under one verified e-mail: she chooses among exactly those two,
// switches between them in the header, and still gets 403 from a third
// tenant and from one whose rights she loses.
func TestAdminOfSeveralTenants(t *testing.T) {
	o := newOIDCEnvWith(t, oidcSetup{users: opUsers{"carol": opUser("carol", "carol@example.test", true)}})
	o.user(o.acme.ID, "carol@example.test", true)
	inGlobex := o.user(o.globex.ID, "carol@example.test", true)
	initech := &store.Tenant{Name: "Initech"}
	must(t, o.st.CreateTenant(o.ctx, initech))
	o.user(initech.ID, "carol@example.test", false) // a user there, not an admin

	b := o.browser(t)
	res, body := b.signIn("carol")
	if res.StatusCode != 200 || res.Request.URL.Path != "/admin/accounts" {
		t.Fatalf("Carol lands on %s with %d, want the account chooser:\n%s", res.Request.URL, res.StatusCode, body)
	}
	for _, want := range []string{">Acme</a>", ">Globex</a>"} {
		if !strings.Contains(body, want) {
			t.Errorf("chooser lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "Initech") {
		t.Errorf("chooser offers Initech, where Carol is not an admin")
	}

	res, body = b.get(o.portal.URL + "/admin/switch?tenant=" + o.globex.ID)
	if res.StatusCode != 200 || res.Request.URL.Path != "/admin/t/"+o.globex.ID+"/users" || !strings.Contains(body, "bob@globex.test") {
		t.Fatalf("choosing Globex: %s %d", res.Request.URL, res.StatusCode)
	}
	if !strings.Contains(body, `id="tenant-switch"`) || !strings.Contains(body, `value="`+o.acme.ID+`"`) || strings.Contains(body, `value="`+initech.ID+`"`) {
		t.Errorf("header switcher should offer Acme and Globex only:\n%s", body)
	}
	if strings.Contains(body, "Platform") {
		t.Errorf("an admin of several tenants sees operator menus")
	}
	// The portal's home remembers the choice.
	if res, _ := b.get(o.portal.URL + "/admin/"); res.Request.URL.Path != "/admin/t/"+o.globex.ID+"/users" {
		t.Errorf("home after choosing Globex: %s", res.Request.URL)
	}
	// Acts in Globex work.
	res, _ = b.post(o.portal.URL+"/admin/t/"+o.globex.ID+"/settings", url.Values{"name": {"Globex Corp"}})
	if g, _ := o.st.GetTenant(o.ctx, o.globex.ID); res.StatusCode != 200 || g.Name != "Globex Corp" {
		t.Errorf("renaming Globex as its admin: %d, name %q", res.StatusCode, g.Name)
	}
	if res, _ := b.get(o.portal.URL + "/admin/t/" + o.acme.ID + "/users"); res.StatusCode != 200 {
		t.Errorf("Acme users: %d", res.StatusCode)
	}

	// Initech is not hers, by URL or by the switcher.
	for _, p := range []string{"/admin/t/" + initech.ID + "/users", "/admin/switch?tenant=" + initech.ID} {
		if res, body := b.get(o.portal.URL + p); res.StatusCode != http.StatusForbidden || strings.Contains(body, "carol@example.test") {
			t.Errorf("GET %s: %d, want 403", p, res.StatusCode)
		}
	}
	before := snapshot(t, o.env, initech.ID)
	if res, _ := b.post(o.portal.URL+"/admin/t/"+initech.ID+"/settings", url.Values{"name": {"Mine"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("POST Initech settings: %d, want 403", res.StatusCode)
	}
	if after := snapshot(t, o.env, initech.ID); after != before {
		t.Errorf("Initech changed:\nbefore %s\nafter  %s", before, after)
	}

	// Losing her rights in Globex ends her access there on the next
	// request; Acme stays hers.
	inGlobex, _ = o.st.GetUser(o.ctx, o.globex.ID, inGlobex.ID)
	inGlobex.AccountAdmin = false
	must(t, o.st.UpdateUser(o.ctx, inGlobex))
	if res, _ := b.get(o.portal.URL + "/admin/t/" + o.globex.ID + "/users"); res.StatusCode != http.StatusForbidden {
		t.Errorf("Globex after losing admin rights there: %d, want 403", res.StatusCode)
	}
	if res, _ := b.get(o.portal.URL + "/admin/t/" + o.acme.ID + "/users"); res.StatusCode != 200 {
		t.Errorf("Acme after losing rights in Globex: %d", res.StatusCode)
	}
}
