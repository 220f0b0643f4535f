package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the real program through Main, in-process, on
// 127.0.0.1:0 with a temporary data directory, and look at what a person
// or a script would: the printed lines, exit codes, HTTP answers.

// envRunMain makes the test binary act as the roster binary, so a test
// can start the real program as a process and signal it.
const envRunMain = "ROSTER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		os.Args = append(os.Args[:1], strings.Fields(os.Getenv("ROSTER_TEST_ARGS"))...)
		main()
		return
	}
	// A developer's own ROSTER_* settings must not leak into the tests.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ROSTER_") && !strings.HasPrefix(k, envIgnoredPrefix) {
			os.Unsetenv(k)
		}
	}
	os.Exit(m.Run())
}

// syncBuffer is an io.Writer the program writes to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runningServer is a `roster serve` running in this process.
type runningServer struct {
	t              *testing.T
	cancel         context.CancelFunc
	done           chan int
	stdout, stderr *syncBuffer
	url            string // as printed
	token          string // "" when none was printed
	link           string // admin sign-in link
}

var (
	listeningRE = regexp.MustCompile(`listening on (https?://\S+)`)
	tokenRE     = regexp.MustCompile(`SCIM token:\s+(rst_[A-Za-z0-9_-]{43})\n`)
	linkRE      = regexp.MustCompile(`Admin sign-in:\s+(http://\S+/admin/bootstrap\?token=\S+)`)
)

