package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newBootstrap(t *testing.T, fs BootstrapInvitations, clk *clock) *Bootstrap {
	t.Helper()
	sessions, err := NewSessions([]byte(strings.Repeat("k", 32)), time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	sessions.now = clk.Now
	return &Bootstrap{Invitations: fs, TenantID: "default", Sessions: sessions, Logger: quietLogger(), Now: clk.Now}
}

func get(b http.Handler, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	return rec
}

func post(b http.Handler, secret string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", BootstrapPath, strings.NewReader(url.Values{"token": {secret}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, req)
	return rec
}

// linkStores are the places bootstrap links can live.
func linkStores(t *testing.T) map[string]BootstrapInvitations {
	return map[string]BootstrapInvitations{
		"store": newFakeStore(),
		"file":  NewLinkFile(filepath.Join(t.TempDir(), "bootstrap.json")),
	}
}

func TestBootstrapLinkWorksOnce(t *testing.T) {
	for name, links := range linkStores(t) {
		t.Run(name, func(t *testing.T) { testBootstrapLinkWorksOnce(t, links) })
	}
}

func testBootstrapLinkWorksOnce(t *testing.T, links BootstrapInvitations) {
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	b := newBootstrap(t, links, clk)
	secret, err := b.NewLink(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	link := BootstrapURL("http://127.0.0.1:8080/", secret)
	u, _ := url.Parse(link)
	if u.Path != "/admin/bootstrap" || u.Query().Get("token") != secret {
		t.Fatalf("link %q: want /admin/bootstrap?token=<secret>", link)
	}
	if f, ok := links.(*LinkFile); ok {
		data, _ := os.ReadFile(f.path)
		if strings.Contains(string(data), secret) || !strings.Contains(string(data), HashSecret(secret)) {
			t.Errorf("link file holds %s, want only the hash of the secret", data)
		}
	}

	// Opening the link (or a preview bot fetching it) only shows a button.
	for range 2 {
		rec := get(b, u.RequestURI())
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "<form method=\"post\"") {
			t.Fatalf("GET link: got %d %s, want 200 with a confirmation form", rec.Code, rec.Body)
		}
		if rec.Header().Get("Referrer-Policy") != "no-referrer" || rec.Header().Get("Set-Cookie") != "" {
			t.Errorf("GET link: headers %v, want no-referrer and no cookie", rec.Header())
		}
	}

	rec := post(b, secret)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/admin" {
		t.Fatalf("POST link: got %d Location %q, want 303 to /admin", rec.Code, rec.Header().Get("Location"))
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != SessionCookie || !cookies[0].HttpOnly {
		t.Fatalf("POST link: cookies %v, want one HttpOnly %s", cookies, SessionCookie)
	}
	req := httptest.NewRequest("GET", "/admin", nil)
	req.AddCookie(cookies[0])
	s, ok := b.Sessions.Read(req)
	if !ok || s.Role != RoleOperator {
		t.Fatalf("session from the cookie: %+v %v, want an operator", s, ok)
	}

	// Spent.
	if rec := post(b, secret); rec.Code != http.StatusGone || rec.Header().Get("Set-Cookie") != "" {
		t.Errorf("second use: got %d, want 410 and no cookie", rec.Code)
	}
	if rec := get(b, u.RequestURI()); rec.Code != http.StatusGone {
		t.Errorf("GET after use: got %d, want 410", rec.Code)
	}
}

func TestBootstrapLinkRefused(t *testing.T) {
	for name, links := range linkStores(t) {
		t.Run(name, func(t *testing.T) { testBootstrapLinkRefused(t, links) })
	}
}

func testBootstrapLinkRefused(t *testing.T, links BootstrapInvitations) {
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	b := newBootstrap(t, links, clk)
	old, _ := b.NewLink(context.Background())
	current, _ := b.NewLink(context.Background())

	tests := []struct {
		name   string
		secret string
		after  time.Duration
		status int
	}{
		{"replaced by a newer link", old, 0, http.StatusGone},
		{"garbage", "hello", 0, http.StatusGone},
		{"scim token is not a link", TokenPrefix + strings.Repeat("A", 43), 0, http.StatusGone},
		{"expired", current, DefaultBootstrapTTL + time.Second, http.StatusGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.Add(tt.after)
			if rec := post(b, tt.secret); rec.Code != tt.status || rec.Header().Get("Set-Cookie") != "" {
				t.Errorf("POST %q: got %d, want %d and no cookie", tt.secret, rec.Code, tt.status)
			}
		})
	}

	fs, ok := links.(*fakeStore)
	if !ok {
		return
	}
	fs.fail = errStoreDown
	if rec := post(b, current); rec.Code != 500 || strings.Contains(rec.Body.String(), "locked") {
		t.Errorf("store down: got %d %s, want 500 without the store's error", rec.Code, rec.Body)
	}
}

func TestBootstrapLinkRace(t *testing.T) {
	for name, links := range linkStores(t) {
		t.Run(name, func(t *testing.T) {
			b := newBootstrap(t, links, &clock{t: time.Now()})
			secret, _ := b.NewLink(context.Background())
			var wg sync.WaitGroup
			var mu sync.Mutex
			codes := map[int]int{}
			for range 8 {
				wg.Go(func() {
					rec := post(b, secret)
					mu.Lock()
					codes[rec.Code]++
					mu.Unlock()
				})
			}
			wg.Wait()
			if codes[http.StatusSeeOther] != 1 || codes[http.StatusGone] != 7 {
				t.Errorf("8 tabs posting one link: %v, want one 303 and seven 410", codes)
			}
		})
	}
}

func TestSessionsRejectTampering(t *testing.T) {
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	m, _ := NewSessions([]byte(strings.Repeat("k", 32)), time.Hour, true)
	m.now = clk.Now
	other, _ := NewSessions([]byte(strings.Repeat("x", 32)), time.Hour, true)
	other.now = clk.Now

	rec := httptest.NewRecorder()
	m.Issue(rec, Session{Subject: "op", Role: RoleOperator})
	c := rec.Result().Cookies()[0]
	if !c.Secure || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie %+v: want Secure and SameSite=Lax", c)
	}
	read := func(m *Sessions, value string) bool {
		req := httptest.NewRequest("GET", "/admin", nil)
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: value})
		_, ok := m.Read(req)
		return ok
	}
	if !read(m, c.Value) {
		t.Fatal("fresh session not accepted")
	}
	payload, sig, _ := strings.Cut(c.Value, ".")
	if read(m, payload+"x."+sig) || read(m, payload+"."+sig[1:]) || read(m, "") || read(other, c.Value) {
		t.Error("a tampered or foreign cookie was accepted")
	}
	clk.Add(time.Hour + time.Second)
	if read(m, c.Value) {
		t.Error("expired session accepted")
	}
	if _, err := NewSessions([]byte("short"), time.Hour, false); err == nil {
		t.Error("short key accepted")
	}
}
