package notify_test

import (
	"context"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/notify"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+/invite/rsi_[A-Za-z0-9_-]+`)

// TestInvitationThroughRealSMTP: an invitation goes out through SMTP, its
// link sets the password once, a second use and an expired link are
// refused, and a resend rotates the link.
func TestInvitationThroughRealSMTP(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ten := &store.Tenant{Name: "acme"}
	must(t, st.CreateTenant(ctx, ten))
	u := &store.User{TenantID: ten.ID, UserName: "ada@acme.io", Active: true, Activation: store.ActivationPending,
		Name: store.Name{GivenName: "Ada"}, Emails: []store.MultiValue{{Value: "ada@acme.io", Primary: true}}}
	must(t, st.CreateUser(ctx, u))

	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tm, err := notify.LoadTemplates("")
	must(t, err)
	iv := &auth.Invites{Store: st, TTL: time.Hour, Now: clock, Mail: tm, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	page := httptest.NewServer(http.StripPrefix("", iv))
	defer page.Close()
	iv.PublicURL = page.URL

	s := &sink{}
	addr, _ := startSink(t, s, "127.0.0.1:0")
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	sender, err := notify.NewSMTPSender(notify.SMTPConfig{Host: host, Port: port, From: "Roster <no-reply@roster.test>", TLS: "none"})
	must(t, err)
	d := &notify.Dispatcher{Outbox: st, Senders: map[string]notify.Sender{"email": sender}, Holder: "n1", Now: clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	must(t, iv.Send(ctx, ten.ID, u.ID, store.InviteActivate, "admin:test"))
	if sent, _, err := d.RunOnce(ctx); sent != 1 || err != nil {
		t.Fatalf("dispatch: sent %d, %v", sent, err)
	}
	link := lastLink(t, s)
	if raw := s.received()[0]; !strings.Contains(raw, "multipart/alternative") || !strings.Contains(raw, "text/html") {
		t.Errorf("invitation is not plain text + HTML:\n%s", raw)
	}

	// Wrong confirmation: refused with a message, the link still works.
	if code, body := submit(t, link, "correct horse battery", "correct horse batterY"); code != 422 || !strings.Contains(body, "differ") {
		t.Errorf("mismatched passwords: %d, want 422 saying they differ", code)
	}
	if code, body := submit(t, link, "short", "short"); code != 422 || !strings.Contains(body, "at least 12") {
		t.Errorf("short password: %d, want 422 naming the minimum", code)
	}
	if code, body := submit(t, link, "correct horse battery", "correct horse battery"); code != 200 || !strings.Contains(body, "active") {
		t.Fatalf("good password: %d %s", code, body)
	}
	got, _ := st.GetUser(ctx, ten.ID, u.ID)
	if got.Activation != store.ActivationActive || auth.CheckPassword(got.PasswordHash, "correct horse battery") != nil {
		t.Errorf("after activation: state %q, password set=%v", got.Activation, got.PasswordHash != "")
	}
	if code, _ := submit(t, link, "another good password", "another good password"); code != http.StatusGone {
		t.Errorf("second use of the link: %d, want 410", code)
	}
	if err := iv.Send(ctx, ten.ID, u.ID, store.InviteActivate, "admin:test"); err != auth.ErrAlreadyActive {
		t.Errorf("re-inviting an active user: %v, want ErrAlreadyActive", err)
	}

	// Password reset; the first link is replaced by a resend.
	must(t, iv.Send(ctx, ten.ID, u.ID, store.InviteReset, "admin:test"))
	must(t, iv.Send(ctx, ten.ID, u.ID, store.InviteReset, "admin:test"))
	if sent, _, _ := d.RunOnce(ctx); sent != 2 {
		t.Fatalf("dispatch of two resets: sent %d", sent)
	}
	msgs := s.received()
	a, b := linkIn(t, msgs[len(msgs)-2]), linkIn(t, msgs[len(msgs)-1])
	if a == b {
		t.Fatalf("a resend reused the link")
	}
	// The outbox may deliver the two in either order: exactly one works.
	codeA, _ := get(t, a)
	codeB, _ := get(t, b)
	fresh := a
	if codeB == http.StatusOK {
		fresh = b
	}
	if (codeA == http.StatusOK) == (codeB == http.StatusOK) || codeA+codeB != http.StatusOK+http.StatusGone {
		t.Errorf("after a resend the two links answer %d and %d, want one 200 and one 410", codeA, codeB)
	}
	now = now.Add(2 * time.Hour) // past the TTL
	if code, body := get(t, fresh); code != http.StatusGone || !strings.Contains(body, "Ask your administrator") {
		t.Errorf("expired link: %d, want 410 telling what to do", code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func lastLink(t *testing.T, s *sink) string {
	t.Helper()
	msgs := s.received()
	if len(msgs) == 0 {
		t.Fatal("no e-mail received")
	}
	return linkIn(t, msgs[len(msgs)-1])
}

// linkIn decodes the message's text and finds the invitation link.
func linkIn(t *testing.T, raw string) string {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(m.Body)
	text := string(b)
	if dec, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil || dec == "" {
		t.Errorf("e-mail without a subject")
	}
	// Quoted-printable soft breaks would cut the link.
	text = strings.ReplaceAll(text, "=\r\n", "")
	text = strings.ReplaceAll(text, "=3D", "=")
	l := linkRE.FindString(text)
	if l == "" {
		t.Fatalf("no invitation link in:\n%s", raw)
	}
	return l
}

func get(t *testing.T, link string) (int, string) {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func submit(t *testing.T, link, pw, confirm string) (int, string) {
	t.Helper()
	resp, err := http.PostForm(link, url.Values{"password": {pw}, "confirm": {confirm}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestForgotPasswordThroughRealSMTP: a user asks for a reset link
// themselves; it arrives by SMTP and works once. The answer does not say
// whether the account exists, and asking again at once sends nothing more.
func TestForgotPasswordThroughRealSMTP(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	must(t, err)
	defer st.Close()
	ten := &store.Tenant{Name: "Acme"}
	must(t, st.CreateTenant(ctx, ten))
	u := &store.User{TenantID: ten.ID, UserName: "ada@acme.io", Active: true, Activation: store.ActivationActive,
		Emails: []store.MultiValue{{Value: "ada@acme.io", Primary: true}}}
	must(t, st.CreateUser(ctx, u))
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tm, err := notify.LoadTemplates("")
	must(t, err)
	iv := &auth.Invites{Store: st, TTL: time.Hour, Now: clock, Mail: tm, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	page := httptest.NewServer(iv)
	defer page.Close()
	iv.PublicURL = page.URL
	s := &sink{}
	addr, _ := startSink(t, s, "127.0.0.1:0")
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	sender, err := notify.NewSMTPSender(notify.SMTPConfig{Host: host, Port: port, From: "Roster <no-reply@roster.test>", TLS: "none"})
	must(t, err)
	d := &notify.Dispatcher{Outbox: st, Senders: map[string]notify.Sender{"email": sender}, Holder: "n1", Now: clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	ask := func(org, name string) (int, string) {
		t.Helper()
		resp, err := http.PostForm(page.URL+auth.ForgotPath, url.Values{"org": {org}, "username": {name}})
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, known := ask("acme", "ADA@acme.io") // names as people type them
	if code != http.StatusOK || !strings.Contains(known, "on its way") {
		t.Fatalf("known user: %d\n%s", code, known)
	}
	if sent, _, _ := d.RunOnce(ctx); sent != 1 {
		t.Fatalf("sent %d e-mails, want the reset link", sent)
	}
	link := lastLink(t, s)
	if code, body := submit(t, link, "a brand new passphrase", "a brand new passphrase"); code != http.StatusOK || !strings.Contains(body, "password is changed") {
		t.Fatalf("reset link: %d\n%s", code, body)
	}
	if code, _ := get(t, link); code != http.StatusGone {
		t.Errorf("reset link used twice: %d, want 410", code)
	}
	for _, who := range [][2]string{{"acme", "nobody@acme.io"}, {"nowhere", "ada@acme.io"}} {
		if code, body := ask(who[0], who[1]); code != http.StatusOK || body != known {
			t.Errorf("unknown %v: %d, answer differs from a known user's", who, code)
		}
	}
	now = now.Add(time.Minute)
	ask("acme", "ada@acme.io") // the link above is used: a new one goes out
	ask("acme", "ada@acme.io") // within the cool-down: nothing more
	if sent, _, _ := d.RunOnce(ctx); sent != 1 {
		t.Errorf("two requests a moment apart sent %d e-mails, want 1", sent)
	}
	if code, body := ask("", ""); code != http.StatusUnprocessableEntity || !strings.Contains(body, "Enter the name of your organisation") {
		t.Errorf("empty form: %d", code)
	}
}

// TestSSOInvitationThroughRealSMTP: for a tenant whose users sign in with
// their company's SSO the invitation asks for no password: its link
// activates the account once (by a button, so a mail scanner opening the
// link spends nothing) and points to the company sign-in page; a password
// reset, asked by an admin or by the user, says the company manages the
// password and carries no link, and a reset link minted before the
// tenant turned SSO on changes no password.
func TestSSOInvitationThroughRealSMTP(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	must(t, err)
	defer st.Close()
	ten := &store.Tenant{Name: "Acme"}
	must(t, st.CreateTenant(ctx, ten))
	newUser := func(name string) *store.User {
		u := &store.User{TenantID: ten.ID, UserName: name, Active: true, Activation: store.ActivationPending,
			Emails: []store.MultiValue{{Value: name, Primary: true}}}
		must(t, st.CreateUser(ctx, u))
		return u
	}
	ada, bob := newUser("ada@acme.io"), newUser("bob@acme.io")
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tm, err := notify.LoadTemplates("")
	must(t, err)
	iv := &auth.Invites{Store: st, TTL: time.Hour, Now: clock, Mail: tm, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	page := httptest.NewServer(iv)
	defer page.Close()
	iv.PublicURL = page.URL
	s := &sink{}
	addr, _ := startSink(t, s, "127.0.0.1:0")
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	sender, err := notify.NewSMTPSender(notify.SMTPConfig{Host: host, Port: port, From: "Roster <no-reply@roster.test>", TLS: "none"})
	must(t, err)
	d := &notify.Dispatcher{Outbox: st, Senders: map[string]notify.Sender{"email": sender}, Holder: "n1", Now: clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	deliver := func(want int) string {
		t.Helper()
		if sent, _, err := d.RunOnce(ctx); sent != want || err != nil {
			t.Fatalf("dispatch: sent %d, %v; want %d", sent, err, want)
		}
		msgs := s.received()
		return strings.ReplaceAll(strings.ReplaceAll(msgs[len(msgs)-1], "=\r\n", ""), "=3D", "=")
	}
	const signIn = "https://sso.acme.test/start"

	// A reset link minted while the tenant still used passwords.
	ada.Activation = store.ActivationActive
	must(t, st.UpdateUser(ctx, ada))
	must(t, iv.Send(ctx, ten.ID, ada.ID, store.InviteReset, "admin:test"))
	oldReset := linkIn(t, deliver(1))

	ten.SSO, ten.SSOSignInURL = true, signIn
	must(t, st.UpdateTenant(ctx, ten))

	must(t, iv.Send(ctx, ten.ID, bob.ID, store.InviteActivate, "admin:test"))
	mailText := deliver(1)
	link := linkIn(t, mailText)
	for _, w := range []string{"single sign-on", signIn, "bob@acme.io"} {
		if !strings.Contains(mailText, w) {
			t.Errorf("SSO invitation lacks %q:\n%s", w, mailText)
		}
	}
	if strings.Contains(mailText, "choosing a password") {
		t.Errorf("SSO invitation asks for a password:\n%s", mailText)
	}

	code, body := get(t, link)
	if code != http.StatusOK || strings.Contains(body, `type="password"`) || !strings.Contains(body, "no password to choose") {
		t.Errorf("SSO invitation page: %d, want 200 with no password field\n%s", code, body)
	}
	if got, _ := st.GetUser(ctx, ten.ID, bob.ID); got.Activation != store.ActivationPending {
		t.Errorf("opening the link activated the account (state %q): a mail scanner would spend it", got.Activation)
	}
	code, body = submit(t, link, "", "")
	if code != http.StatusOK || !strings.Contains(body, "Your account is active") || !strings.Contains(body, `href="`+signIn+`"`) {
		t.Fatalf("activating through the SSO page: %d, want 200 linking the company sign-in\n%s", code, body)
	}
	got, _ := st.GetUser(ctx, ten.ID, bob.ID)
	if got.Activation != store.ActivationActive || got.PasswordHash != "" {
		t.Errorf("after SSO activation: state %q, password set=%v; want active without a password", got.Activation, got.PasswordHash != "")
	}
	if code, _ := submit(t, link, "", ""); code != http.StatusGone {
		t.Errorf("second use of the SSO link: %d, want 410", code)
	}

	// The old reset link says who manages the password and sets none.
	for _, try := range []func() (int, string){
		func() (int, string) { return get(t, oldReset) },
		func() (int, string) { return submit(t, oldReset, "a brand new passphrase", "a brand new passphrase") },
	} {
		if code, body := try(); code != http.StatusOK || !strings.Contains(body, "managed by your company") || strings.Contains(body, `type="password"`) {
			t.Errorf("pre-SSO reset link: %d, want 200 saying the company manages the password\n%s", code, body)
		}
	}
	if got, _ := st.GetUser(ctx, ten.ID, ada.ID); got.PasswordHash != "" {
		t.Errorf("a reset link set a password for an SSO tenant's user")
	}

	// An admin's reset and the user's own request say the same, linkless.
	must(t, iv.Send(ctx, ten.ID, bob.ID, store.InviteReset, "admin:test"))
	now = now.Add(auth.ForgotCooldown) // ada's old link was sent a moment ago
	resp, err := http.PostForm(page.URL+auth.ForgotPath, url.Values{"org": {"acme"}, "username": {"ada@acme.io"}})
	must(t, err)
	resp.Body.Close()
	if sent, _, _ := d.RunOnce(ctx); sent != 2 {
		t.Fatalf("dispatch of two resets: sent %d", sent)
	}
	msgs := s.received()
	for _, raw := range msgs[len(msgs)-2:] {
		m, err := mail.ReadMessage(strings.NewReader(raw))
		must(t, err)
		subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if subject != "Your Acme password is managed by your company" || linkRE.MatchString(raw) || !strings.Contains(raw, signIn) {
			t.Errorf("SSO password reset to %s: subject %q, want no link and the company sign-in\n%s", m.Header.Get("To"), subject, raw)
		}
	}

	// Same expiry rule as a password invitation.
	carol := newUser("carol@acme.io")
	must(t, iv.Send(ctx, ten.ID, carol.ID, store.InviteActivate, "admin:test"))
	late := linkIn(t, deliver(1))
	now = now.Add(2 * time.Hour)
	if code, _ := submit(t, late, "", ""); code != http.StatusGone {
		t.Errorf("expired SSO link: %d, want 410", code)
	}
	if got, _ := st.GetUser(ctx, ten.ID, carol.ID); got.Activation != store.ActivationPending {
		t.Errorf("an expired SSO link activated the account")
	}
}
