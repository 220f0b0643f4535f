package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

// PortalCookie is the admin portal's session cookie. It holds a random
// secret; the store keeps only its SHA-256 (store.Session.Hash).
const PortalCookie = "roster_portal"

// Session lifetimes when SessionOptions leaves them zero.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
)

// touchEvery bounds session writes: activity is recorded at most once a
// minute, so the idle timeout is exact to a minute and reads stay reads.
const sessionTouchEvery = time.Minute

// ErrNoSession: the request carries no live session (no cookie, unknown,
// idle too long or past its absolute lifetime).
var ErrNoSession = errors.New("not signed in")

// SessionOptions tunes ServerSessions.
type SessionOptions struct {
	// Idle ends a session after this long without a request
	// (default DefaultIdleTimeout).
	Idle time.Duration
	// Absolute ends a session this long after sign-in, active or not
	// (default DefaultAbsoluteTimeout).
	Absolute time.Duration
	// Secure marks the cookie Secure; set it when the public URL is https.
	Secure bool
	// Path scopes the cookie (default "/admin").
	Path string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// ServerSessions keeps admin portal sessions in the store, so any node
// serves any request, a sign-out or an expiry ends a session everywhere
// at once, and a copy of the database holds no usable cookie.
type ServerSessions struct {
	st   store.Sessions
	opts SessionOptions
}

// NewServerSessions returns sessions kept in st.
func NewServerSessions(st store.Sessions, opts SessionOptions) *ServerSessions {
	if opts.Idle <= 0 {
		opts.Idle = DefaultIdleTimeout
	}
	if opts.Absolute <= 0 {
		opts.Absolute = DefaultAbsoluteTimeout
	}
	if opts.Path == "" {
		opts.Path = "/admin"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &ServerSessions{st: st, opts: opts}
}

// Options returns the effective options.
func (m *ServerSessions) Options() SessionOptions { return m.opts }

// Start signs the browser in as s: it stores s under the hash of a fresh
// secret (filling Hash and the times) and sets the cookie. An earlier
// session of the same browser is ended first, so signing in again never
// keeps a session an attacker may have planted (session fixation).
func (m *ServerSessions) Start(ctx context.Context, w http.ResponseWriter, r *http.Request, s *store.Session) error {
	if r != nil {
		if c, err := r.Cookie(PortalCookie); err == nil && c.Value != "" {
			_ = m.st.DeleteSession(ctx, HashSecret(c.Value))
		}
	}
	secret := newSecret()
	now := store.Timestamp(m.opts.Now())
	s.Hash = HashSecret(secret)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = now, now, now.Add(m.opts.Absolute)
	if err := m.st.CreateSession(ctx, s); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: PortalCookie, Value: secret, Path: m.opts.Path,
		// A session cookie (no Expires): closing the browser ends it on
		// this side; the store enforces the timeouts.
		HttpOnly: true, Secure: m.opts.Secure, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// Read returns the live session of the request, recording activity.
// Other errors than ErrNoSession are store failures.
func (m *ServerSessions) Read(r *http.Request) (*store.Session, error) {
	c, err := r.Cookie(PortalCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil, ErrNoSession
	}
	ctx := r.Context()
	hash := HashSecret(c.Value)
	s, err := m.st.GetSession(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	now := m.opts.Now()
	if !now.Before(s.ExpiresAt) || now.Sub(s.LastSeenAt) >= m.opts.Idle {
		_ = m.st.DeleteSession(ctx, hash)
		return nil, ErrNoSession
	}
	if now.Sub(s.LastSeenAt) >= sessionTouchEvery {
		if err := m.st.TouchSession(ctx, hash, store.Timestamp(now)); err != nil {
			return nil, err
		}
		s.LastSeenAt = store.Timestamp(now)
	}
	return s, nil
}

// End signs the browser out: the session is deleted from the store and
// the cookie cleared. It returns the ended session (nil when there was
// none), whose IDToken a caller passes to the provider's logout.
func (m *ServerSessions) End(ctx context.Context, w http.ResponseWriter, r *http.Request) (*store.Session, error) {
	http.SetCookie(w, &http.Cookie{Name: PortalCookie, Value: "", Path: m.opts.Path, MaxAge: -1,
		HttpOnly: true, Secure: m.opts.Secure, SameSite: http.SameSiteLaxMode})
	c, err := r.Cookie(PortalCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	hash := HashSecret(c.Value)
	s, err := m.st.GetSession(ctx, hash)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err := m.st.DeleteSession(ctx, hash); err != nil && !errors.Is(err, store.ErrNotFound) {
		return s, err
	}
	return s, nil
}

// Sweep deletes sessions past their absolute lifetime; run it now and
// then (idle sessions are refused on read and go at their absolute end).
func (m *ServerSessions) Sweep(ctx context.Context) (int, error) {
	return m.st.DeleteExpiredSessions(ctx, store.Timestamp(m.opts.Now()))
}

// AdminLookup is what Roles needs from the store.
type AdminLookup interface {
	ListTenants(ctx context.Context) ([]*store.Tenant, error)
	GetTenant(ctx context.Context, id string) (*store.Tenant, error)
	GetUserByUserName(ctx context.Context, tenantID, userName string) (*store.User, error)
	ListUsers(ctx context.Context, tenantID string, q store.Query) (*store.UserPage, error)
}

// Role refusals.
var (
	// ErrNotAdmin: the person signed in at the provider but is neither an
	// operator nor an account administrator of any tenant.
	ErrNotAdmin = errors.New("not an administrator")
	// ErrTenantSuspended: the person administers only suspended tenants.
	ErrTenantSuspended = errors.New("account suspended")
)

// Roles decides what a signed-in person may do in the portal.
//
// Operators come from the configuration. Tenant admins are users of a
// tenant with accountAdmin set, found by their verified e-mail (as
// userName or e-mail address) or by their externalId: the provider
// subject, or the claim OIDCConfig.ExternalIDClaim names (Entra ID's
// "oid"). An unverified e-mail never matches: anyone can put any address
// in a self-service account at many providers.
type Roles struct {
	Config OIDCConfig
	Store  AdminLookup
}

// Resolve returns the session to start for id, or ErrNotAdmin or
// ErrTenantSuspended. A person who administers several tenants gets the
// first one by name.
func (r *Roles) Resolve(ctx context.Context, id *Identity) (*store.Session, error) {
	s := &store.Session{Subject: id.Subject, Name: id.Name, IDToken: id.IDToken}
	if id.EmailVerified {
		s.Email = id.Email
	}
	if r.Config.IsOperator(id) {
		s.Role = store.RoleOperator
		return s, nil
	}
	tenants, err := r.Store.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	tenants = slices.Clone(tenants)
	slices.SortFunc(tenants, func(a, b *store.Tenant) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	suspended := false
	externalID := id.Subject
	if r.Config.ExternalIDClaim != "" {
		externalID = id.ExternalID
	}
	for _, t := range tenants {
		u, err := r.findAdmin(ctx, t.ID, externalID, s.Email)
		if err != nil {
			return nil, err
		}
		if u == nil {
			continue
		}
		if t.Suspended {
			suspended = true
			continue
		}
		s.Role, s.TenantID = store.RoleTenantAdmin, t.ID
		if s.Name == "" {
			s.Name = displayName(u)
		}
		return s, nil
	}
	if suspended {
		return nil, ErrTenantSuspended
	}
	return nil, ErrNotAdmin
}

// Recheck confirms that a tenant admin's session still stands: the
// tenant is active and the person is still an active account admin in
// it. Taking away admin rights thus takes effect on the next request,
// not when the session ends. Operator sessions are not rechecked.
func (r *Roles) Recheck(ctx context.Context, s *store.Session) error {
	if s.Role != store.RoleTenantAdmin {
		return nil
	}
	t, err := r.Store.GetTenant(ctx, s.TenantID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotAdmin
	}
	if err != nil {
		return err
	}
	if t.Suspended {
		return ErrTenantSuspended
	}
	u, err := r.findAdmin(ctx, t.ID, r.externalID(s), s.Email)
	if err != nil {
		return err
	}
	if u == nil {
		return ErrNotAdmin
	}
	return nil
}

// externalID is what a session's person is matched by as externalId: the
// subject, or the configured claim of the ID token they signed in with.
func (r *Roles) externalID(s *store.Session) string {
	if r.Config.ExternalIDClaim != "" {
		return r.Config.ExternalIDOf(s.IDToken)
	}
	return s.Subject
}

// findAdmin returns the active account admin of tenantID matching the
// verified e-mail or the external id, or nil.
func (r *Roles) findAdmin(ctx context.Context, tenantID, externalID, verifiedEmail string) (*store.User, error) {
	ok := func(u *store.User) bool { return u != nil && u.Active && u.AccountAdmin }
	if verifiedEmail != "" {
		u, err := r.Store.GetUserByUserName(ctx, tenantID, verifiedEmail)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if ok(u) {
			return u, nil
		}
		if u, err := r.first(ctx, tenantID, store.AttrPath{Name: "emails", Sub: "value"}, verifiedEmail); err != nil || ok(u) {
			return u, err
		}
	}
	if externalID != "" {
		if u, err := r.first(ctx, tenantID, store.AttrPath{Name: "externalId"}, externalID); err != nil || ok(u) {
			return u, err
		}
	}
	return nil, nil
}

// first returns an account admin among the users whose attr equals value.
func (r *Roles) first(ctx context.Context, tenantID string, attr store.AttrPath, value string) (*store.User, error) {
	page, err := r.Store.ListUsers(ctx, tenantID, store.Query{
		Filter: store.Compare{Attr: attr, Op: store.OpEq, Value: value}, Limit: 10, MaxScan: 10000,
	})
	if _, invalid := store.IsInvalid(err); invalid {
		// A backend that cannot answer this filter cheaply: no match
		// this way, the other ways still work.
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, u := range page.Users {
		if u.Active && u.AccountAdmin {
			return u, nil
		}
	}
	return nil, nil
}

func displayName(u *store.User) string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if n := strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName); n != "" {
		return n
	}
	return u.UserName
}
