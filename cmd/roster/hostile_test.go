package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestHostileInput sends what a broken or malicious client would: each
// gets a clear 4xx, and the server goes on serving.
func TestHostileInput(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfigFile(t, "scim:\n  rate_limit:\n    requests_per_second: 0\ndevices:\n  login_limit:\n    failures_per_minute: 0\n")
	s := startServer(t, dir, "--config", cfg)
	seedPool(t, openSQLiteT(t, dir), "default", "counter", 3, true)
	c := &http.Client{}
	is4xx := func(code int) bool { return code >= 400 && code < 500 }

	type call struct {
		name, method, path, contentType string
		body                            io.Reader
		length                          int64 // -1: chunked
		want                            func(int) bool
	}
	big := strings.Repeat("x", 11<<20)
	deepArrays := strings.Repeat("[", 100_000)
	deepObjects := strings.Repeat(`{"a":`, 100_000)
	deepUser := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"deep@example.com","name":` + strings.Repeat(`{"givenName":`, 50_000) + `"x"` + strings.Repeat("}", 50_000) + `}`
	patch := func(value string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":` + value + `}]}`
	}
	filter := func(f string) string { return "/scim/v2/Users?filter=" + url.QueryEscape(f) }
	status := func(codes ...int) func(int) bool {
		return func(c int) bool {
			for _, w := range codes {
				if c == w {
					return true
				}
			}
			return false
		}
	}
	notServerError := func(c int) bool { return c < 500 }
	calls := []call{
		{"oversize body", "POST", "/scim/v2/Users", "application/scim+json", strings.NewReader(big), int64(len(big)), status(413)},
		{"oversize body, chunked", "POST", "/scim/v2/Users", "application/scim+json", strings.NewReader(big), -1, is4xx},
		{"oversize bulk", "POST", "/scim/v2/Bulk", "application/scim+json", strings.NewReader(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[` + strings.Repeat(`{"method":"DELETE","path":"/Users/x"},`, 40_000) + `{"method":"DELETE","path":"/Users/y"}]}`), 0, status(413)},
		{"oversize device sign-in", "POST", "/api/v1/devices/login", "application/json", strings.NewReader(`{"tenant":"` + strings.Repeat("a", 1<<20) + `"}`), 0, status(413)},
		{"100k nested arrays: create", "POST", "/scim/v2/Users", "application/scim+json", strings.NewReader(deepArrays), 0, status(400)},
		{"100k nested objects: create", "POST", "/scim/v2/Users", "application/scim+json", strings.NewReader(deepObjects), 0, status(400)},
		{"50k nested objects inside a user", "POST", "/scim/v2/Users", "application/scim+json", strings.NewReader(deepUser), 0, status(400)},
		{"100k nested arrays: PATCH", "PATCH", "/scim/v2/Groups/x", "application/scim+json", strings.NewReader(patch(deepArrays)), 0, status(400, 404)},
		{"100k nested arrays: bulk", "POST", "/scim/v2/Bulk", "application/scim+json", strings.NewReader(deepArrays), 0, status(400)},
		{"100k nested arrays: search", "POST", "/scim/v2/.search", "application/scim+json", strings.NewReader(deepArrays), 0, status(400)},
		{"100k nested arrays: device sign-in", "POST", "/api/v1/devices/login", "application/json", strings.NewReader(deepArrays), 0, status(400)},
		{"100k nested arrays: renew", "POST", "/api/v1/devices/renew", "application/json", strings.NewReader(deepArrays), 0, status(400)},
		{"filter longer than the limit", "GET", filter(`userName eq "` + strings.Repeat("a", 5000) + `"`), "", nil, 0, status(400)},
		{"2 MB query string", "GET", "/scim/v2/Users?filter=" + strings.Repeat("a", 2<<20), "", nil, 0, status(400, 414, 431)},
		{"search filter longer than the limit", "POST", "/scim/v2/.search", "application/scim+json", strings.NewReader(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName eq \"` + strings.Repeat("a", 1<<20) + `\""}`), 0, status(400)},
		{"2000 nested parentheses", "GET", filter(strings.Repeat("(", 2000) + `userName eq "a"` + strings.Repeat(")", 2000)), "", nil, 0, notServerError},
		{"1000 nested nots", "GET", filter(strings.Repeat("not(", 1000) + `userName eq "a"` + strings.Repeat(")", 1000)), "", nil, 0, notServerError},
		{"nested value paths", "GET", filter(strings.Repeat("emails[", 1000) + `value eq "a"` + strings.Repeat("]", 1000)), "", nil, 0, status(400)},
		{"unbalanced filter", "GET", filter(`userName eq "a" and (`), "", nil, 0, status(400)},
		{"filter on an unknown attribute", "GET", filter(`password eq "x"`), "", nil, 0, status(400)},
		{"huge startIndex and count", "GET", "/scim/v2/Users?startIndex=99999999999999999999&count=99999999999999999999", "", nil, 0, notServerError},
		{"negative count", "GET", "/scim/v2/Users?count=-5&startIndex=-9", "", nil, 0, notServerError},
		{"long attributes list", "GET", "/scim/v2/Users?attributes=" + strings.Repeat("name.givenName,", 2000) + "userName", "", nil, 0, notServerError},
		{"sortBy nonsense", "GET", "/scim/v2/Users?sortBy=" + url.QueryEscape(`emails[type eq "x"].value`) + "&sortOrder=sideways", "", nil, 0, notServerError},
		{"not JSON", "POST", "/scim/v2/Users", "application/scim+json", strings.NewReader("<xml/>"), 0, status(400)},
		{"JSON with trailing garbage", "POST", "/scim/v2/Users", "application/scim+json", strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"t@example.com"}}}`), 0, status(400)},
		{"number overflow", "POST", "/scim/v2/Users", "application/scim+json", strings.NewReader(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"n@example.com","active":1e999}`), 0, status(400)},
		{"empty body", "POST", "/scim/v2/Users", "application/scim+json", strings.NewReader(""), 0, status(400)},
		{"path traversal", "GET", "/scim/v2/Users/..%2F..%2Fetc%2Fpasswd", "", nil, 0, status(404)},
	}
	for _, tt := range calls {
		req, _ := http.NewRequest(tt.method, s.url+tt.path, tt.body)
		if tt.body != nil {
			switch tt.length {
			case -1:
				req.ContentLength = -1
				req.Body = io.NopCloser(tt.body) // hide the length: chunked
			case 0:
			default:
				req.ContentLength = tt.length
			}
		}
		if tt.contentType != "" {
			req.Header.Set("Content-Type", tt.contentType)
		}
		req.Header.Set("Authorization", "Bearer "+s.token)
		res, err := c.Do(req)
		if err != nil {
			// The server may close the connection on an oversize body
			// before the client finished writing it; that is a refusal too.
			if strings.HasPrefix(tt.name, "oversize") {
				t.Logf("%s: connection closed while sending: %v", tt.name, err)
				continue
			}
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		if !tt.want(res.StatusCode) {
			t.Errorf("%s: got %d, want a clear 4xx\n%.300s", tt.name, res.StatusCode, body)
		}
		if strings.HasPrefix(tt.path, "/scim/") && res.StatusCode >= 400 && res.StatusCode != 431 && res.StatusCode != 414 &&
			!strings.Contains(string(body), "urn:ietf:params:scim:api:messages:2.0:Error") {
			t.Errorf("%s: %d without a SCIM error body: %.300s", tt.name, res.StatusCode, body)
		}
	}

	t.Run("userName unicode", func(t *testing.T) {
		create := func(name string) (int, string) {
			return scimDo(t, c, "POST", s.url+"/scim/v2/Users", s.token,
				`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+name+`"}`)
		}
		if code, body := create("kate@example.com"); code != 201 {
			t.Fatalf("kate: %d %s", code, body)
		}
		// KELVIN SIGN folds to k: the same login.
		if code, body := create(`\u212Aate@example.com`); code != 409 || !strings.Contains(body, "uniqueness") {
			t.Errorf("userName with KELVIN SIGN after kate: %d %s, want 409 uniqueness", code, body)
		}
		if code, body := create("KATE@EXAMPLE.COM"); code != 409 {
			t.Errorf("upper-case duplicate: %d %s, want 409", code, body)
		}
		// Ǆ (U+01C4), ǅ (U+01C5), ǆ (U+01C6): one case-folding orbit.
		if code, body := create(`\u01C4ordje@example.com`); code != 201 {
			t.Errorf("DŽ: %d %s", code, body)
		}
		if code, body := create(`\u01C5ordje@example.com`); code != 409 {
			t.Errorf("Dž after DŽ: %d %s, want 409", code, body)
		}
		for _, name := range []string{"", `   `} {
			if code, body := create(name); !is4xx(code) {
				t.Errorf("userName %.40q: %d %.200s, want a 4xx", name, code, body)
			}
		}
		// Odd but valid: accepted, and found again by exactly that name.
		for _, name := range []string{`\u202Egnp.exe@example.com`, `zw\u200Dj@example.com`, `😀@example.com`, `a\r\nSet-Cookie: evil=1@example.com`} {
			code, body := create(name)
			if code != 201 && code != 400 {
				t.Errorf("userName %q: %d %.200s, want 201 or 400", name, code, body)
			}
		}
	})
	t.Run("userName control characters and length", func(t *testing.T) {
		var accepted []string
		for _, name := range []string{`\u0000nul@example.com`, `bell\u0007@example.com`, strings.Repeat("a", 100_000) + "@example.com"} {
			code, body := scimDo(t, c, "POST", s.url+"/scim/v2/Users", s.token,
				`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+name+`"}`)
			switch {
			case code == 201:
				accepted = append(accepted, fmt.Sprintf("%.24q (%d bytes)", name, len(name)))
			case !is4xx(code):
				t.Errorf("userName %.40q: %d %.200s, want a 4xx", name, code, body)
			}
		}
		if len(accepted) > 0 {
			t.Errorf("userNames with control characters or of excessive length were accepted; want 400 invalidValue for: %s", strings.Join(accepted, ", "))
		}
	})
	t.Run("userName combining characters", func(t *testing.T) {
		// é as one code point and as e + COMBINING ACUTE ACCENT look the
		// same to a person; NFC makes them one login.
		code1, _ := scimDo(t, c, "POST", s.url+"/scim/v2/Users", s.token, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jos\u00e9@example.com"}`)
		code2, body := scimDo(t, c, "POST", s.url+"/scim/v2/Users", s.token, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jose\u0301@example.com"}`)
		if code1 != 201 {
			t.Fatalf("josé: %d", code1)
		}
		if code2 != 409 {
			t.Errorf("decomposed josé after composed: %d %s, want 409", code2, body)
		}
	})
	t.Run("userName invalid UTF-8", func(t *testing.T) {
		code, body := scimDo(t, c, "POST", s.url+"/scim/v2/Users", s.token, "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"\xffbob@example.com\"}")
		if code != 400 {
			t.Errorf("invalid UTF-8 userName: %d %s, want 400", code, body)
		}
	})

	t.Run("header injection", func(t *testing.T) {
		host := strings.TrimPrefix(s.url, "http://")
		raw := func(req string) string {
			t.Helper()
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprint(conn, req)
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				return "no response: " + err.Error()
			}
			defer res.Body.Close()
			var b strings.Builder
			res.Header.Write(&b)
			return fmt.Sprintf("%d\n%s", res.StatusCode, b.String())
		}
		auth := "Authorization: Bearer " + s.token + "\r\n"
		cases := []struct{ name, req, want string }{
			{"bare CR in a header value", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n" + auth + "X-Request-Id: a\rSet-Cookie: evil=1\r\n\r\n", "400"},
			// Bare LF ends a header line (RFC 9112 §2.2 lets a server
			// accept it): two request headers, nothing in the response.
			{"bare LF in a header value", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n" + auth + "X-Note: a\nSet-Cookie: evil=1\r\n\r\n", "200"},
			{"NUL in a header value", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\n" + auth + "X-Note: a\x00b\r\n\r\n", "400"},
			{"CRLF in the path", "GET /scim/v2/Users/a%0d%0aSet-Cookie:%20evil=1 HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", "404"},
			{"header injection in the request id", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc%0d%0aSet-Cookie:evil\r\n\r\n", "200"},
			{"space before the colon", "GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization : Bearer " + s.token + "\r\n\r\n", "400"},
			{"two Content-Lengths", "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "400"},
			{"Content-Length and chunked", "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		}
		for _, c := range cases {
			got := raw(c.req)
			if !strings.HasPrefix(got, c.want+"\n") {
				t.Errorf("%s: got %s, want %s", c.name, got, c.want)
			}
			if strings.Contains(strings.ToLower(got), "set-cookie") {
				t.Errorf("%s: the response carries an injected header:\n%s", c.name, got)
			}
			if strings.Contains(got, "X-Request-Id: abc") {
				t.Errorf("%s: a request id with odd characters was echoed:\n%s", c.name, got)
			}
		}
	})

	// Unharmed: still answering, nothing logged as a panic or a 5xx.
	if res, body := s.get(t, "/healthz", ""); res.StatusCode != 200 {
		t.Errorf("after the hostile input: /healthz %d %s", res.StatusCode, body)
	}
	if code, body := scimDo(t, c, "GET", s.url+"/scim/v2/Users?filter="+url.QueryEscape(`userName eq "kate@example.com"`), s.token, ""); code != 200 || !strings.Contains(body, `"totalResults":1`) {
		t.Errorf("after the hostile input: %d %s", code, body)
	}
	for _, rec := range logLines(t, s.stderr.String(), "request") {
		if st, _ := rec["status"].(float64); st >= 500 {
			t.Errorf("a request was answered with %v: %v", st, rec)
		}
	}
	if logs := s.stderr.String(); strings.Contains(logs, "handler panic") {
		t.Errorf("a handler panicked:\n%s", logs)
	}
}
