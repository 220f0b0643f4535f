package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// echoCaller answers 200 with the caller the middleware put in the context.
var echoCaller = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "tenant=%s token=%s", TenantID(r.Context()), TokenID(r.Context()))
})

type scimError struct {
	Schemas []string `json:"schemas"`
	Status  string   `json:"status"`
	Detail  string   `json:"detail"`
}

func do(t *testing.T, h http.Handler, authz string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest("GET", "/scim/v2/Users", nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result(), rec.Body.String()
}

func TestSCIMBearer(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	fs := newFakeStore()
	fs.addTenant("acme", false)
	fs.addTenant("globex", false)
	fs.addTenant("frozen", true)
	good, goodTok, _ := MintToken(ctx, fs, "acme", "okta", now)
	other, otherTok, _ := MintToken(ctx, fs, "globex", "entra", now)
	revoked, revokedTok, _ := MintToken(ctx, fs, "acme", "old", now)
	fs.revoke(revokedTok.ID, now)
	suspended, _, _ := MintToken(ctx, fs, "frozen", "", now)
	orphan, _, _ := MintToken(ctx, fs, "deleted-tenant", "", now)
	unknown := TokenPrefix + strings.Repeat("A", len(good)-len(TokenPrefix))

	tests := []struct {
		name      string
		authz     string
		status    int
		body      string // substring of the body (detail or echoed caller)
		challenge string // WWW-Authenticate, "" for none
	}{
		{"missing", "", 401, "authentication required", `Bearer realm="roster"`},
		{"basic scheme", "Basic dXNlcjpwYXNz", 401, "malformed bearer token", `Bearer realm="roster", error="invalid_token"`},
		{"not a roster token", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", 401, "malformed bearer token", `Bearer realm="roster", error="invalid_token"`},
		{"truncated", "Bearer " + good[:len(good)-1], 401, "malformed bearer token", `Bearer realm="roster", error="invalid_token"`},
		{"bad base64", "Bearer " + good[:len(good)-1] + "*", 401, "malformed bearer token", `Bearer realm="roster", error="invalid_token"`},
		{"no credentials", "Bearer", 401, "malformed bearer token", `Bearer realm="roster", error="invalid_token"`},
		{"unknown", "Bearer " + unknown, 401, "unknown token", `Bearer realm="roster", error="invalid_token"`},
		{"revoked", "Bearer " + revoked, 401, "token revoked", `Bearer realm="roster", error="invalid_token"`},
		{"tenant gone", "Bearer " + orphan, 401, "unknown token", `Bearer realm="roster", error="invalid_token"`},
		{"suspended tenant", "Bearer " + suspended, 403, "tenant suspended", ""},
		{"valid", "Bearer " + good, 200, "tenant=acme token=" + goodTok.ID, ""},
		{"scheme case-insensitive", "bearer  " + good, 200, "tenant=acme token=" + goodTok.ID, ""},
		{"other tenant's token", "Bearer " + other, 200, "tenant=globex token=" + otherTok.ID, ""},
	}
	for _, cache := range []time.Duration{0, DefaultCacheTTL} {
		h := SCIMBearer(fs, BearerOptions{CacheTTL: cache, Logger: quietLogger(), Now: func() time.Time { return now }})(echoCaller)
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/cache=%s", tt.name, cache), func(t *testing.T) {
				// Twice: the second answer may come from the cache and
				// must be the same.
				for range 2 {
					res, body := do(t, h, tt.authz)
					if res.StatusCode != tt.status || !strings.Contains(body, tt.body) {
						t.Fatalf("Authorization %q: got %d %s, want %d containing %q", tt.authz, res.StatusCode, body, tt.status, tt.body)
					}
					if got := res.Header.Get("WWW-Authenticate"); got != tt.challenge {
						t.Errorf("WWW-Authenticate: got %q, want %q", got, tt.challenge)
					}
					if tt.status == 200 {
						continue
					}
					if ct := res.Header.Get("Content-Type"); ct != "application/scim+json" {
						t.Errorf("Content-Type: got %q, want application/scim+json", ct)
					}
					var e scimError
					if err := json.Unmarshal([]byte(body), &e); err != nil {
						t.Fatalf("body %q is not JSON: %v", body, err)
					}
					if len(e.Schemas) != 1 || e.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || e.Status != fmt.Sprint(tt.status) {
						t.Errorf("body %q is not a SCIM error with status %d", body, tt.status)
					}
				}
			})
		}
	}
}

func TestSCIMBearerStoreFailureDoesNotLeak(t *testing.T) {
	fs := newFakeStore()
	fs.fail = errStoreDown
	h := SCIMBearer(fs, BearerOptions{Logger: quietLogger()})(echoCaller)
	res, body := do(t, h, "Bearer "+TokenPrefix+strings.Repeat("A", 43))
	if res.StatusCode != 500 || strings.Contains(body, "locked") {
		t.Fatalf("got %d %s, want 500 without the store's error text", res.StatusCode, body)
	}
}