// startServer runs `roster serve --addr 127.0.0.1:0 --data dir args...`
// and waits until it has printed its welcome.
func startServer(t *testing.T, dir string, args ...string) *runningServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningServer{t: t, cancel: cancel, done: make(chan int, 1), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	args = append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, args...)
	go func() { s.done <- Main(ctx, args, s.stdout, s.stderr) }()
	t.Cleanup(func() { s.stop() })
	deadline := time.After(20 * time.Second)
	for {
		out := s.stdout.String()
		// The welcome ends with a blank line.
		if m := listeningRE.FindStringSubmatch(out); m != nil && strings.HasSuffix(out, "\n\n") {
			s.url = m[1]
			if m := tokenRE.FindStringSubmatch(out); m != nil {
				s.token = m[1]
			}
			if m := linkRE.FindStringSubmatch(out); m != nil {
				s.link = m[1]
			}
			return s
		}
		select {
		case code := <-s.done:
			s.done <- code
			t.Fatalf("roster serve exited with %d before listening\nstdout:\n%s\nstderr:\n%s", code, out, s.stderr)
		case <-deadline:
			t.Fatalf("roster serve did not start in 20s\nstdout:\n%s\nstderr:\n%s", out, s.stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop cancels the server's context (SIGINT) and returns its exit code.
func (s *runningServer) stop() int {
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(30 * time.Second):
		s.t.Fatalf("roster serve did not stop within 30s")
		return -1
	}
}

func (s *runningServer) get(t *testing.T, path, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(t, http.DefaultClient, req)
}

func send(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// run runs a CLI command in-process and returns exit code, stdout, stderr.
func run(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// logLines returns the JSON log records whose msg is msg.
func logLines(t *testing.T, stderr string, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(stderr) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func TestServeFirstStartThenSecond(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)

	out := s.stdout.String()
	for _, want := range []string{s.url + "/scim/v2", "SCIM token:", "Admin sign-in:", "OIDC is not configured"} {
		if !strings.Contains(out, want) {
			t.Errorf("first start: output lacks %q:\n%s", want, out)
		}
	}
	if s.token == "" || s.link == "" {
		t.Fatalf("first start: no token or sign-in link printed:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "roster.db")); err != nil {
		t.Errorf("first start: database not in the data directory: %v", err)
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		if res, body := s.get(t, path, ""); res.StatusCode != 200 || body != "ok\n" {
			t.Errorf("GET %s: got %d %q, want 200 ok", path, res.StatusCode, body)
		}
		if res, err := http.Head(s.url + path); err != nil || res.StatusCode != 200 {
			t.Errorf("HEAD %s: got %v %v, want 200", path, res, err)
		}
	}

	// The printed token lists the tenant's users; a wrong one is refused.
	res, body := s.get(t, "/scim/v2/Users", s.token)
	if res.StatusCode != 200 || !strings.Contains(body, "urn:ietf:params:scim:api:messages:2.0:ListResponse") || res.Header.Get("X-Request-Id") == "" {
		t.Errorf("GET /scim/v2/Users with the printed token: got %d %s (request id %q), want 200 and a ListResponse",
			res.StatusCode, body, res.Header.Get("X-Request-Id"))
	}
	res, body = s.get(t, "/scim/v2/Users", "rst_"+strings.Repeat("x", 43))
	var e struct {
		Schemas []string
		Status  string
		Detail  string
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || res.StatusCode != 401 ||
		res.Header.Get("Content-Type") != "application/scim+json" ||
		len(e.Schemas) != 1 || e.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || e.Status != "401" ||
		!strings.HasPrefix(res.Header.Get("WWW-Authenticate"), `Bearer realm="roster"`) {
		t.Errorf("GET /scim/v2/Users with a wrong token: got %d %v %s, want 401 with a SCIM error body", res.StatusCode, res.Header, body)
	}

	// The access log says who called what.
	var sawTenant bool
	for _, rec := range logLines(t, s.stderr.String(), "request") {
		if rec["request_id"] == "" || rec["method"] == nil || rec["status"] == nil || rec["duration_ms"] == nil {
			t.Errorf("access log record lacks fields: %v", rec)
		}
		if rec["path"] == "/scim/v2/Users" && rec["tenant"] != nil && rec["tenant"] != "" {
			sawTenant = true
		}
	}
	if !sawTenant {
		t.Errorf("no access log record with the tenant of the SCIM call:\n%s", s.stderr)
	}

	if code := s.stop(); code != 0 {
		t.Fatalf("stop: exit %d, want 0\n%s", code, s.stderr)
	}

	// Second start on the same data: no new token, the old one still works.
	s2 := startServer(t, dir)
	out = s2.stdout.String()
	if s2.token != "" || strings.Contains(out, "rst_") {
		t.Errorf("second start printed a token:\n%s", out)
	}
	if !strings.Contains(out, "roster token create --tenant default") {
		t.Errorf("second start does not say how to mint another token:\n%s", out)
	}
	if res, body := s2.get(t, "/scim/v2/Users", s.token); res.StatusCode == 401 {
		t.Errorf("first start's token after a restart: got %d %s", res.StatusCode, body)
	}
	if code := s2.stop(); code != 0 {
		t.Errorf("second stop: exit %d", code)
	}
}

func TestAdminBootstrapLink(t *testing.T) {
	s := startServer(t, t.TempDir())
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}

	res, body := s.get(t, "/admin", "")
	if res.StatusCode != 200 || res.Request.URL.Path != "/admin/login" || !strings.Contains(body, "OIDC is not configured") {
		t.Errorf("GET /admin signed out: got %d at %s, want the sign-in page with the OIDC banner\n%s", res.StatusCode, res.Request.URL.Path, body)
	}

	// Opening the link shows a confirmation; only the button spends it.
	req, _ := http.NewRequest("GET", s.link, nil)
	res, body = send(t, browser, req)
	if res.StatusCode != 200 || !strings.Contains(body, "Continue as operator") {
		t.Fatalf("GET link: got %d %s", res.StatusCode, body)
	}
	secret := strings.TrimPrefix(s.link, s.url+"/admin/bootstrap?token=")
	signIn := func(c *http.Client) (*http.Response, string) {
		form := url.Values{"token": {secret}}.Encode()
		req, _ := http.NewRequest("POST", s.url+"/admin/bootstrap", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		return send(t, c, req)
	}
	res, body = signIn(browser)
	if res.StatusCode != 200 || !strings.Contains(body, "Sign out") || !strings.Contains(body, "OIDC is not configured") {
		t.Fatalf("sign-in: got %d, want a portal page with the OIDC banner\n%s", res.StatusCode, body)
	}
	if res, _ := signIn(&http.Client{}); res.StatusCode != http.StatusGone {
		t.Errorf("second use of the link: got %d, want 410", res.StatusCode)
	}

	// A cross-site form post is refused outright.
	req, _ = http.NewRequest("POST", s.url+"/admin/logout", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if res, _ := send(t, browser, req); res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST /admin/logout: got %d, want 403", res.StatusCode)
	}
	// The link's secret never reaches the log.
	if strings.Contains(s.stderr.String(), secret) {
		t.Error("the sign-in secret appears in the log")
	}
}

func TestServeStartupFailures(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o600)
	writeConfig := func(body string) string {
		p := filepath.Join(t.TempDir(), "roster.yaml")
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown key", []string{"--data", dir, "--config", writeConfig("server:\n  adress: 127.0.0.1:1\n")}, 2,
			`:2: unknown key server.adress`},
		{"invalid value", []string{"--data", dir, "--config", writeConfig("log:\n  level: chatty\n")}, 2,
			`config: log.level: "chatty" is not one of debug, info, warn, error`},
		{"invalid flag value", []string{"--data", dir, "--addr", "8080"}, 2,
			`config: server.addr: "8080" is not HOST:PORT`},
		{"missing config file", []string{"--data", dir, "--config", filepath.Join(dir, "nope.yaml")}, 2,
			`nope.yaml: no such file or directory`},
		{"unknown flag", []string{"--port", "1"}, 2,
			`roster serve: flag provided but not defined: -port`},
		{"data dir under a file", []string{"--data", filepath.Join(file, "data"), "--addr", "127.0.0.1:0"}, 1,
			`data directory ` + filepath.Join(file, "data") + ` cannot be created: not a directory`},
		{"port in use", []string{"--data", dir, "--addr", busy.Addr().String()}, 1,
			`roster: listen ` + busy.Addr().String() + `: address already in use`},
		{"mongodb unreachable", []string{"--data", dir, "--addr", "127.0.0.1:0", "--config",
			writeConfig("storage:\n  driver: mongodb\n  mongodb:\n    uri: mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300\n    database: roster\n")}, 1,
			`open mongodb database roster: `},
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "readonly")
		os.Mkdir(ro, 0o500)
		tests = append(tests, struct {
			name string
			args []string
			code int
			want string
		}{"read-only data dir", []string{"--data", ro, "--addr", "127.0.0.1:0"}, 1, `data directory ` + ro + ` is not writable: permission denied`})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(append([]string{"serve"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "roster") || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr:\n%s\nwant one line containing %q", stderr, tt.want)
			}
			if strings.Contains(stdout, "rst_") {
				t.Errorf("a failed start printed a token:\n%s", stdout)
			}
		})
	}
}

// TestGracefulShutdown: a request in flight when the stop signal comes
// gets its answer, and only then does the process exit.
func TestGracefulShutdown(t *testing.T) {
	s := startServer(t, t.TempDir())
	secret := strings.TrimPrefix(s.link, s.url+"/admin/bootstrap?token=")
	body := url.Values{"token": {secret}}.Encode()

	// A sign-in POST whose body arrives slowly: the handler is reading it
	// when shutdown begins.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /admin/bootstrap HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s",
		strings.TrimPrefix(s.url, "http://"), len(body), body[:10])
	time.Sleep(100 * time.Millisecond)

	s.cancel() // SIGINT
	select {
	case code := <-s.done:
		t.Fatalf("exited with %d while a request was in flight", code)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "http://"), time.Second); err == nil {
		t.Error("new connections are still accepted during shutdown")
	}

	fmt.Fprint(conn, body[10:])
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) != 1 {
		t.Errorf("in-flight request: got %d cookies %v, want 303 with a session", res.StatusCode, res.Cookies())
	}
	if code := s.stop(); code != 0 {
		t.Errorf("exit %d after a graceful shutdown, want 0\n%s", code, s.stderr)
	}
}

