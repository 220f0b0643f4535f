package scim

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

	"github.com/roster-scim/roster/store/sqlite"
)

const (
	testBase   = "https://roster.test/scim/v2"
	tenantA    = "tenant-a"
	tenantHdr  = "X-Test-Tenant"
	scimJSON   = "application/scim+json"
	noTenant   = "none"
	defaultTen = tenantA
)

// env is a SCIM handler over a real SQLite store in a temporary directory.
type env struct {
	t     testing.TB
	store *sqlite.Store
	h     http.Handler
	deps  Deps
}

func newEnv(t testing.TB, mod ...func(*Deps)) *env {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	deps := Deps{
		Store: st,
		Tenant: func(r *http.Request) (string, bool) {
			v := r.Header.Get(tenantHdr)
			switch v {
			case "":
				return defaultTen, true
			case noTenant:
				return "", false
			}
			return v, true
		},
		BaseURL: testBase,
	}
	for _, m := range mod {
		m(&deps)
	}
	return &env{t: t, store: st, h: New(deps), deps: deps}
}

type resp struct {
	code   int
	header http.Header
	body   string
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// do sends a request; headers are "Name: value" strings.
func (e *env) do(method, path, body string, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequestWithContext(context.Background(), method, testBase+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", scimJSON)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return resp{code: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, method, path, body string, headers ...string) resp {
	e.t.Helper()
	r := e.do(method, path, body, headers...)
	if r.code != want {
		e.t.Fatalf("%s %s %s\n got %d %s\nwant %d", method, path, body, r.code, r.body, want)
	}
	return r
}

// createUser posts a minimal user and returns its id.
func (e *env) createUser(userName string) string {
	e.t.Helper()
	r := e.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":`+quote(userName)+`}`)
	return r.json(e.t)["id"].(string)
}

func (e *env) createGroup(name string) string {
	e.t.Helper()
	r := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":`+quote(name)+`}`)
	return r.json(e.t)["id"].(string)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// at walks a decoded JSON value: at(m, "emails", 0, "value").
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// with returns e reporting to t (a subtest).
func (e *env) with(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}
