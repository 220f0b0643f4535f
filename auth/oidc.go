package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDCConfig is admin sign-in through an OpenID Connect provider and the
// mapping of its users to the platform-operator role. cmd fills it from
// the oidc.* configuration keys.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is where the provider sends the browser back:
	// <public URL>/admin/oidc/callback, registered at the provider.
	RedirectURL string
	// Scopes must include "openid"; "email" is needed to match tenant
	// admins by e-mail.
	Scopes []string
	// Operators are recognised by subject, by verified e-mail, or by
	// one of OperatorGroups in the ID token claim OperatorGroupsClaim.
	OperatorSubjects    []string
	OperatorEmails      []string
	OperatorGroupsClaim string
	OperatorGroups      []string
	// ExternalIDClaim, when set, names the ID token claim that identifies
	// a tenant admin by the user's externalId (what the identity provider
	// sent over SCIM), in place of the subject. Set it to "oid" for
	// Microsoft Entra ID: Entra's "sub" is pairwise (different for every
	// application) while SCIM provisioning sends the user's object ID as
	// externalId (attribute mapping objectId → externalId), and its ID
	// tokens carry no email_verified, so without it no Entra user is ever
	// recognised as a tenant admin. The claim must be in the ID token
	// itself (Entra's "oid" is, with the profile scope); a token without
	// it matches by verified e-mail only. Register the application as
	// single-tenant, so only your own directory's users reach the check.
	ExternalIDClaim string
	// PostLogoutRedirectURL, when set, is sent with RP-initiated logout
	// and must be registered at the provider; empty leaves the browser on
	// the provider's own "signed out" page.
	PostLogoutRedirectURL string
}

// Configured reports whether sign-in through OIDC is set up.
func (c OIDCConfig) Configured() bool { return c.Issuer != "" }

// OIDCOptions tunes OIDC beyond what the configuration file says.
type OIDCOptions struct {
	// Secure marks the sign-in cookie Secure (the portal is served over https).
	Secure bool
	// CookiePath scopes the sign-in cookie (default "/admin").
	CookiePath string
	// HTTPClient talks to the provider (default http.DefaultClient).
	HTTPClient *http.Client
	// Now is the clock used to check token expiry (default time.Now).
	Now func() time.Time
}

// LoginCookie is the short-lived cookie that carries a sign-in in
// progress (state, nonce, PKCE verifier) from the redirect to the
// callback. It lives in the browser rather than in the store so that the
// callback can land on any node and nothing is written before the
// provider has said who the person is.
const LoginCookie = "roster_login"

// loginTTL bounds how long a person may take at the provider's login page.
const loginTTL = 10 * time.Minute

// Sign-in failures. Each says what went wrong in words an admin can act
// on; the underlying cause goes to the log, not to the browser.
var (
	// ErrLoginState: the callback does not belong to a sign-in this
	// browser started (wrong or missing state, expired, replayed).
	ErrLoginState = errors.New("this sign-in was not started in this browser, took too long or was already completed; start again")
	// ErrProviderDenied: the provider answered with an error (the person
	// cancelled, or is not allowed to use the application).
	ErrProviderDenied = errors.New("the identity provider did not sign you in")
	// ErrCodeExchange: the provider refused the authorization code (used
	// twice, expired) or could not be reached.
	ErrCodeExchange = errors.New("the identity provider refused to complete the sign-in; start again")
	// ErrIDToken: the ID token is missing, forged, expired, for another
	// client, or its nonce does not match this sign-in.
	ErrIDToken = errors.New("the identity provider's answer could not be verified; start again")
	// ErrProviderUnavailable: discovery failed (provider down or issuer
	// misconfigured).
	ErrProviderUnavailable = errors.New("the identity provider cannot be reached just now")
)

// LoginError wraps one of the sign-in failures above with its cause, for
// the log.
type LoginError struct {
	Kind  error
	Cause error
	// Detail is the provider's own error code (e.g. "access_denied"),
	// safe to show.
	Detail string
}

