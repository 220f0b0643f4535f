package auth

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/roster-scim/roster/store"
)

// InvitePath is where invitation and password-reset links point.
const InvitePath = "/invite/"

// DefaultInviteTTL is how long an invitation link works.
const DefaultInviteTTL = 72 * time.Hour

// MinPasswordLength is the password policy: length is what makes a
// password strong (NIST SP 800-63B); no composition rules.
const MinPasswordLength = 12

// InviteStore is what invitations need of the store.
type InviteStore interface {
	store.Invitations
	GetUser(ctx context.Context, tenantID, id string) (*store.User, error)
	GetUserByUserName(ctx context.Context, tenantID, userName string) (*store.User, error)
	GetTenantByName(ctx context.Context, name string) (*store.Tenant, error)
	UpdateUser(ctx context.Context, u *store.User) error
	GetTenant(ctx context.Context, id string) (*store.Tenant, error)
	Enqueue(ctx context.Context, m *store.OutboxMessage) error
	AppendAudit(ctx context.Context, e *store.AuditEvent) error
}

// Invites sends activation and password-reset links and serves the page
// behind them, where the user sets a password.
type Invites struct {
	Store     InviteStore
	PublicURL string // without trailing slash
	TTL       time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
	// Mail renders the e-mails and text messages the links travel in
	// (notify.Templates: "invitation", "password-reset" and
	// "login-details"); nil sends a bare message with the link.
	Mail MailTemplates
}

// MailTemplates render messages by name from string fields.
type MailTemplates interface {
	Render(name string, data map[string]string) (subject, text, html string, err error)
}

func (iv *Invites) now() time.Time {
	if iv.Now != nil {
		return iv.Now()
	}
	return time.Now()
}

// Invitation errors an admin can act on.
var (
	ErrAlreadyActive = errors.New("the user has already activated their account; send a password reset instead")
	ErrNoEmail       = errors.New("the user has no e-mail address to send the link to")
	ErrNoMobile      = errors.New("the user has no mobile phone number to send the text message to")
)