// TestSignals runs roster as a process: SIGINT and SIGTERM each stop it
// cleanly with exit code 0.
func TestSignals(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envRunMain+"=1",
				"ROSTER_TEST_ARGS=serve --addr 127.0.0.1:0 --data "+t.TempDir())
			stdout, _ := cmd.StdoutPipe()
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			sc := bufio.NewScanner(stdout)
			var base string
			for sc.Scan() {
				if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
					base = m[1]
					break
				}
			}
			go io.Copy(io.Discard, stdout)
			if base == "" {
				t.Fatalf("no listening line; stderr:\n%s", stderr.String())
			}
			res, err := http.Get(base + "/healthz")
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("GET /healthz: %v %v", res, err)
			}
			res.Body.Close()
			cmd.Process.Signal(sig)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("after %s: %v, want exit 0\n%s", sig, err, stderr.String())
			}
			if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
				t.Errorf("after %s: no stopped record in the log:\n%s", sig, stderr.String())
			}
		})
	}
}

func TestRequestBodyLimit(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "roster.yaml")
	os.WriteFile(cfg, []byte("server:\n  max_body_bytes: 2048\nscim:\n  bulk:\n    max_payload_bytes: 2048\n"), 0o600)
	s := startServer(t, dir, "--config", cfg)
	req, _ := http.NewRequest("POST", s.url+"/scim/v2/Users", strings.NewReader(strings.Repeat("x", 4096)))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/scim+json")
	res, body := send(t, http.DefaultClient, req)
	if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "urn:ietf:params:scim:api:messages:2.0:Error") {
		t.Errorf("4 KiB body with a 2 KiB limit: got %d %s, want 413 with a SCIM error", res.StatusCode, body)
	}
}