func (e *LoginError) Error() string {
	if e.Cause == nil {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Cause.Error()
}

func (e *LoginError) Unwrap() error { return e.Kind }

// Identity is who the provider says signed in.
type Identity struct {
	Subject string
	// ExternalID is the value of OIDCConfig.ExternalIDClaim in the ID
	// token ("" when not configured or absent).
	ExternalID    string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
	// IDToken is the raw ID token, kept for id_token_hint at logout.
	IDToken string
}

// OIDC runs the authorization code flow with PKCE, state and nonce.
// The provider's discovery document is fetched on first use, not at
// start-up, so Roster starts while the provider is unreachable.
type OIDC struct {
	cfg  OIDCConfig
	opts OIDCOptions

	mu         sync.Mutex
	provider   *oidc.Provider
	endSession string
	triedAt    time.Time
	lastErr    error
}

// NewOIDC checks cfg and returns a client for it.
func NewOIDC(cfg OIDCConfig, opts OIDCOptions) (*OIDC, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("oidc: issuer is not set")
	case cfg.ClientID == "":
		return nil, errors.New("oidc: client_id is not set")
	case cfg.RedirectURL == "":
		return nil, errors.New("oidc: redirect_url is not set")
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		return nil, errors.New("oidc: scopes must include openid")
	}
	if opts.CookiePath == "" {
		opts.CookiePath = "/admin"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &OIDC{cfg: cfg, opts: opts}, nil
}

// Config returns the configuration o was made with.
func (o *OIDC) Config() OIDCConfig { return o.cfg }

// rediscoverAfter is how long a failed discovery is remembered before the
// next sign-in tries again, so a provider outage does not turn every page
// load into a slow request to it.
const rediscoverAfter = 10 * time.Second

func (o *OIDC) ctx(ctx context.Context) context.Context {
	if o.opts.HTTPClient != nil {
		// go-oidc and x/oauth2 each look for the client under their own key.
		ctx = oidc.ClientContext(ctx, o.opts.HTTPClient)
		ctx = context.WithValue(ctx, oauth2.HTTPClient, o.opts.HTTPClient)
	}
	return ctx
}

// discover returns the provider, fetching its metadata once.
func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	if o.lastErr != nil && o.opts.Now().Sub(o.triedAt) < rediscoverAfter {
		return nil, &LoginError{Kind: ErrProviderUnavailable, Cause: o.lastErr}
	}
	ctx, cancel := context.WithTimeout(o.ctx(context.WithoutCancel(ctx)), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	o.triedAt = o.opts.Now()
	if err != nil {
		o.lastErr = err
		return nil, &LoginError{Kind: ErrProviderUnavailable, Cause: err}
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = p.Claims(&meta)
	o.provider, o.endSession, o.lastErr = p, meta.EndSession, nil
	return p, nil
}

func (o *OIDC) oauth2Config(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     o.cfg.ClientID,
		ClientSecret: o.cfg.ClientSecret,
		RedirectURL:  o.cfg.RedirectURL,
		Endpoint:     p.Endpoint(),
		Scopes:       o.cfg.Scopes,
	}
}

// loginState is what LoginCookie holds.
type loginState struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Next     string    `json:"r"`
	Expires  time.Time `json:"e"`
}

// StartLogin sends the browser to the provider, remembering in
// LoginCookie where to return to (next, a path the caller has checked).
func (o *OIDC) StartLogin(w http.ResponseWriter, r *http.Request, next string) error {
	p, err := o.discover(r.Context())
	if err != nil {
		return err
	}
	ls := loginState{State: newSecret(), Nonce: newSecret(), Verifier: oauth2.GenerateVerifier(), Next: next,
		Expires: o.opts.Now().Add(loginTTL).UTC().Truncate(time.Second)}
	raw, _ := json.Marshal(ls)
	http.SetCookie(w, &http.Cookie{
		Name: LoginCookie, Value: base64.RawURLEncoding.EncodeToString(raw), Path: o.opts.CookiePath,
		MaxAge: int(loginTTL / time.Second), HttpOnly: true, Secure: o.opts.Secure,
		// Lax: the provider's redirect back is a top-level GET from
		// another site, which Lax cookies accompany and Strict ones do not.
		SameSite: http.SameSiteLaxMode,
	})
	u := o.oauth2Config(p).AuthCodeURL(ls.State, oidc.Nonce(ls.Nonce), oauth2.S256ChallengeOption(ls.Verifier))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
	return nil
}

