package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/importer"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// Deps is what the portal needs. Store and PublicURL are required.
type Deps struct {
	// Store keeps everything, portal sessions included.
	Store store.Store
	// Engine makes every seat change (default licensing.New(Store)).
	Engine *licensing.Engine

	// OIDC is admin sign-in; a zero Issuer means not configured, and the
	// bootstrap link is the only way in.
	OIDC auth.OIDCConfig
	// OIDCClient talks to the provider (default http.DefaultClient).
	OIDCClient *http.Client
	// Bootstrap redeems the one-time operator link `roster serve` prints
	// (nil: no bootstrap sign-in).
	Bootstrap *auth.Bootstrap

	// PublicURL is how browsers and IdPs reach Roster, e.g.
	// https://roster.example.com; it decides Secure cookies and the SCIM
	// base URL shown to admins.
	PublicURL string
	// BasePath is where the portal is mounted (default "/admin").
	BasePath string

	// Imports checks the files uploaded on the Import page (nil: the page
	// says imports are not configured on this server). The portal only
	// submits jobs; something must run them: cmd's workers call
	// Imports.RunPending on every node.
	Imports *importer.Runner

	// Invites sends invitation, password-reset and login-details links
	// (nil: one over Store with the default expiry and bare messages).
	Invites *auth.Invites
	// SMS says a text-message channel is configured: the user panel then
	// offers "Send login details by SMS".
	SMS bool

	// RequestLog feeds "last requests from your IdP" (nil: a private,
	// empty one).
	RequestLog *RequestLog
	// AssetsDir, when set, serves templates and static files from this
	// directory (with templates/ and static/ inside) and re-reads them on
	// every request: for working on the pages without rebuilding.
	AssetsDir string

	// SessionIdle and SessionAbsolute are the session timeouts (defaults
	// auth.DefaultIdleTimeout, auth.DefaultAbsoluteTimeout).
	SessionIdle     time.Duration
	SessionAbsolute time.Duration

	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// server is the portal.
type server struct {
	st       store.Store
	sessions *auth.ServerSessions
	eng      *licensing.Engine
	oidc     *auth.OIDC // nil without OIDC
	oidcErr  error      // why OIDC is configured but unusable
	roles    *auth.Roles
	boot     *auth.Bootstrap
	invites  *auth.Invites
	sms      bool
	public   string
	base     string
	reqlog   *RequestLog
	assets   *assets
	// imports checks uploads (nil: not configured); importSlots bounds
	// the checks running at once on this node; importWait is how long an
	// upload request waits for its check.
	imports     *importer.Runner
	importSlots chan struct{}
	importWait  time.Duration
	meters      meters
	accounts    accountCache
	log         *slog.Logger
	now         func() time.Time
	cop         *http.CrossOriginProtection
	mux         *http.ServeMux
}

// New returns the portal handler. cmd mounts it at Deps.BasePath
// ("/admin"); it accepts request paths with or without that prefix, so
// both chi's Mount and http.StripPrefix work.
func New(d Deps) http.Handler {
	s := &server{
		st: d.Store, eng: d.Engine, boot: d.Bootstrap, reqlog: d.RequestLog, log: d.Logger, now: d.Now,
		public: strings.TrimRight(d.PublicURL, "/"), base: strings.TrimRight(d.BasePath, "/"),
		imports: d.Imports, importSlots: make(chan struct{}, importChecks), importWait: defaultImportWait,
	}
	if s.base == "" {
		s.base = "/admin"
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.eng == nil {
		s.eng = licensing.New(d.Store, licensing.WithClock(s.now), licensing.WithLogger(s.log))
	}
	if s.reqlog == nil {
		s.reqlog = NewRequestLog(0)
	}
	secure := strings.HasPrefix(s.public, "https://")
	s.sessions = auth.NewServerSessions(d.Store, auth.SessionOptions{
		Idle: d.SessionIdle, Absolute: d.SessionAbsolute, Secure: secure, Path: s.base, Now: s.now,
	})
	if d.OIDC.Configured() {
		if d.OIDC.RedirectURL == "" {
			// config.example.yaml: empty means <public URL>/admin/oidc/callback.
			d.OIDC.RedirectURL = s.public + s.base + "/oidc/callback"
		}
		s.oidc, s.oidcErr = auth.NewOIDC(d.OIDC, auth.OIDCOptions{Secure: secure, CookiePath: s.base, HTTPClient: d.OIDCClient, Now: s.now})
		if s.oidcErr != nil {
			s.log.Error("admin portal: OIDC configuration unusable", "err", s.oidcErr)
		}
	}
	// Tenant admins are rechecked on every request (session), whether or
	// not OIDC is configured on this node: a session outlives a change
	// of configuration, and another node may have started it.
	s.roles = &auth.Roles{Config: d.OIDC, Store: d.Store}
	s.invites, s.sms = d.Invites, d.SMS
	if s.invites == nil {
		s.invites = &auth.Invites{Store: d.Store, PublicURL: s.public, Logger: s.log, Now: s.now}
	}
	s.assets = newAssets(d.AssetsDir, s.base)

	s.cop = http.NewCrossOriginProtection()
	if u, err := url.Parse(s.public); err == nil && u.Scheme != "" && u.Host != "" {
		// A proxy that rewrites Host would otherwise make the browser's
		// own origin look foreign to browsers that send only Origin.
		_ = s.cop.AddTrustedOrigin(u.Scheme + "://" + u.Host)
	}
	s.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusForbidden, "Request refused",
			"This form was sent from another site, so Roster did not act on it. Open the page in Roster and submit it again.")
	}))
	s.mux = http.NewServeMux()
	s.routes()
	return s
}

