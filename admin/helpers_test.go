package admin

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// testClock is a settable clock shared by the portal and the engine.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a portal over a real SQLite store with two tenants, acme and
// globex, each with a pool of one product.
type env struct {
	t      testing.TB
	ctx    context.Context
	st     store.Store
	clock  *testClock
	eng    *licensing.Engine
	h      http.Handler
	srv    *server
	log    *strings.Builder
	acme   *store.Tenant
	globex *store.Tenant
	prod   *store.Product
	poolA  *store.Pool
	poolB  *store.Pool
}

type envOption func(*Deps)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, st, opts...)
}

func newEnvOn(t testing.TB, st store.Store, opts ...envOption) *env {
	t.Helper()
	e := &env{ctx: context.Background(), st: st, clock: &testClock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}, log: &strings.Builder{}}
	e.t = t
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: e.log}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.eng = licensing.New(st, licensing.WithClock(e.clock.Now), licensing.WithLogger(logger))
	d := Deps{Store: st, Engine: e.eng, PublicURL: "https://roster.example.com", Logger: logger, Now: e.clock.Now}
	for _, o := range opts {
		o(&d)
	}
	e.h = New(d)
	e.srv = e.h.(*server)

	must(t, st.CreateTenant(e.ctx, &store.Tenant{Name: "Acme"}))
	must(t, st.CreateTenant(e.ctx, &store.Tenant{Name: "Globex"}))
	e.acme, _ = st.GetTenantByName(e.ctx, "Acme")
	e.globex, _ = st.GetTenantByName(e.ctx, "Globex")
	e.prod = &store.Product{Code: "counter", Name: "Counter Pro"}
	must(t, st.CreateProduct(e.ctx, e.prod))
	e.poolA = &store.Pool{TenantID: e.acme.ID, ProductID: e.prod.ID, Total: 2, Policy: store.PolicyDeny, MaxDevicesPerSeat: 2,
		EndsAt: time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC)}
	must(t, st.CreatePool(e.ctx, e.poolA))
	e.poolB = &store.Pool{TenantID: e.globex.ID, ProductID: e.prod.ID, Total: 5, Policy: store.PolicyDeny}
	must(t, st.CreatePool(e.ctx, e.poolB))
	return e
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// user creates an active user of tenantID.
func (e *env) user(tenantID, userName string, admin bool) *store.User {
	u := &store.User{TenantID: tenantID, UserName: userName, Active: true, AccountAdmin: admin, Activation: store.ActivationPending,
		Name:   store.Name{GivenName: strings.Split(userName, "@")[0], FamilyName: "Tester"},
		Emails: []store.MultiValue{{Value: userName, Type: "work", Primary: true}}}
	must(e.t, e.st.CreateUser(e.ctx, u))
	return u
}

// session signs a browser in directly in the store and returns its cookie.
func (e *env) session(role, tenantID, email string) *http.Cookie {
	secret := randomSecret()
	now := e.clock.Now()
	s := &store.Session{Hash: auth.HashSecret(secret), Subject: "sub-" + email, Email: email, Name: email, Role: role, TenantID: tenantID,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour)}
	must(e.t, e.st.CreateSession(e.ctx, s))
	return &http.Cookie{Name: auth.PortalCookie, Value: secret}
}

func (e *env) operator() *http.Cookie {
	return e.session(store.RoleOperator, "", "op@roster.example.com")
}

// do serves one request; form != nil makes it a POST.
func (e *env) do(c *http.Cookie, method, path string, form url.Values) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, "https://roster.example.com"+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	// What a browser sends with a same-origin form.
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if c != nil {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e *env) get(c *http.Cookie, path string) *httptest.ResponseRecorder {
	return e.do(c, http.MethodGet, path, nil)
}

func (e *env) post(c *http.Cookie, path string, form url.Values) *httptest.ResponseRecorder {
	if form == nil {
		form = url.Values{}
	}
	return e.do(c, http.MethodPost, path, form)
}

// flash is the message the response leaves for the next page.
func flashOf(rec *httptest.ResponseRecorder) string {
	for _, c := range rec.Result().Cookies() {
		if c.Name == flashCookie && c.Value != "" {
			if f := decodeFlash(c.Value); f != nil {
				return f.Kind + ": " + f.Text
			}
		}
	}
	return ""
}

func wantStatus(t *testing.T, rec *httptest.ResponseRecorder, want int, what string) {
	t.Helper()
	if rec.Code != want {
		body := rec.Body.String()
		if len(body) > 600 {
			body = body[:600]
		}
		t.Fatalf("%s: got %d (Location %q, flash %q), want %d\n%s", what, rec.Code, rec.Header().Get("Location"), flashOf(rec), want, body)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// outboxTo lists the queued messages to addr, oldest first.
func (e *env) outboxTo(addr string) []*store.OutboxMessage {
	var out []*store.OutboxMessage
	for _, tn := range []string{e.acme.ID, e.globex.ID} {
		ms, err := e.st.ListOutbox(e.ctx, tn, 1000)
		must(e.t, err)
		for _, m := range ms {
			if m.To == addr {
				out = append(out, m)
			}
		}
	}
	return out
}

func subjects(ms []*store.OutboxMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Subject)
	}
	return out
}

func containsSubject(ms []*store.OutboxMessage, subject string) bool {
	return slices.Contains(subjects(ms), subject)
}

// testOIDCConfig is a provider configuration for tests that need OIDC
// configured without reaching a provider.
func testOIDCConfig(issuer string) auth.OIDCConfig {
	return auth.OIDCConfig{Issuer: issuer, ClientID: "roster", ClientSecret: "secret",
		RedirectURL: "https://roster.example.com/admin/oidc/callback", Scopes: []string{"openid", "email", "profile"},
		OperatorEmails: []string{"op@roster.example.com"}}
}