func (o *OIDC) clearLoginCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: LoginCookie, Value: "", Path: o.opts.CookiePath, MaxAge: -1,
		HttpOnly: true, Secure: o.opts.Secure, SameSite: http.SameSiteLaxMode})
}

// FinishLogin completes a sign-in at the callback: it checks state
// against LoginCookie (which it clears, so a callback works once per
// started sign-in), exchanges the code with the PKCE verifier, verifies
// the ID token and its nonce, and reads the person's claims (from the
// userinfo endpoint too when the ID token leaves the e-mail out). It
// returns the identity and the path the sign-in was started from.
func (o *OIDC) FinishLogin(w http.ResponseWriter, r *http.Request) (*Identity, string, error) {
	ls, err := o.readLoginCookie(r)
	o.clearLoginCookie(w)
	if err != nil {
		return nil, "", err
	}
	q := r.URL.Query()
	if q.Get("state") == "" || q.Get("state") != ls.State {
		return nil, "", &LoginError{Kind: ErrLoginState, Cause: errors.New("state does not match the sign-in cookie")}
	}
	if e := q.Get("error"); e != "" {
		return nil, "", &LoginError{Kind: ErrProviderDenied, Cause: fmt.Errorf("%s: %s", e, q.Get("error_description")), Detail: safeCode(e)}
	}
	code := q.Get("code")
	if code == "" {
		return nil, "", &LoginError{Kind: ErrCodeExchange, Cause: errors.New("callback without a code")}
	}
	p, err := o.discover(r.Context())
	if err != nil {
		return nil, "", err
	}
	ctx := o.ctx(r.Context())
	oc := o.oauth2Config(p)
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		return nil, "", &LoginError{Kind: ErrCodeExchange, Cause: err}
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, "", &LoginError{Kind: ErrIDToken, Cause: errors.New("token response without id_token")}
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: o.opts.Now}).Verify(ctx, rawID)
	if err != nil {
		return nil, "", &LoginError{Kind: ErrIDToken, Cause: err}
	}
	if idt.Nonce != ls.Nonce {
		return nil, "", &LoginError{Kind: ErrIDToken, Cause: errors.New("nonce does not match the sign-in cookie")}
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, "", &LoginError{Kind: ErrIDToken, Cause: err}
	}
	id := &Identity{Subject: idt.Subject, IDToken: rawID, ExternalID: o.cfg.ExternalIDOf(rawID)}
	o.fill(id, claims)
	if id.Email == "" && p.UserInfoEndpoint() != "" {
		// Providers may keep profile claims out of the ID token when an
		// access token is issued (OIDC Core §5.4); userinfo has them.
		ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err == nil && ui.Subject == idt.Subject {
			more := map[string]any{}
			if ui.Claims(&more) == nil {
				for k, v := range more {
					if _, ok := claims[k]; !ok {
						claims[k] = v
					}
				}
				o.fill(id, claims)
			}
		}
	}
	return id, ls.Next, nil
}