// ServeHTTP strips the base path, sets the headers every page carries and
// refuses cross-origin state changes before any handler runs.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p, ok := strings.CutPrefix(r.URL.Path, s.base); ok && (p == "" || p[0] == '/') {
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		if p == "" {
			p = "/"
		}
		u.Path, u.RawPath = p, ""
		r2.URL = &u
		r = r2
	}
	s.securityHeaders(w)
	s.cop.Handler(s.mux).ServeHTTP(w, r)
}

// securityHeaders: no inline script or style anywhere, no framing, no
// sniffing, no full URLs (which may carry ids) in Referer to other sites.
func (s *server) securityHeaders(w http.ResponseWriter) {
	formAction := "'self'"
	if s.oidc != nil {
		// Signing out redirects the form to the provider's end-session
		// endpoint, which form-action governs in some browsers.
		formAction += " " + strings.Join(s.oidc.ProviderOrigins(), " ")
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action "+formAction)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

func (s *server) routes() {
	m := s.mux
	m.HandleFunc("GET /{$}", s.signedIn(s.home))
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("GET /login/start", s.loginStart)
	m.HandleFunc("GET /oidc/callback", s.callback)
	m.HandleFunc("POST /logout", s.logout)
	m.HandleFunc("GET /signed-out", s.signedOutPage)
	m.HandleFunc("GET /bootstrap", s.bootstrapPage)
	m.HandleFunc("POST /bootstrap", s.bootstrapRedeem)
	m.Handle("GET /static/", s.assets.staticHandler())
	m.HandleFunc("GET /switch", s.signedIn(s.switchTenant))
	m.HandleFunc("GET /accounts", s.signedIn(s.accountsPage))

	t := func(pattern string, h handler) { m.HandleFunc(pattern, s.inTenant(h)) }
	t("GET /t/{tenant}/{$}", func(c *rc) error { return c.redirect(c.T("users"), "") })
	t("GET /t/{tenant}/users", s.usersPage)
	t("GET /t/{tenant}/users/new", s.userNewPage)
	t("POST /t/{tenant}/users", s.userCreate)
	t("GET /t/{tenant}/users/{id}", s.usersPage)
	t("GET /t/{tenant}/users/{id}/edit", s.userEditPage)
	t("POST /t/{tenant}/users/{id}", s.userUpdate)
	t("POST /t/{tenant}/users/{id}/active", s.userSetActive)
	t("POST /t/{tenant}/users/{id}/invite", s.userInvite)
	t("POST /t/{tenant}/users/{id}/reset", s.userReset)
	t("POST /t/{tenant}/users/{id}/sms", s.userLoginSMS)
	t("POST /t/{tenant}/users/{id}/seats", s.userSeat)
	t("POST /t/{tenant}/users/{id}/note", s.userNote)
	t("GET /t/{tenant}/users/{id}/note", s.userNotePage)
	t("POST /t/{tenant}/users/{id}/inactive", s.userFlagInactive)
	t("POST /t/{tenant}/users/bulk", s.usersBulk)
	t("POST /t/{tenant}/devices/{id}/state", s.deviceState)

	t("GET /t/{tenant}/groups", s.groupsPage)
	t("GET /t/{tenant}/groups/{id}", s.groupPage)
	t("POST /t/{tenant}/groups/{id}/rules", s.ruleAdd)
	t("POST /t/{tenant}/rules/{id}/delete", s.ruleRemove)

	t("GET /t/{tenant}/licenses", s.licensesPage)
	t("POST /t/{tenant}/reprocess", s.reprocess)
	t("POST /t/{tenant}/pools/{id}/request", s.seatRequestCreate)
	t("POST /t/{tenant}/pools/{id}/resize", s.poolResize)

	t("GET /t/{tenant}/devices", s.devicesPage)
	t("POST /t/{tenant}/devices/license", s.deviceLicense)
	t("GET /t/{tenant}/devices/move", s.movePage)
	t("POST /t/{tenant}/devices/move", s.moveSeat)
	t("GET /t/{tenant}/devices/{id}/move", s.moveDevicePage)
	t("POST /t/{tenant}/devices/{id}/move", s.moveDevice)

	t("GET /t/{tenant}/import", s.importPage)
	t("POST /t/{tenant}/import", s.importUpload)
	t("GET /t/{tenant}/import/template.xlsx", s.importTemplate(importer.FormatXLSX))
	t("GET /t/{tenant}/import/template.csv", s.importTemplate(importer.FormatCSV))
	t("GET /t/{tenant}/import/{job}", s.importJobPage)
	t("GET /t/{tenant}/import/{job}/result", s.importResult)

	t("GET /t/{tenant}/tokens", s.tokensPage)
	t("POST /t/{tenant}/tokens", s.tokenCreate)
	t("POST /t/{tenant}/tokens/{id}/revoke", s.tokenRevoke)

	t("GET /t/{tenant}/connect", s.connectPage)
	t("GET /t/{tenant}/connect/requests", s.connectRequests)

	t("GET /t/{tenant}/audit", s.auditPage)

	t("GET /t/{tenant}/settings", s.settingsPage)
	t("POST /t/{tenant}/settings", s.settingsSave)

	o := func(pattern string, h handler) { m.HandleFunc(pattern, s.operator(h)) }
	o("GET /op/tenants", s.opTenantsPage)
	o("POST /op/tenants", s.opTenantCreate)
	o("POST /op/tenants/{id}", s.opTenantUpdate)
	o("GET /op/tenants/{id}/pools", s.opPoolsPage)
	o("POST /op/tenants/{id}/pools", s.opPoolCreate)
	o("POST /op/tenants/{id}/pools/{pool}", s.opPoolUpdate)
	o("GET /op/products", s.opProductsPage)
	o("POST /op/products", s.opProductCreate)
	o("POST /op/products/{id}", s.opProductUpdate)
	o("GET /op/requests", s.opRequestsPage)
	o("POST /op/requests/{tenant}/{id}", s.opRequestDecide)

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, "Page not found", "There is no page at this address. Use the menu to find what you were looking for.")
	})
}

