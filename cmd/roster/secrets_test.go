package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/store"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestSecretsNeverLogged runs a session that handles every kind of secret
// Roster knows, at log level debug, and greps the log for each.
func TestSecretsNeverLogged(t *testing.T) {
	const (
		oidcSecret   = "oidc-client-secret-Q7xv"
		smtpPassword = "smtp-password-K2pz"
		mongoPass    = "mongo-password-W9rt"
		password1    = "first password Z8 long enough"
		password2    = "second password Y4 long enough"
		badPassword  = "a wrong guess J3"
	)
	smtp := closedPort(t)
	host, port, _ := net.SplitHostPort(smtp)
	idp := closedPort(t)
	dir := t.TempDir()
	cfg := writeConfigFile(t, fmt.Sprintf(`log:
  level: debug
scim:
  token_cache_ttl: 0s
oidc:
  issuer: http://%s
  client_id: roster
  client_secret: %s
mail:
  smtp:
    host: %s
    port: %s
    username: roster
    password: %s
    tls: none
`, idp, oidcSecret, host, port, smtpPassword))
	s := startServer(t, dir, "--config", cfg)
	secrets := map[string]string{"OIDC client secret": oidcSecret, "SMTP password": smtpPassword,
		"first SCIM token": s.token, "user password": password1, "changed password": password2, "wrong password": badPassword}

	c := http.DefaultClient
	code, body := scimDo(t, c, "POST", s.url+"/scim/v2/Users", s.token, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"grace@example.com","password":"`+password1+`","emails":[{"value":"grace@example.com","primary":true}]}`)
	if code != 201 {
		t.Fatalf("create user: %d %s", code, body)
	}
	var u struct{ ID string }
	json.Unmarshal([]byte(body), &u)
	scimDo(t, c, "PATCH", s.url+"/scim/v2/Users/"+u.ID, s.token,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"password","value":"`+password2+`"}]}`)
	// Bodies the server refuses, with the secret inside.
	scimDo(t, c, "POST", s.url+"/scim/v2/Users", s.token, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","password":"`+password1+`",}`)
	scimDo(t, c, "POST", s.url+"/scim/v2/Users", s.token, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"password":"`+password1+`"}`)
	scimDo(t, c, "PATCH", s.url+"/scim/v2/Users/"+u.ID, s.token,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"explode","path":"password","value":"`+password2+`"}]}`)
	scimDo(t, c, "POST", s.url+"/scim/v2/Bulk", s.token, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[`+
		`{"method":"POST","path":"/Users","bulkId":"a","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"grace@example.com","password":"`+password1+`"}}]}`)
	// Tokens that do not work: wrong, revoked, in the query.
	scimDo(t, c, "GET", s.url+"/scim/v2/Users", s.token[:len(s.token)-2]+"zz", "")
	scimDo(t, c, "GET", s.url+"/scim/v2/Users?access_token="+s.token, "", "")
	code, out, _ := run("token", "create", "--tenant", "default", "--data", dir, "--config", cfg)
	if code != 0 {
		t.Fatal(out)
	}
	second := regexp.MustCompile(`rst_\S+`).FindString(out)
	secrets["second SCIM token"] = second
	scimDo(t, c, "GET", s.url+"/scim/v2/Groups", second, "")
	run("token", "revoke", "--tenant", "default", regexp.MustCompile(`token (\S+) for`).FindStringSubmatch(out)[1], "--data", dir, "--config", cfg)
	scimDo(t, c, "GET", s.url+"/scim/v2/Groups", second, "")

	// Device sign-in, right and wrong.
	st := openSQLiteT(t, dir)
	seedPool(t, st, "default", "counter", 3, true)
	for _, pw := range []string{password2, badPassword} {
		res, err := http.Post(s.url+"/api/v1/devices/login", "application/json", strings.NewReader(
			`{"tenant":"default","userName":"grace@example.com","password":"`+pw+`","deviceCode":"D1","product":"counter"}`))
		if err != nil {
			t.Fatal(err)
		}
		var g struct{ Lease string }
		json.NewDecoder(res.Body).Decode(&g)
		res.Body.Close()
		if g.Lease != "" {
			secrets["device lease"] = g.Lease
		}
	}
	if secrets["device lease"] == "" {
		t.Fatal("the device sign-in with the changed password got no lease")
	}

	// The portal, signed in: a SCIM token minted there, a password-reset
	// e-mail queued (its link is a credential).
	ctx := context.Background()
	tenant, _ := st.GetTenantByName(ctx, "default")
	cookie := "sess_" + store.NewID()
	secrets["session cookie"] = cookie
	now := store.Timestamp(time.Now())
	if err := st.CreateSession(ctx, &store.Session{Hash: auth.HashSecret(cookie), Subject: "op", Role: store.RoleOperator,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	portal := func(method, path string, form url.Values) string {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+"/admin/t/"+tenant.ID+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.AddCookie(&http.Cookie{Name: auth.PortalCookie, Value: cookie})
		_, body := send(t, noRedirect, req)
		return body
	}
	page := portal("POST", "/tokens", url.Values{"name": {"okta"}})
	minted := regexp.MustCompile(`rst_[A-Za-z0-9_-]{43}`).FindString(page)
	if minted == "" {
		t.Fatalf("the portal minted no token:\n%.2000s", page)
	}
	secrets["portal SCIM token"] = minted
	portal("POST", "/users/"+u.ID+"/reset", nil)
	msgs, _ := st.ListOutbox(ctx, tenant.ID, 100)
	for _, m := range msgs {
		for _, link := range regexp.MustCompile(`/invite/\S+`).FindAllString(m.Text, -1) {
			secrets["password-reset link"] = strings.TrimRight(link, ".,)")
		}
	}
	if secrets["password-reset link"] == "" {
		t.Errorf("no password-reset e-mail was queued: %d messages", len(msgs))
	}
	// Let the dispatcher try (and fail) to send it.
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(s.stderr.String(), `"msg":"delivery failed"`); {
		if time.Now().After(deadline) {
			t.Fatal("the e-mail dispatcher did not try to send the reset e-mail within 15s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A MongoDB URI with a password, unreachable: start-up fails.
	mongoCfg := writeConfigFile(t, "storage:\n  driver: mongodb\n  mongodb:\n    uri: mongodb://roster:"+mongoPass+"@"+closedPort(t)+"/?serverSelectionTimeoutMS=300\n    database: roster\n")
	_, mout, merr := run("serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--config", mongoCfg)
	_, tout, terr := run("tenant", "list", "--data", t.TempDir(), "--config", mongoCfg)
	if !strings.Contains(merr, "open mongodb database roster") {
		t.Errorf("mongodb start-up: %q, want it to fail on the database", merr)
	}

	s.stop()
	logs := s.stderr.String()

	logLines(t, logs, "request") // every line is JSON
	if len(logs) < 1000 {
		t.Fatalf("suspiciously little log (%d bytes) for the session", len(logs))
	}
	for what, secret := range secrets {
		if strings.Contains(logs, secret) {
			i := strings.Index(logs, secret)
			t.Errorf("the %s appears in the log: …%s…", what, logs[max(0, i-200):min(len(logs), i+len(secret)+50)])
		}
	}
	for _, o := range []string{mout, merr, tout, terr} {
		if strings.Contains(o, mongoPass) {
			t.Errorf("the MongoDB password appears in the output: %s", o)
		}
	}
}