// Send mints a new link of kind (store.InviteActivate or
// store.InviteReset) for the user, revoking every earlier one (a resend
// rotates the token), and queues the e-mail. The link works once.
func (iv *Invites) Send(ctx context.Context, tenantID, userID, kind, actor string) error {
	u, err := iv.Store.GetUser(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	if kind == store.InviteActivate && u.Activation == store.ActivationActive {
		return ErrAlreadyActive
	}
	to := u.PrimaryEmail()
	if to == "" {
		return ErrNoEmail
	}
	now := iv.now()
	data, err := iv.mint(ctx, u, kind, now)
	if err != nil {
		return err
	}
	name := "invitation"
	if kind == store.InviteReset {
		name = "password-reset"
		if data["SSO"] != "" {
			// The company manages the password: the message says so and
			// carries no link. The link is still recorded, so the user's
			// own requests keep their cooldown.
			data["Link"], data["Expires"] = "", ""
		}
	}
	subject, text, html, err := iv.renderMail(name, data)
	if err != nil {
		return fmt.Errorf("%s e-mail: %w", name, err)
	}
	m := &store.OutboxMessage{TenantID: tenantID, ID: store.NewID(), Channel: "email", To: to, Subject: subject,
		Text: text, HTML: html, State: store.OutboxQueued, NextAttemptAt: now, CreatedAt: store.Timestamp(now)}
	if err := iv.Store.Enqueue(ctx, m); err != nil {
		return err
	}
	return iv.Store.AppendAudit(ctx, &store.AuditEvent{TenantID: tenantID, ID: store.NewID(), At: store.Timestamp(now), Actor: actor,
		Action: "invitation." + kind, TargetType: "user", TargetID: userID, Reason: "link sent to " + to})
}

// mint revokes the user's earlier links and records a new one of kind,
// returning the fields of the message that carries it.
func (iv *Invites) mint(ctx context.Context, u *store.User, kind string, now time.Time) (map[string]string, error) {
	if err := iv.Store.RevokeInvitations(ctx, u.TenantID, u.ID, store.Timestamp(now)); err != nil {
		return nil, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	secret := "rsi_" + base64.RawURLEncoding.EncodeToString(b[:])
	ttl := iv.TTL
	if ttl == 0 {
		ttl = DefaultInviteTTL
	}
	inv := &store.Invitation{TenantID: u.TenantID, UserID: u.ID, Kind: kind, TokenHash: HashSecret(secret), ExpiresAt: now.Add(ttl)}
	if err := iv.Store.CreateInvitation(ctx, inv); err != nil {
		return nil, err
	}
	data := iv.fields(ctx, u)
	data["Link"] = iv.PublicURL + InvitePath + secret
	data["Expires"] = inv.ExpiresAt.Format("2 January 2006 15:04 MST")
	return data, nil
}

// fields are the message fields every link message has. SSO is "true"
// when the tenant's users sign in with their company's SSO.
func (iv *Invites) fields(ctx context.Context, u *store.User) map[string]string {
	orgName, sso, signIn := "your organisation", "", ""
	if t, err := iv.Store.GetTenant(ctx, u.TenantID); err == nil {
		orgName = t.Name
		if t.SSO {
			sso, signIn = "true", t.SSOSignInURL
		}
	}
	return map[string]string{"Name": firstNonEmpty(u.Name.GivenName, u.DisplayName, u.UserName), "UserName": u.UserName,
		"Org": orgName, "Link": "", "Expires": "", "SSO": sso, "SignInURL": signIn}
}

// SendLoginSMS queues a text message with the user's login details to
// their mobile phone (the seeds' "send login details by SMS"), normalised
// by normalise (E.164; its error is shown to the admin as is). A user still
// pending activation gets a fresh activation link in it, so earlier links
// stop working as with a resend; an active user gets their user name and
// a reminder, since Roster never knows a password to send. It returns the
// number the message goes to.
func (iv *Invites) SendLoginSMS(ctx context.Context, tenantID, userID, actor string, normalise func(string) (string, error)) (string, error) {
	u, err := iv.Store.GetUser(ctx, tenantID, userID)
	if err != nil {
		return "", err
	}
	raw := ""
	for _, p := range u.PhoneNumbers {
		if strings.EqualFold(p.Type, "mobile") {
			raw = p.Value
			break
		}
	}
	if raw == "" {
		return "", ErrNoMobile
	}
	to, err := normalise(raw)
	if err != nil {
		return "", err
	}
	now := iv.now()
	data := iv.fields(ctx, u)
	if u.Activation == store.ActivationPending {
		if data, err = iv.mint(ctx, u, store.InviteActivate, now); err != nil {
			return "", err
		}
	}
	var text string
	if iv.Mail != nil {
		_, text, _, err = iv.Mail.Render("login-details", data)
		if err != nil {
			return "", fmt.Errorf("login-details text message: %w", err)
		}
	} else {
		text = data["Org"] + ": your user name is " + data["UserName"] + ". " + data["Link"]
	}
	m := &store.OutboxMessage{TenantID: tenantID, ID: store.NewID(), Channel: "sms", To: to, Text: text,
		State: store.OutboxQueued, NextAttemptAt: now, CreatedAt: store.Timestamp(now)}
	if err := iv.Store.Enqueue(ctx, m); err != nil {
		return "", err
	}
	return to, iv.Store.AppendAudit(ctx, &store.AuditEvent{TenantID: tenantID, ID: store.NewID(), At: store.Timestamp(now), Actor: actor,
		Action: "login-details.sms", TargetType: "user", TargetID: userID, Reason: "text message to " + to})
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// renderMail fills the message's templates, or without any a bare message
// with the link (packages and tests that do not send e-mail).
func (iv *Invites) renderMail(name string, data map[string]string) (subject, text, html string, err error) {
	if iv.Mail != nil {
		return iv.Mail.Render(name, data)
	}
	subject = "Activate your " + data["Org"] + " account"
	if name == "password-reset" {
		subject = "Set a new password for your " + data["Org"] + " account"
		if data["SSO"] != "" {
			subject = "Your " + data["Org"] + " password is managed by your company"
			where := ""
			if data["SignInURL"] != "" {
				where = " at " + data["SignInURL"]
			}
			text = "Hello " + data["Name"] + ",\n\nYour password is managed by your company: sign in with your company SSO" +
				where + ".\n\nYour user name is " + data["UserName"] + ".\n"
			return subject, text, "", nil
		}
	}
	text = "Hello " + data["Name"] + ",\n\nOpen this link: " + data["Link"] + "\n\nYour user name is " + data["UserName"] +
		". The link works once and until " + data["Expires"] + ".\n"
	return subject, text, "", nil
}

// ForgotPath is where users ask for a password-reset link themselves.
const ForgotPath = InvitePath + "forgot"

// ForgotCooldown is how long after a link was sent a user's own request
// sends no other: asking repeatedly must not flood anyone's mailbox.
const ForgotCooldown = 5 * time.Minute

// ServeHTTP serves GET and POST InvitePath+<secret>: a form to choose a
// password, then the result. Every refusal says what to do next. At
// ForgotPath it serves the user's own request for a reset link.
func (iv *Invites) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == ForgotPath {
		iv.forgot(w, r)
		return
	}
	secret := strings.TrimPrefix(r.URL.Path, InvitePath)
	inv, err := iv.usable(r.Context(), secret)
	if err != nil {
		iv.render(w, r, http.StatusGone, invitePage{Gone: true})
		return
	}
	u, err := iv.Store.GetUser(r.Context(), inv.TenantID, inv.UserID)
	if err != nil {
		iv.render(w, r, http.StatusGone, invitePage{Gone: true})
		return
	}
	page := invitePage{UserName: u.UserName, Reset: inv.Kind == store.InviteReset}
	t, err := iv.Store.GetTenant(r.Context(), inv.TenantID)
	if err != nil {
		iv.fail(w, r, err)
		return
	}
	if t.SSO {
		page.SSO, page.SignInURL, page.Org = true, t.SSOSignInURL, t.Name
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		iv.render(w, r, http.StatusOK, page)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if page.SSO {
		iv.activateSSO(w, r, inv, page)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	pw, confirm := r.PostFormValue("password"), r.PostFormValue("confirm")
	if msg := passwordProblem(pw, confirm, u.UserName); msg != "" {
		page.Error = msg
		iv.render(w, r, http.StatusUnprocessableEntity, page)
		return
	}
	hash, err := HashPassword(pw)
	if err != nil {
		iv.fail(w, r, err)
		return
	}
	// Spend the link first: of two submissions racing, one wins.
	if err := iv.Store.UseInvitation(r.Context(), inv.TenantID, inv.ID, store.Timestamp(iv.now())); err != nil {
		iv.render(w, r, http.StatusGone, invitePage{Gone: true})
		return
	}
	if u, err = iv.activate(r.Context(), inv, hash); err != nil {
		iv.fail(w, r, err)
		return
	}
	_ = iv.Store.AppendAudit(r.Context(), &store.AuditEvent{TenantID: inv.TenantID, ID: store.NewID(), At: store.Timestamp(iv.now()),
		Actor: "user:" + u.ID, Action: "user.password." + inv.Kind, TargetType: "user", TargetID: u.ID})
	page.Done = true
	iv.render(w, r, http.StatusOK, page)
}

// activate marks the invitation's user active and, when hash is not
// empty, sets their password.
func (iv *Invites) activate(ctx context.Context, inv *store.Invitation, hash string) (*store.User, error) {
	var u *store.User
	var err error
	for range 5 {
		u, err = iv.Store.GetUser(ctx, inv.TenantID, inv.UserID)
		if err != nil {
			return nil, err
		}
		if hash != "" {
			u.PasswordHash = hash
		}
		u.Activation = store.ActivationActive
		if err = iv.Store.UpdateUser(ctx, u); !errors.Is(err, store.ErrPrecondition) {
			break
		}
	}
	return u, err
}

// activateSSO answers the page's one button for a tenant whose users sign
// in with their company's SSO: an activation link activates the account
// without a password; a password-reset link changes nothing, since the
// company manages the password. The button (rather than the GET) does it
// because mail scanners open links, and would spend it.
func (iv *Invites) activateSSO(w http.ResponseWriter, r *http.Request, inv *store.Invitation, page invitePage) {
	if page.Reset {
		iv.render(w, r, http.StatusOK, page)
		return
	}
	if err := iv.Store.UseInvitation(r.Context(), inv.TenantID, inv.ID, store.Timestamp(iv.now())); err != nil {
		iv.render(w, r, http.StatusGone, invitePage{Gone: true})
		return
	}
	u, err := iv.activate(r.Context(), inv, "")
	if err != nil {
		iv.fail(w, r, err)
		return
	}
	_ = iv.Store.AppendAudit(r.Context(), &store.AuditEvent{TenantID: inv.TenantID, ID: store.NewID(), At: store.Timestamp(iv.now()),
		Actor: "user:" + u.ID, Action: "user.password." + store.InviteActivate, TargetType: "user", TargetID: u.ID,
		Reason: "signs in with company SSO: no password set"})
	page.Done = true
	iv.render(w, r, http.StatusOK, page)
}

// forgot is "Forgot your password?": the user names their organisation
// and user name, and a reset link goes to the user's e-mail address (an
// activation link while the account is still pending). The answer is the
// same whether or not the account exists, so the page cannot be used to
// find out who has one.
func (iv *Invites) forgot(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		iv.render(w, r, http.StatusOK, invitePage{Forgot: true})
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	org, name := strings.TrimSpace(r.PostFormValue("org")), strings.TrimSpace(r.PostFormValue("username"))
	if org == "" || name == "" {
		iv.render(w, r, http.StatusUnprocessableEntity, invitePage{Forgot: true, Org: org, UserName: name,
			Error: "Enter the name of your organisation and your user name."})
		return
	}
	if err := iv.sendForgotten(r.Context(), org, name); err != nil {
		iv.fail(w, r, err)
		return
	}
	iv.render(w, r, http.StatusOK, invitePage{Forgot: true, Sent: true})
}

// sendForgotten sends the link when the account exists, is active and has
// an address, and no link was sent in the last ForgotCooldown.
func (iv *Invites) sendForgotten(ctx context.Context, org, name string) error {
	t, err := iv.Store.GetTenantByName(ctx, org)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	u, err := iv.Store.GetUserByUserName(ctx, t.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if t.Suspended || !u.Active || u.PrimaryEmail() == "" {
		return nil
	}
	invs, err := iv.Store.ListInvitations(ctx, t.ID, u.ID)
	if err != nil {
		return err
	}
	ttl := cmp.Or(iv.TTL, DefaultInviteTTL)
	now := iv.now()
	for _, inv := range invs {
		if inv.UsedAt.IsZero() && inv.ExpiresAt.After(now) && now.Sub(inv.ExpiresAt.Add(-ttl)) < ForgotCooldown {
			return nil
		}
	}
	kind := store.InviteReset
	if u.Activation == store.ActivationPending {
		kind = store.InviteActivate
	}
	return iv.Send(ctx, t.ID, u.ID, kind, "user:"+u.ID)
}

func (iv *Invites) usable(ctx context.Context, secret string) (*store.Invitation, error) {
	if !strings.HasPrefix(secret, "rsi_") || len(secret) > 100 {
		return nil, store.ErrNotFound
	}
	inv, err := iv.Store.InvitationByHash(ctx, HashSecret(secret))
	if err != nil {
		return nil, err
	}
	if inv.Kind != store.InviteActivate && inv.Kind != store.InviteReset {
		return nil, store.ErrNotFound
	}
	if !inv.UsedAt.IsZero() || !iv.now().Before(inv.ExpiresAt) {
		return nil, store.ErrExpired
	}
	return inv, nil
}

// PasswordPolicy checks a password set for someone else (an import
// file's Password column): the same length rule as the link page, worded
// for a row of the file.
func PasswordPolicy(pw string) error {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordLength:
		return fmt.Errorf("too short (at least %d characters; a few words together make a strong one); or leave it empty to send an invitation", MinPasswordLength)
	case len(pw) > 256:
		return errors.New("too long (at most 256 characters)")
	}
	return nil
}

// passwordProblem returns what is wrong with a chosen password, or "".
func passwordProblem(pw, confirm, userName string) string {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPasswordLength:
		return fmt.Sprintf("Choose a password of at least %d characters; a few words together make a strong one.", MinPasswordLength)
	case len(pw) > 256:
		return "That password is too long; use at most 256 characters."
	case pw != confirm:
		return "The two passwords differ; type the same password twice."
	case containsLogin(pw, userName):
		return "The password must not contain your user name."
	}
	return ""
}

// containsLogin reports whether pw contains the user name or, for an
// e-mail login, its local part (when that is long enough to matter).
func containsLogin(pw, userName string) bool {
	lower := strings.ToLower(pw)
	local, _, _ := strings.Cut(strings.ToLower(userName), "@")
	return strings.Contains(lower, strings.ToLower(userName)) || (len(local) >= 4 && strings.Contains(lower, local))
}

type invitePage struct {
	UserName  string
	Org       string
	SSO       bool   // the tenant's users sign in with their company's SSO
	SignInURL string // where, when the tenant said
	Forgot    bool   // the "Forgot your password?" form
	Sent      bool   // its answer
	Reset     bool
	Gone      bool
	Done      bool
	Error     string
	Min       int
}

func (iv *Invites) render(w http.ResponseWriter, r *http.Request, status int, p invitePage) {
	p.Min = MinPasswordLength
	var buf bytes.Buffer
	if err := invitePageTmpl.Execute(&buf, p); err != nil {
		iv.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the URL holds the secret
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (iv *Invites) fail(w http.ResponseWriter, r *http.Request, err error) {
	log := iv.Logger
	if log == nil {
		log = slog.Default()
	}
	log.ErrorContext(r.Context(), "invitation page", "err", err)
	http.Error(w, "Something went wrong on our side. Try the link again in a minute.", http.StatusInternalServerError)
}

var invitePageTmpl = template.Must(template.New("invite").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{{if .Reset}}Set a new password{{else}}Activate your account{{end}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:28em;margin:3em auto;padding:0 1em;color:#1d2430}
label{display:block;margin:1em 0 .25em;font-weight:600}input{font:inherit;width:100%;box-sizing:border-box;padding:.5em;border:1px solid #9aa4b5;border-radius:4px}
button{font:inherit;margin-top:1.25em;padding:.5em 1.25em;border:0;border-radius:4px;background:#2553b8;color:#fff;cursor:pointer}
.error{background:#fde8e8;border:1px solid #e0a0a0;border-radius:4px;padding:.75em 1em}.ok{background:#e6f4ea;border:1px solid #9fd3ad;border-radius:4px;padding:.75em 1em}</style>
</head><body>
{{if .Forgot}}<h1>Forgot your password?</h1>
{{if .Sent}}<p class="ok" role="status">If that account exists and is active, a link to set a new password is on its way to its e-mail address. It works once; if nothing arrives within a few minutes, check the user name or ask your administrator.</p>
{{else}}<p>Enter your organisation and user name; a link to set a new password goes to your e-mail address.</p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post">
<label for="org">Organisation</label>
<input id="org" name="org" value="{{.Org}}" autocomplete="organization" maxlength="200" required>
<label for="username">User name</label>
<input id="username" name="username" value="{{.UserName}}" autocomplete="username" maxlength="512" required>
<button type="submit">Send the link</button>
</form>{{end}}
{{else if .Gone}}<h1>This link no longer works</h1>
<p>It was already used or it has expired. Ask your administrator to send you a new invitation or password reset, or <a href="forgot">ask for a new link yourself</a>.</p>
{{else if and .SSO .Reset}}<h1>Your password is managed by your company</h1>
<p>{{.Org}} signs you in with your company's single sign-on (SSO), so your password cannot be changed here. {{template "signin" .}} If you forgot your password, ask your company's IT service desk.</p>
<p>User name: <strong>{{.UserName}}</strong></p>
{{else if and .SSO .Done}}<h1>Your account is active</h1>
<p class="ok" role="status">{{template "signin" .}} Your user name is <strong>{{.UserName}}</strong>.</p>
{{else if .SSO}}<h1>Activate your account</h1>
<p>User name: <strong>{{.UserName}}</strong></p>
<p>{{.Org}} signs you in with your company's single sign-on (SSO): there is no password to choose. Activate the account, then sign in with your company SSO.</p>
<form method="post"><button type="submit">Activate</button></form>
{{else if .Done}}<h1>{{if .Reset}}Your password is changed{{else}}Your account is active{{end}}</h1>
<p class="ok" role="status">Sign in from the app with your user name <strong>{{.UserName}}</strong> and the password you just chose.</p>
{{else}}<h1>{{if .Reset}}Set a new password{{else}}Activate your account{{end}}</h1>
<p>User name: <strong>{{.UserName}}</strong></p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post">
<label for="password">New password (at least {{.Min}} characters)</label>
<input id="password" name="password" type="password" autocomplete="new-password" minlength="{{.Min}}" maxlength="256" required>
<label for="confirm">Type it again</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength="{{.Min}}" maxlength="256" required>
<button type="submit">{{if .Reset}}Set password{{else}}Activate{{end}}</button>
</form>{{end}}
</body></html>
{{define "signin"}}Sign in with your company SSO{{with .SignInURL}} at <a href="{{.}}">{{.}}</a>{{end}}.{{end}}`))