// rc is one request to a signed-in page.
type rc struct {
	s      *server
	w      http.ResponseWriter
	r      *http.Request
	sess   *store.Session
	tenant *store.Tenant // the tenant in scope; nil on operator-only pages
}

type handler func(c *rc) error

func (c *rc) ctx() context.Context { return c.r.Context() }

// operator reports whether the signed-in person runs the platform.
func (c *rc) operator() bool { return c.sess.Role == store.RoleOperator }

// actor is who the audit log names for changes made in this request.
func (c *rc) actor() licensing.Actor { return licensing.Actor("admin:" + c.sess.Subject) }

// T is the URL of a page of the tenant in scope.
func (c *rc) T(parts ...string) string {
	return c.s.base + "/t/" + c.tenant.ID + "/" + strings.Join(parts, "/")
}

// signedIn requires a session.
func (s *server) signedIn(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.session(w, r)
		if !ok {
			return
		}
		s.run(c, h)
	}
}

// inTenant requires a session that may see the tenant named in the path:
// an operator's (any tenant that exists) or a tenant admin's own. Anyone
// else gets 403 whether or not that tenant exists.
func (s *server) inTenant(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.session(w, r)
		if !ok {
			return
		}
		id := r.PathValue("tenant")
		mine, err := s.administers(r.Context(), c.sess, id)
		if err != nil {
			s.fail(c, err)
			return
		}
		if !c.operator() && !mine {
			s.log.WarnContext(r.Context(), "admin: tenant admin refused another tenant", "subject", c.sess.Subject,
				"own", c.sess.TenantID, "asked", id, "path", r.URL.Path)
			s.errorPage(w, r, http.StatusForbidden, "Not your account",
				"This page belongs to another account. You can manage only your own organisation's users and licenses.")
			return
		}
		t, err := s.st.GetTenant(r.Context(), id)
		if err != nil {
			s.fail(c, err)
			return
		}
		c.tenant = t
		s.run(c, h)
	}
}