func (o *OIDC) readLoginCookie(r *http.Request) (*loginState, error) {
	c, err := r.Cookie(LoginCookie)
	if err != nil {
		return nil, &LoginError{Kind: ErrLoginState, Cause: errors.New("no sign-in cookie")}
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	var ls loginState
	if err != nil || json.Unmarshal(raw, &ls) != nil || ls.State == "" || ls.Nonce == "" || ls.Verifier == "" {
		return nil, &LoginError{Kind: ErrLoginState, Cause: errors.New("malformed sign-in cookie")}
	}
	if !o.opts.Now().Before(ls.Expires) {
		return nil, &LoginError{Kind: ErrLoginState, Cause: errors.New("sign-in cookie expired")}
	}
	return &ls, nil
}

// fill copies the claims Roster uses into id.
func (o *OIDC) fill(id *Identity, claims map[string]any) {
	id.Email, _ = claims["email"].(string)
	id.Email = strings.TrimSpace(id.Email)
	id.EmailVerified = claimBool(claims["email_verified"])
	id.Name, _ = claims["name"].(string)
	if id.Name == "" {
		id.Name, _ = claims["preferred_username"].(string)
	}
	if o.cfg.OperatorGroupsClaim != "" {
		id.Groups = claimStrings(claims[o.cfg.OperatorGroupsClaim])
	}
}

// ExternalIDOf returns the value of ExternalIDClaim in a raw ID token, or
// "" when the claim is not configured or not there. It does not verify
// the token: give it only a token that was verified when the person
// signed in (Identity.IDToken, store.Session.IDToken). Reading the claim
// back from the session's token is how a session is rechecked without a
// field of its own for it.
func (c OIDCConfig) ExternalIDOf(rawIDToken string) string {
	if c.ExternalIDClaim == "" {
		return ""
	}
	parts := strings.Split(rawIDToken, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber() // a numeric id stays exact
	var claims map[string]any
	if err := d.Decode(&claims); err != nil {
		return ""
	}
	switch v := claims[c.ExternalIDClaim].(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	}
	return ""
}

// claimBool reads a boolean claim; some providers send "true" as a string.
func claimBool(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return strings.EqualFold(b, "true")
	}
	return false
}

// claimStrings reads a claim that is a list of strings or a single string.
func claimStrings(v any) []string {
	switch l := v.(type) {
	case string:
		return []string{l}
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// safeCode keeps a provider error code only when it looks like one (RFC
// 6749 error codes are short ASCII tokens), so nothing a third party put
// in the URL is echoed into a page.
func safeCode(s string) string {
	if len(s) > 64 {
		return ""
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return s
}

// LogoutURL is where to send the browser to end its session at the
// provider too (RP-initiated logout), or "" when the provider offers no
// end_session_endpoint or has not been discovered.
func (o *OIDC) LogoutURL(ctx context.Context, idToken string) string {
	if _, err := o.discover(ctx); err != nil {
		return ""
	}
	o.mu.Lock()
	end := o.endSession
	o.mu.Unlock()
	if end == "" {
		return ""
	}
	u, err := url.Parse(end)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", o.cfg.ClientID)
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	if o.cfg.PostLogoutRedirectURL != "" {
		q.Set("post_logout_redirect_uri", o.cfg.PostLogoutRedirectURL)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// ProviderOrigins lists the origins (scheme://host) a sign-out form may
// be redirected to, for a Content-Security-Policy form-action: the
// issuer's and, once discovered, the end-session endpoint's.
func (o *OIDC) ProviderOrigins() []string {
	out := []string{origin(o.cfg.Issuer)}
	o.mu.Lock()
	end := o.endSession
	o.mu.Unlock()
	if oe := origin(end); oe != "" && oe != out[0] {
		out = append(out, oe)
	}
	return out
}

func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// IsOperator reports whether id is a platform operator by the
// configuration: its subject, its verified e-mail or one of its groups.
func (c OIDCConfig) IsOperator(id *Identity) bool {
	if id.Subject != "" && slices.Contains(c.OperatorSubjects, id.Subject) {
		return true
	}
	if id.EmailVerified && id.Email != "" && slices.ContainsFunc(c.OperatorEmails, func(e string) bool {
		return strings.EqualFold(strings.TrimSpace(e), id.Email)
	}) {
		return true
	}
	for _, g := range id.Groups {
		if slices.Contains(c.OperatorGroups, g) {
			return true
		}
	}
	return false
}