func TestSCIMBearerCache(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	fs := newFakeStore()
	fs.addTenant("acme", false)
	secret, tok, _ := MintToken(ctx, fs, "acme", "", clk.Now())
	h := SCIMBearer(fs, BearerOptions{CacheTTL: 30 * time.Second, Logger: quietLogger(), Now: clk.Now})(echoCaller)

	for i := range 10 {
		if res, body := do(t, h, "Bearer "+secret); res.StatusCode != 200 {
			t.Fatalf("request %d: got %d %s, want 200", i, res.StatusCode, body)
		}
		clk.Add(time.Second)
	}
	if lookups, touches := fs.counts(); lookups != 1 || touches != 1 {
		t.Errorf("10 requests within the cache window: %d store lookups and %d last-used writes, want 1 and 1", lookups, touches)
	}

	// Revoked while cached: still accepted until the entry expires, then refused.
	fs.revoke(tok.ID, clk.Now())
	if res, _ := do(t, h, "Bearer "+secret); res.StatusCode != 200 {
		t.Errorf("revoked token inside the cache window: got %d, want 200 (documented delay)", res.StatusCode)
	}
	clk.Add(31 * time.Second)
	if res, body := do(t, h, "Bearer "+secret); res.StatusCode != 401 || !strings.Contains(body, "revoked") {
		t.Errorf("revoked token after the cache window: got %d %s, want 401 token revoked", res.StatusCode, body)
	}
}

func TestSCIMBearerTouchesAtMostOnceAMinute(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	fs := newFakeStore()
	fs.addTenant("acme", false)
	secret, tok, _ := MintToken(ctx, fs, "acme", "", clk.Now())
	for _, ttl := range []time.Duration{0, 30 * time.Second} {
		fs.mu.Lock()
		fs.touches = 0
		fs.tokens[tok.ID].LastUsedAt = time.Time{}
		fs.mu.Unlock()
		h := SCIMBearer(fs, BearerOptions{CacheTTL: ttl, Logger: quietLogger(), Now: clk.Now})(echoCaller)
		// One request every 5 s for 3 minutes.
		for range 36 {
			if res, _ := do(t, h, "Bearer "+secret); res.StatusCode != 200 {
				t.Fatalf("got %d, want 200", res.StatusCode)
			}
			clk.Add(5 * time.Second)
		}
		if _, touches := fs.counts(); touches < 2 || touches > 4 {
			t.Errorf("cache %s: 36 requests over 3 minutes wrote last-used %d times, want about 3", ttl, touches)
		}
		fs.mu.Lock()
		last := fs.tokens[tok.ID].LastUsedAt
		fs.mu.Unlock()
		if clk.Now().Sub(last) > 2*time.Minute {
			t.Errorf("cache %s: last used %s, now %s: stale", ttl, last, clk.Now())
		}
	}
}

