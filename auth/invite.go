package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	texttemplate "text/template"
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
	if err := iv.Store.RevokeInvitations(ctx, tenantID, userID, store.Timestamp(now)); err != nil {
		return err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	secret := "rsi_" + base64.RawURLEncoding.EncodeToString(b[:])
	ttl := iv.TTL
	if ttl == 0 {
		ttl = DefaultInviteTTL
	}
	inv := &store.Invitation{TenantID: tenantID, UserID: userID, Kind: kind, TokenHash: HashSecret(secret), ExpiresAt: now.Add(ttl)}
	if err := iv.Store.CreateInvitation(ctx, inv); err != nil {
		return err
	}
	orgName := "your organisation"
	if t, err := iv.Store.GetTenant(ctx, tenantID); err == nil {
		orgName = t.Name
	}
	data := inviteMail{Name: firstNonEmpty(u.Name.GivenName, u.DisplayName, u.UserName), UserName: u.UserName, Org: orgName,
		Link: iv.PublicURL + InvitePath + secret, Expires: inv.ExpiresAt.Format("2 January 2006 15:04 MST"), Reset: kind == store.InviteReset}
	subject := "Activate your " + orgName + " account"
	if data.Reset {
		subject = "Set a new password for your " + orgName + " account"
	}
	var text, html bytes.Buffer
	if err := inviteText.Execute(&text, data); err != nil {
		return err
	}
	if err := inviteHTML.Execute(&html, data); err != nil {
		return err
	}
	m := &store.OutboxMessage{TenantID: tenantID, ID: store.NewID(), Channel: "email", To: to, Subject: subject,
		Text: text.String(), HTML: html.String(), State: store.OutboxQueued, NextAttemptAt: now, CreatedAt: store.Timestamp(now)}
	if err := iv.Store.Enqueue(ctx, m); err != nil {
		return err
	}
	return iv.Store.AppendAudit(ctx, &store.AuditEvent{TenantID: tenantID, ID: store.NewID(), At: store.Timestamp(now), Actor: actor,
		Action: "invitation." + kind, TargetType: "user", TargetID: userID, Reason: "link sent to " + to})
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

type inviteMail struct {
	Name, UserName, Org, Link, Expires string
	Reset                              bool
}

var (
	inviteText = texttemplate.Must(texttemplate.New("text").Parse(`Hello {{.Name}},

{{if .Reset}}Someone (probably your administrator) asked for a new password for your {{.Org}} account.{{else}}Your {{.Org}} account is ready. Activate it by choosing a password.{{end}}

Open this link: {{.Link}}

Your user name is {{.UserName}}. The link works once and until {{.Expires}}.
If you did not expect this message, ignore it.
`))
	inviteHTML = template.Must(template.New("html").Parse(`<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5">
<p>Hello {{.Name}},</p>
<p>{{if .Reset}}Someone (probably your administrator) asked for a new password for your {{.Org}} account.{{else}}Your {{.Org}} account is ready. Activate it by choosing a password.{{end}}</p>
<p><a href="{{.Link}}">{{if .Reset}}Set a new password{{else}}Activate your account{{end}}</a></p>
<p>Your user name is <strong>{{.UserName}}</strong>. The link works once and until {{.Expires}}.</p>
<p>If you did not expect this message, ignore it.</p></body></html>`))
)

// ServeHTTP serves GET and POST InvitePath+<secret>: a form to choose a
// password, then the result. Every refusal says what to do next.
func (iv *Invites) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	for range 5 {
		u, err = iv.Store.GetUser(r.Context(), inv.TenantID, inv.UserID)
		if err != nil {
			break
		}
		u.PasswordHash, u.Activation = hash, store.ActivationActive
		if err = iv.Store.UpdateUser(r.Context(), u); !errors.Is(err, store.ErrPrecondition) {
			break
		}
	}
	if err != nil {
		iv.fail(w, r, err)
		return
	}
	_ = iv.Store.AppendAudit(r.Context(), &store.AuditEvent{TenantID: inv.TenantID, ID: store.NewID(), At: store.Timestamp(iv.now()),
		Actor: "user:" + u.ID, Action: "user.password." + inv.Kind, TargetType: "user", TargetID: u.ID})
	page.Done = true
	iv.render(w, r, http.StatusOK, page)
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
	UserName string
	Reset    bool
	Gone     bool
	Done     bool
	Error    string
	Min      int
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
{{if .Gone}}<h1>This link no longer works</h1>
<p>It was already used or it has expired. Ask your administrator to send you a new invitation or password reset.</p>
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
</body></html>`))
