package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/roster-scim/roster/api"
	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

type env struct {
	t    *testing.T
	srv  *httptest.Server
	st   store.Store
	log  *strings.Builder
	pool *store.Pool
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tn := &store.Tenant{Name: "acme"}
	mustDo(t, st.CreateTenant(ctx, tn))
	prod := &store.Product{Code: "counter", Name: "Counter"}
	mustDo(t, st.CreateProduct(ctx, prod))
	pool := &store.Pool{TenantID: tn.ID, ProductID: prod.ID, Total: 1, Policy: store.PolicyDeny, AutoAssign: true, MaxDevicesPerSeat: 1}
	mustDo(t, st.CreatePool(ctx, pool))
	hash, err := auth.HashPassword("s3cret-pass")
	mustDo(t, err)
	for _, name := range []string{"ada@acme.io", "bob@acme.io"} {
		mustDo(t, st.CreateUser(ctx, &store.User{TenantID: tn.ID, UserName: name, Active: true, PasswordHash: hash}))
	}
	var logs strings.Builder
	h := api.New(api.Deps{Store: st, Engine: licensing.New(st), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, st: st, log: &logs, pool: pool}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type reply struct {
	status int
	body   map[string]any
	raw    string
}

func (e *env) post(path, body string) reply {
	e.t.Helper()
	resp, err := http.Post(e.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return reply{resp.StatusCode, m, string(b)}
}

func login(user, pw, device string) string {
	return `{"tenant":"acme","userName":"` + user + `","password":"` + pw + `","deviceCode":"` + device + `","deviceName":"Phone","product":"counter"}`
}

func TestDeviceLoginEndToEnd(t *testing.T) {
	e := newEnv(t)
	r := e.post("/api/v1/devices/login", login("ADA@acme.io", "s3cret-pass", "DEV-1"))
	if r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	lease, _ := r.body["lease"].(string)

	resp, err := http.Get(e.srv.URL + "/.well-known/jwks.json?tenant=acme")
	mustDo(t, err)
	var keys jose.JSONWebKeySet
	mustDo(t, json.NewDecoder(resp.Body).Decode(&keys))
	resp.Body.Close()
	c, err := licensing.VerifyLease(lease, &keys, time.Now())
	if err != nil || c.Device != "DEV-1" || c.Product != "counter" {
		t.Fatalf("lease from the API does not verify with the published JWKS: %+v %v", c, err)
	}

	r = e.post("/api/v1/devices/renew", `{"tenant":"acme","lease":"`+lease+`"}`)
	if r.status != http.StatusOK || r.body["lease"] == lease {
		t.Errorf("renew: %d %s", r.status, r.raw)
	}
}

func TestDeviceLoginErrors(t *testing.T) {
	e := newEnv(t)
	if r := e.post("/api/v1/devices/login", login("ada@acme.io", "s3cret-pass", "DEV-1")); r.status != 200 {
		t.Fatalf("setup login: %d %s", r.status, r.raw)
	}
	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"wrong password", login("ada@acme.io", "nope", "DEV-1"), 401, "bad_credentials"},
		{"unknown user looks like wrong password", login("zed@acme.io", "nope", "DEV-1"), 401, "bad_credentials"},
		{"unknown tenant", strings.Replace(login("ada@acme.io", "s3cret-pass", "D"), `"acme"`, `"other"`, 1), 404, "not_found"},
		{"unknown product", strings.Replace(login("ada@acme.io", "s3cret-pass", "D"), `"counter"`, `"nope"`, 1), 404, "not_found"},
		{"too many devices", login("ada@acme.io", "s3cret-pass", "DEV-2"), 409, "device_limit"},
		{"pool full for another user", login("bob@acme.io", "s3cret-pass", "DEV-9"), 409, "no_seats"},
		{"missing fields", `{"tenant":"acme"}`, 400, "invalid_request"},
		{"not JSON", `{{{`, 400, "invalid_request"},
		{"unknown field", `{"tenant":"acme","evil":1}`, 400, "invalid_request"},
		{"oversize body", `{"tenant":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "too_large"},
		{"forged lease", `{"tenant":"acme","lease":"eyJhbGciOiJFZERTQSJ9.e30.AAAA"}`, 401, "invalid_lease"},
	}
	for _, tt := range tests {
		path := "/api/v1/devices/login"
		if strings.Contains(tt.body, `"lease"`) {
			path = "/api/v1/devices/renew"
		}
		r := e.post(path, tt.body)
		if r.status != tt.status || r.body["error"] != tt.code || r.body["message"] == "" {
			t.Errorf("%s: got %d %s, want %d with code %q and a message", tt.name, r.status, r.raw, tt.status, tt.code)
		}
	}
	// Bob's refused sign-in changed nothing: the one seat is still Ada's.
	p, err := e.st.GetPool(context.Background(), e.pool.TenantID, e.pool.ID)
	mustDo(t, err)
	if p.Assigned != 1 {
		t.Errorf("after refusals assigned = %d, want 1", p.Assigned)
	}
	if strings.Contains(e.log.String(), "level=ERROR") {
		t.Errorf("a client error was logged as an internal error:\n%s", e.log.String())
	}
}