// TestCLI drives tenant and token commands against the data of a running
// server, the way an operator would.
func TestCLI(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "roster.yaml")
	// No token cache, so a revocation shows on the very next request.
	os.WriteFile(cfg, []byte("scim:\n  token_cache_ttl: 0s\n"), 0o600)
	s := startServer(t, dir, "--config", cfg)
	data := []string{"--data", dir, "--config", cfg}
	cli := func(args ...string) (int, string, string) { return run(append(args, data...)...) }

	if code, out, errOut := cli("tenant", "create", "acme"); code != 0 || !strings.Contains(out, "created tenant acme") {
		t.Fatalf("tenant create acme: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := cli("tenant", "create", "ACME"); code != 1 || !strings.Contains(errOut, `tenant "ACME" already exists`) {
		t.Errorf("tenant create ACME (duplicate): %d %q, want 1 and already exists", code, errOut)
	}
	if code, _, errOut := cli("tenant", "create", "a b"); code != 2 || !strings.Contains(errOut, "is not a tenant name") {
		t.Errorf("tenant create 'a b': %d %q, want 2", code, errOut)
	}
	code, out, _ := cli("tenant", "list")
	if code != 0 || !regexp.MustCompile(`(?m)^acme\s`).MatchString(out) || !regexp.MustCompile(`(?m)^default\s`).MatchString(out) {
		t.Errorf("tenant list: %d\n%s\nwant acme and default", code, out)
	}

	// token create: the secret alone on the last line; usable at once.
	code, out, errOut := cli("token", "create", "--tenant", "acme", "--name", "okta")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	secret := lines[len(lines)-1]
	if code != 0 || !regexp.MustCompile(`^rst_[A-Za-z0-9_-]{43}$`).MatchString(secret) {
		t.Fatalf("token create: %d %q %q, want the token alone on the last line", code, out, errOut)
	}
	// It works on the running server at once, for tenant acme only.
	req, _ := http.NewRequest("POST", s.url+"/scim/v2/Users", strings.NewReader(
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"wile@acme.example","active":true}`))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/scim+json")
	if res, body := send(t, http.DefaultClient, req); res.StatusCode != 201 {
		t.Fatalf("create a user with the new token: %d %s, want 201", res.StatusCode, body)
	}
	filter := "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "wile@acme.example"`)
	if res, body := s.get(t, filter, secret); res.StatusCode != 200 || !strings.Contains(body, `"totalResults":1`) {
		t.Errorf("acme's user through acme's token: %d %s, want it listed", res.StatusCode, body)
	}
	if res, body := s.get(t, filter, s.token); res.StatusCode != 200 || !strings.Contains(body, `"totalResults":0`) {
		t.Errorf("acme's user through default's token: %d %s, want 200 and nothing", res.StatusCode, body)
	}
	code, out, _ = cli("token", "list", "--tenant", "acme")
	row := regexp.MustCompile(`(?m)^(\S+)\s+okta\s+active\s+\d{4}-\d\d-\d\d\s+(\S+)`).FindStringSubmatch(out)
	if code != 0 || row == nil || row[2] == "never" {
		t.Fatalf("token list: %d\n%s\nwant the okta token, active, with a last-used time", code, out)
	}
	tokenID := row[1]

	// Flags after the argument work too.
	if code, out, errOut := run(append([]string{"token", "revoke", tokenID, "--tenant", "acme"}, data...)...); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("token revoke: %d %q %q", code, out, errOut)
	}
	if res, body := s.get(t, "/scim/v2/Users", secret); res.StatusCode != 401 || !strings.Contains(body, "token revoked") {
		t.Errorf("revoked token: got %d %s, want 401 token revoked", res.StatusCode, body)
	}
	if _, out, _ := cli("token", "list", "--tenant", "acme"); !strings.Contains(out, "revoked") {
		t.Errorf("token list after revoke:\n%s", out)
	}
	// A token of acme revoked through tenant default is not found.
	_, out, _ = cli("token", "create", "--tenant", "acme")
	other := regexp.MustCompile(`token (\S+) for`).FindStringSubmatch(out)
	if code, _, errOut := cli("token", "revoke", "--tenant", "default", other[1]); code != 1 || !strings.Contains(errOut, "has no token") {
		t.Errorf("revoke another tenant's token: %d %q, want 1 and has no token", code, errOut)
	}

	usage := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"token", "create"}, 2, "--tenant is required"},
		{[]string{"token", "list", "--tenant", "nobody"}, 1, `no tenant "nobody"`},
		{[]string{"token", "revoke", "--tenant", "acme"}, 2, "missing argument"},
		{[]string{"token", "burn", "--tenant", "acme"}, 2, `unknown command "burn"`},
		{[]string{"tenant", "list", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"tenant"}, 2, "Usage:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{}, 2, "Usage:"},
	}
	for _, u := range usage {
		code, _, errOut := run(u.args...)
		if code != u.code || !strings.Contains(errOut, u.want) {
			t.Errorf("roster %s: exit %d stderr %q, want %d and %q", strings.Join(u.args, " "), code, errOut, u.code, u.want)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"help", "token"}, {"serve", "--help"}, {"tenant", "--help"}, {"tenant", "create", "--help"},
		{"tenant", "list", "-h"}, {"token", "--help"}, {"token", "create", "--help"}, {"token", "list", "--help"},
		{"token", "revoke", "--help"}, {"version", "--help"},
	} {
		code, out, errOut := run(args...)
		if code != 0 || !strings.Contains(out, "Usage") || errOut != "" {
			t.Errorf("roster %s: exit %d, stdout %q, stderr %q; want 0 and usage on stdout", strings.Join(args, " "), code, out, errOut)
		}
	}
	if _, out, _ := run("serve", "--help"); !strings.Contains(out, "-addr HOST:PORT") || !strings.Contains(out, "ROSTER_DATA") {
		t.Errorf("serve --help does not document its flags:\n%s", out)
	}
	if code, out, _ := run("version"); code != 0 || !strings.HasPrefix(out, "roster ") {
		t.Errorf("version: %d %q", code, out)
	}
}