// operator requires an operator session.
func (s *server) operator(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.session(w, r)
		if !ok {
			return
		}
		if !c.operator() {
			s.errorPage(w, r, http.StatusForbidden, "Operators only",
				"This page is for the people who run Roster for every organisation. Your account administrator pages are in the menu.")
			return
		}
		s.run(c, h)
	}
}

func (s *server) run(c *rc, h handler) {
	if err := h(c); err != nil {
		s.fail(c, err)
	}
}

// session reads the session, sending the browser to sign in when there is
// none; for tenant admins it rechecks that they still are one.
func (s *server) session(w http.ResponseWriter, r *http.Request) (*rc, bool) {
	sess, err := s.sessions.Read(r)
	if err == nil && s.roles != nil {
		if rerr := s.roles.Recheck(r.Context(), sess); rerr != nil {
			if errors.Is(rerr, auth.ErrNotAdmin) || errors.Is(rerr, auth.ErrTenantSuspended) {
				_, _ = s.sessions.End(r.Context(), w, r)
				s.refused(w, r, rerr, sess.Email)
				return nil, false
			}
			err = rerr
		}
	}
	switch {
	case errors.Is(err, auth.ErrNoSession):
		next := s.base + r.URL.Path
		if r.Method != http.MethodGet || r.URL.Path == "/" {
			next = ""
		} else if r.URL.RawQuery != "" {
			next += "?" + r.URL.RawQuery
		}
		target := s.base + "/login"
		if next != "" {
			target += "?next=" + urlQueryEscape(next)
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return nil, false
	case err != nil:
		s.log.ErrorContext(r.Context(), "admin: reading session", "err", err)
		s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", internalMsg)
		return nil, false
	}
	w.Header().Set("Cache-Control", "no-store")
	return &rc{s: s, w: w, r: r, sess: sess}, true
}

// home sends a tenant admin to the users of the tenant they last chose
// (or their first) and an operator to the tenant they last looked at, or
// to the list of tenants.
func (s *server) home(c *rc) error {
	if !c.operator() {
		return c.redirect(s.base+"/t/"+s.lastTenant(c)+"/users", "")
	}
	if ck, err := c.r.Cookie(lastTenantCookie); err == nil {
		if _, err := s.st.GetTenant(c.ctx(), ck.Value); err == nil {
			return c.redirect(s.base+"/t/"+ck.Value+"/users", "")
		}
	}
	return c.redirect(s.base+"/op/tenants", "")
}

// lastTenantCookie remembers the operator's tenant switcher choice.
const lastTenantCookie = "roster_tenant"

// switchTenant is the tenant switcher of operators and of admins of
// several tenants (a GET form, so it works without JavaScript and never
// changes state).
func (s *server) switchTenant(c *rc) error {
	id := c.r.URL.Query().Get("tenant")
	if !c.operator() {
		mine, err := s.administers(c.ctx(), c.sess, id)
		if err != nil {
			return err
		}
		if !mine {
			s.errorPage(c.w, c.r, http.StatusForbidden, "Not your account",
				"This page belongs to another account. You can manage only your own organisation's users and licenses.")
			return nil
		}
	} else if _, err := s.st.GetTenant(c.ctx(), id); err != nil {
		return err
	}
	page := c.r.URL.Query().Get("page")
	if !validSection(page) {
		page = "users"
	}
	http.SetCookie(c.w, &http.Cookie{Name: lastTenantCookie, Value: id, Path: s.base, MaxAge: 30 * 24 * 3600,
		HttpOnly: true, Secure: s.sessions.Options().Secure, SameSite: http.SameSiteLaxMode})
	return c.redirect(s.base+"/t/"+id+"/"+page, "")
}

func validSection(p string) bool {
	switch p {
	case "users", "groups", "licenses", "devices", "import", "tokens", "connect", "audit", "settings":
		return true
	}
	return false
}