func TestSCIMBearerCacheIsBounded(t *testing.T) {
	ctx := context.Background()
	fs := newFakeStore()
	fs.addTenant("acme", false)
	v := newVerifier(fs, BearerOptions{CacheTTL: time.Hour, CacheSize: 5, Logger: quietLogger()})
	for range 50 {
		secret, _, _ := MintToken(ctx, fs, "acme", "", time.Now())
		if _, err := v.verify(ctx, "Bearer "+secret); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(v.cache); n > 5 {
		t.Errorf("cache holds %d entries, want at most 5", n)
	}
}

func TestMintToken(t *testing.T) {
	fs := newFakeStore()
	secret, tok, err := MintToken(context.Background(), fs, "acme", "okta", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "rst_") || !WellFormedToken(secret) {
		t.Errorf("secret %q: want rst_ + 43 base64url characters", secret)
	}
	stored := fs.tokens[tok.ID]
	if stored.Hash != HashSecret(secret) || len(stored.Hash) != 64 || strings.Contains(stored.Hash, secret[4:]) {
		t.Errorf("stored hash %q: want the hex SHA-256 of the secret only", stored.Hash)
	}
	second, _, _ := MintToken(context.Background(), fs, "acme", "okta", time.Now())
	if second == secret {
		t.Error("two tokens minted with the same secret")
	}
	if _, _, err := MintToken(context.Background(), fs, "", "x", time.Now()); err == nil {
		t.Error("token without a tenant: got no error")
	}
}

// BenchmarkSCIMBearer measures what authentication adds to a SCIM request,
// with the cache (the default) and without (a store lookup each time, here
// an in-memory fake, so only Roster's own cost shows).
func BenchmarkSCIMBearer(b *testing.B) {
	fs := newFakeStore()
	fs.addTenant("acme", false)
	secret, _, _ := MintToken(context.Background(), fs, "acme", "", time.Now())
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, ttl := range []time.Duration{DefaultCacheTTL, 0} {
		b.Run(fmt.Sprintf("cache=%s", ttl), func(b *testing.B) {
			h := SCIMBearer(fs, BearerOptions{CacheTTL: ttl, Logger: quietLogger()})(ok)
			req := httptest.NewRequest("GET", "/scim/v2/Users", nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			rec := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(rec, req)
			}
		})
	}
}

// presetCreator stores a minted token under the hash of a secret chosen in
// advance, as if MintToken had drawn that secret: the only way to present
// a token before it exists and then mint it.
type presetCreator struct {
	*fakeStore
	secret string
}

func (p presetCreator) CreateToken(ctx context.Context, t *store.Token) error {
	c := *t
	c.Hash = HashSecret(p.secret)
	return p.fakeStore.CreateToken(ctx, &c)
}

func TestSCIMBearerRemembersRefusals(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	fs := newFakeStore()
	fs.addTenant("acme", false)
	revoked, revokedTok, _ := MintToken(ctx, fs, "acme", "old", clk.Now())
	fs.revoke(revokedTok.ID, clk.Now())
	h := SCIMBearer(fs, BearerOptions{CacheTTL: 30 * time.Second, NegativeTTL: 5 * time.Second, Logger: quietLogger(), Now: clk.Now})(echoCaller)
	unknown := TokenPrefix + strings.Repeat("B", 43)

	for _, c := range []struct{ name, secret, detail string }{{"unknown", unknown, "unknown token"}, {"revoked", revoked, "token revoked"}} {
		before, _ := fs.counts()
		for i := range 100 {
			res, body := do(t, h, "Bearer "+c.secret)
			if res.StatusCode != 401 || !strings.Contains(body, c.detail) {
				t.Fatalf("%s token, request %d: got %d %s, want 401 %s", c.name, i, res.StatusCode, body, c.detail)
			}
		}
		if after, _ := fs.counts(); after-before != 1 {
			t.Errorf("%s token: 100 requests within 5 s cost %d store lookups, want 1", c.name, after-before)
		}
		clk.Add(6 * time.Second)
		do(t, h, "Bearer "+c.secret)
		if after, _ := fs.counts(); after-before != 2 {
			t.Errorf("%s token after the negative TTL: %d store lookups in all, want 2 (asked again)", c.name, after-before)
		}
	}

	// A token created by another node under a secret already refused here
	// works once the refusal expires.
	late := TokenPrefix + strings.Repeat("C", 43)
	if res, _ := do(t, h, "Bearer "+late); res.StatusCode != 401 {
		t.Fatalf("not yet created: got %d, want 401", res.StatusCode)
	}
	fs.CreateToken(ctx, &store.Token{ID: "other-node", TenantID: "acme", Hash: HashSecret(late)})
	clk.Add(6 * time.Second)
	if res, body := do(t, h, "Bearer "+late); res.StatusCode != 200 {
		t.Errorf("token created elsewhere, after the negative TTL: got %d %s, want 200", res.StatusCode, body)
	}

	// A token minted on this node works at once, even under a secret
	// refused a moment ago.
	fresh := TokenPrefix + strings.Repeat("D", 43)
	if res, _ := do(t, h, "Bearer "+fresh); res.StatusCode != 401 {
		t.Fatalf("not yet minted: got %d, want 401", res.StatusCode)
	}
	if _, _, err := MintToken(ctx, presetCreator{fs, fresh}, "acme", "new", clk.Now()); err != nil {
		t.Fatal(err)
	}
	if res, body := do(t, h, "Bearer "+fresh); res.StatusCode != 200 {
		t.Errorf("token minted on this node right after a refusal: got %d %s, want 200", res.StatusCode, body)
	}
}

func TestSCIMBearerNegativeCacheIsBounded(t *testing.T) {
	fs := newFakeStore()
	v := newVerifier(fs, BearerOptions{CacheTTL: time.Minute, NegativeTTL: time.Hour, Logger: quietLogger()})
	for i := range 3 * negativeCacheSize {
		secret := fmt.Sprintf("%s%043d", TokenPrefix, i)
		if _, err := v.verify(context.Background(), "Bearer "+secret); err != errUnknown {
			t.Fatalf("garbage token %d: %v, want unknown", i, err)
		}
	}
	if n := len(v.neg); n > negativeCacheSize {
		t.Errorf("after %d distinct garbage tokens the negative cache holds %d entries, want at most %d", 3*negativeCacheSize, n, negativeCacheSize)
	}
	if lookups, _ := fs.counts(); lookups != 3*negativeCacheSize {
		t.Errorf("%d store lookups for %d distinct tokens, want one each", lookups, 3*negativeCacheSize)
	}
}
