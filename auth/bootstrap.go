package auth

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

// InviteBootstrap is the store.Invitation kind of a bootstrap operator
// link. Such an invitation belongs to no user (UserID ""); it is filed
// under the tenant the server created on first start.
const InviteBootstrap = "bootstrap"

// BootstrapPath is where a bootstrap link points.
const BootstrapPath = "/admin/bootstrap"

// bootstrapPrefix marks a bootstrap link secret, distinct from SCIM
// tokens so one is never mistaken for the other.
const bootstrapPrefix = "rsb_"

// DefaultBootstrapTTL is how long a bootstrap link stays usable.
const DefaultBootstrapTTL = 24 * time.Hour

// BootstrapInvitations is what Bootstrap needs from the store. Links are
// kept as invitations, so every node of a cluster accepts a link another
// node printed, and UseInvitation makes "once" hold across nodes.
type BootstrapInvitations interface {
	CreateInvitation(ctx context.Context, inv *store.Invitation) error
	InvitationByHash(ctx context.Context, hash string) (*store.Invitation, error)
	UseInvitation(ctx context.Context, tenantID, id string, at time.Time) error
	RevokeInvitations(ctx context.Context, tenantID, userID string, at time.Time) error
}

// Bootstrap is the way into the admin portal while no OIDC provider is
// configured: `roster serve` prints a one-time link; opening it and
// confirming signs the browser in as the platform operator.
//
// The link itself only shows a confirmation button: the secret is
// consumed by the POST that button sends, so a chat or mail client that
// fetches links to preview them cannot burn it.
type Bootstrap struct {
	Invitations BootstrapInvitations
	// TenantID files the links in the store (see InviteBootstrap).
	TenantID string
	Sessions *Sessions
	// TTL is how long a link is valid (default DefaultBootstrapTTL).
	TTL    time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

func (b *Bootstrap) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func (b *Bootstrap) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.Default()
}

// NewLink stores a fresh link secret, revoking any earlier unused one, and
// returns the secret; the link is BootstrapURL(publicURL, secret).
func (b *Bootstrap) NewLink(ctx context.Context) (string, error) {
	now := store.Timestamp(b.now())
	ttl := b.TTL
	if ttl <= 0 {
		ttl = DefaultBootstrapTTL
	}
	if err := b.Invitations.RevokeInvitations(ctx, b.TenantID, "", now); err != nil {
		return "", fmt.Errorf("bootstrap link: revoke earlier links: %w", err)
	}
	secret := bootstrapPrefix + newSecret()
	inv := &store.Invitation{
		TenantID:  b.TenantID,
		ID:        store.NewID(),
		Kind:      InviteBootstrap,
		TokenHash: HashSecret(secret),
		ExpiresAt: now.Add(ttl),
		CreatedAt: now,
	}
	if err := b.Invitations.CreateInvitation(ctx, inv); err != nil {
		return "", fmt.Errorf("bootstrap link: %w", err)
	}
	return secret, nil
}

// BootstrapURL is the link to print for secret.
func BootstrapURL(publicURL, secret string) string {
	return strings.TrimRight(publicURL, "/") + BootstrapPath + "?token=" + url.QueryEscape(secret)
}

var errLinkUsed = errors.New("link used, expired or unknown")

// check finds the unused, unexpired bootstrap invitation of secret.
func (b *Bootstrap) check(ctx context.Context, secret string) (*store.Invitation, error) {
	if !strings.HasPrefix(secret, bootstrapPrefix) {
		return nil, errLinkUsed
	}
	hash := HashSecret(secret)
	inv, err := b.Invitations.InvitationByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errLinkUsed
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(inv.TokenHash), []byte(hash)) != 1 ||
		inv.Kind != InviteBootstrap || inv.TenantID != b.TenantID ||
		!inv.UsedAt.IsZero() || !b.now().Before(inv.ExpiresAt) {
		return nil, errLinkUsed
	}
	return inv, nil
}

// ServeHTTP shows the confirmation page (GET) and consumes the link,
// setting the session cookie (POST).
func (b *Bootstrap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	// The secret is in the URL: never send it to another site.
	w.Header().Set("Referrer-Policy", "no-referrer")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		secret := r.URL.Query().Get("token")
		if _, err := b.check(r.Context(), secret); err != nil {
			b.fail(w, r, err)
			return
		}
		renderPage(w, http.StatusOK, bootstrapConfirm, map[string]string{"Token": secret, "Action": BootstrapPath})
	case http.MethodPost:
		secret := r.PostFormValue("token")
		inv, err := b.check(r.Context(), secret)
		if err == nil {
			err = b.Invitations.UseInvitation(r.Context(), inv.TenantID, inv.ID, store.Timestamp(b.now()))
			if errors.Is(err, store.ErrExpired) || errors.Is(err, store.ErrNotFound) {
				err = errLinkUsed // another tab or node used it first
			}
		}
		if err != nil {
			b.fail(w, r, err)
			return
		}
		b.Sessions.Issue(w, Session{Subject: "bootstrap-operator", Role: RoleOperator, Via: "bootstrap"})
		b.logger().InfoContext(r.Context(), "bootstrap operator signed in", "invitation", inv.ID)
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (b *Bootstrap) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errLinkUsed) {
		renderPage(w, http.StatusGone, bootstrapGone, nil)
		return
	}
	b.logger().ErrorContext(r.Context(), "bootstrap link check failed", "err", err)
	renderPage(w, http.StatusInternalServerError, bootstrapError, nil)
}

// pageCSP allows the inline style of these pages and nothing else.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// renderPage renders into a buffer first so a template error becomes a
// clean 500 rather than half a page.
func renderPage(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

const pageHead = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Roster sign-in</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:34em;margin:4em auto;padding:0 1em;color:#1d2430}
button{font:inherit;padding:.5em 1.2em;border:0;border-radius:4px;background:#2151c5;color:#fff;cursor:pointer}</style>
</head><body>`

var (
	bootstrapConfirm = template.Must(template.New("confirm").Parse(pageHead + `
<h1>Sign in to Roster</h1>
<p>This one-time link signs this browser in as the platform operator. It works once: after you
continue, the link is spent.</p>
<form method="post" action="{{.Action}}"><input type="hidden" name="token" value="{{.Token}}">
<button type="submit">Continue as operator</button></form>
</body></html>`))
	bootstrapGone = template.Must(template.New("gone").Parse(pageHead + `
<h1>This sign-in link no longer works</h1>
<p>It was already used, has expired, or was replaced by a newer one. Each start of
<code>roster serve</code> without OIDC configured prints a fresh one-time link.</p>
</body></html>`))
	bootstrapError = template.Must(template.New("error").Parse(pageHead + `
<h1>Sign-in failed</h1>
<p>Roster could not check the link just now. Try again in a moment; the server log says why.</p>
</body></html>`))
)
