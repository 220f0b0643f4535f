package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestSCIMRateLimit: past its burst a token gets 429 with Retry-After and
// a SCIM error body; another token is not held up by it.
func TestSCIMRateLimit(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfigFile(t, "scim:\n  rate_limit:\n    requests_per_second: 1\n    burst: 3\n")
	s := startServer(t, dir, "--config", cfg)
	code, out, errOut := run("token", "create", "--tenant", "default", "--data", dir, "--config", cfg)
	if code != 0 {
		t.Fatalf("token create: %d %s %s", code, out, errOut)
	}
	other := regexp.MustCompile(`rst_\S+`).FindString(out)

	for i := range 3 {
		if code, body := scimDo(t, http.DefaultClient, "GET", s.url+"/scim/v2/Users", s.token, ""); code != 200 {
			t.Fatalf("request %d within the burst: %d %s", i+1, code, body)
		}
	}
	req, _ := http.NewRequest("GET", s.url+"/scim/v2/Users", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	res, body := send(t, http.DefaultClient, req)
	var e struct {
		Schemas []string
		Status  string
		Detail  string
	}
	_ = json.Unmarshal([]byte(body), &e)
	retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
	if res.StatusCode != http.StatusTooManyRequests || err != nil || retry < 1 || retry > 2 ||
		res.Header.Get("Content-Type") != "application/scim+json" || e.Status != "429" ||
		len(e.Schemas) != 1 || e.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		t.Errorf("4th request in a burst of 3: got %d Retry-After %q %s, want 429, Retry-After 1 and a SCIM error",
			res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	if code, body := scimDo(t, http.DefaultClient, "GET", s.url+"/scim/v2/Users", other, ""); code != 200 {
		t.Errorf("another token meanwhile: %d %s, want 200", code, body)
	}
	// Unauthenticated requests are refused by authentication, not counted.
	if code, _ := scimDo(t, http.DefaultClient, "GET", s.url+"/scim/v2/Users", "", ""); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
	_, metrics := s.get(t, "/metrics", "")
	if v, _ := metricValue(t, metrics, "roster_rate_limited_total", `limit="scim_token"`); v != 1 {
		t.Errorf("roster_rate_limited_total{limit=scim_token} = %v, want 1", v)
	}
	if v, _ := metricValue(t, metrics, "roster_http_requests_total", `route="/scim/v2/Users"`, `status_class="4xx"`); v != 2 {
		t.Errorf("4xx on /scim/v2/Users = %v, want 2 (the 429 and the 401)", v)
	}
	// The bucket refills.
	time.Sleep(time.Duration(retry) * time.Second)
	if code, body := scimDo(t, http.DefaultClient, "GET", s.url+"/scim/v2/Users", s.token, ""); code != 200 {
		t.Errorf("after Retry-After: %d %s, want 200", code, body)
	}
}

// TestDeviceLoginLimit: failed sign-ins from one address are limited;
// successful ones cost nothing.
func TestDeviceLoginLimit(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfigFile(t, "devices:\n  login_limit:\n    failures_per_minute: 1\n    burst: 2\n")
	s := startServer(t, dir, "--config", cfg)
	st := openSQLiteT(t, dir)
	seedPool(t, st, "default", "counter", 10, true)
	if code, body := scimDo(t, http.DefaultClient, "POST", s.url+"/scim/v2/Users", s.token,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com","password":"correct horse 9"}`); code != 201 {
		t.Fatalf("create user: %d %s", code, body)
	}
	login := func(password string) *http.Response {
		t.Helper()
		body := `{"tenant":"default","userName":"ada@example.com","password":"` + password + `","deviceCode":"DEV-1","product":"counter"}`
		req, _ := http.NewRequest("POST", s.url+"/api/v1/devices/login", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, _ := send(t, http.DefaultClient, req)
		return res
	}
	for i := range 4 {
		if res := login("correct horse 9"); res.StatusCode != 200 {
			t.Fatalf("successful sign-in %d: %d, want 200 (successes are not limited)", i+1, res.StatusCode)
		}
	}
	for i := range 2 {
		if res := login("guess"); res.StatusCode != 401 {
			t.Fatalf("failed sign-in %d within the burst: %d, want 401", i+1, res.StatusCode)
		}
	}
	res := login("guess again")
	if retry, err := strconv.Atoi(res.Header.Get("Retry-After")); res.StatusCode != 429 || err != nil || retry < 1 {
		t.Errorf("third failure in a burst of 2: %d Retry-After %q, want 429 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// Renewals and key fetches are not sign-ins.
	if res, _ := s.get(t, "/.well-known/jwks.json?tenant=default", ""); res.StatusCode != 200 {
		t.Errorf("jwks while sign-in is limited: %d, want 200", res.StatusCode)
	}
}

func TestClientAddr(t *testing.T) {
	c := newClientAddr([]string{"10.0.0.0/8", "192.0.2.7"})
	tests := []struct {
		remote, xff, want string
	}{
		{"203.0.113.5:4000", "", "203.0.113.5"},
		{"203.0.113.5:4000", "198.51.100.1", "203.0.113.5"}, // untrusted peer: its header is ignored
		{"10.1.2.3:4000", "198.51.100.1", "198.51.100.1"},
		{"10.1.2.3:4000", "1.1.1.1, 198.51.100.1, 10.9.9.9", "198.51.100.1"}, // spoofed left part ignored
		{"192.0.2.7:80", "198.51.100.1", "198.51.100.1"},
		{"10.1.2.3:4000", "", "10.1.2.3"},
		{"10.1.2.3:4000", "garbage, 10.2.2.2", "10.2.2.2"},
		{"[::ffff:10.1.2.3]:4000", "2001:db8::1", "2001:db8::1"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := c.of(r); got != tt.want {
			t.Errorf("peer %s X-Forwarded-For %q: got %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
	}
}

// TestLoginAttemptsInFlightCount: parallel attempts cannot all get in on
// one token; a failure spends it, a success gives it back.
func TestLoginAttemptsInFlightCount(t *testing.T) {
	l := newKeyedLimiter(rate.Limit(1.0/60), 2, 100)
	now := time.Unix(1e9, 0)
	l.now = func() time.Time { return now }
	admitted := 0
	for range 10 {
		if l.tryAttempt("ip") == 0 {
			admitted++
		}
	}
	if admitted != 2 {
		t.Fatalf("10 parallel attempts with a burst of 2: %d admitted, want 2", admitted)
	}
	l.settle("ip", false) // success: token back
	if l.tryAttempt("ip") != 0 {
		t.Error("after a success, another attempt is refused")
	}
	l.settle("ip", true)
	l.settle("ip", true)
	if wait := l.tryAttempt("ip"); wait < 50*time.Second || wait > 61*time.Second {
		t.Errorf("after the burst failed: wait %s, want about a minute", wait)
	}
}

// TestKeyedLimiterBoundsMemory: a flood of distinct keys does not grow
// the buckets past the bound, and idle buckets are forgotten.
func TestKeyedLimiterBoundsMemory(t *testing.T) {
	l := newKeyedLimiter(1, 1, 100)
	now := time.Unix(1e9, 0)
	l.now = func() time.Time { return now }
	for i := range 1000 {
		l.take(strconv.Itoa(i))
	}
	if n := len(l.buckets); n > 100 {
		t.Errorf("%d buckets after 1000 keys with a bound of 100", n)
	}
	now = now.Add(2 * sweepEvery)
	l.take("late")
	if n := len(l.buckets); n != 1 {
		t.Errorf("%d buckets after every other one refilled, want 1", n)
	}
}
