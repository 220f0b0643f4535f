package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/roster-scim/roster/admin"
	"github.com/roster-scim/roster/api"
	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/scim"
	"github.com/roster-scim/roster/store"
)

// routerDeps is what the root router wires together.
type routerDeps struct {
	cfg       *Config
	publicURL string // without trailing slash
	store     store.Store
	engine    *licensing.Engine
	log       *slog.Logger
	portal    http.Handler
	reqlog    *admin.RequestLog
	metrics   *metrics
	clients   *clientAddr
	// invites serves invitation links and "forgot your password" (nil:
	// one over store with the default expiry and bare messages).
	invites *auth.Invites
	// draining is set when shutdown starts, so /readyz tells load
	// balancers to stop sending new work while in-flight requests finish.
	draining *atomic.Bool
}

// newRouter is the root router: health checks, the SCIM API behind token
// authentication, and the admin routes behind sessions and
// cross-origin protection.
func newRouter(d routerDeps) http.Handler {
	r := chi.NewRouter()
	r.Use(accessLog(d.log, d.metrics), limitBody(d.cfg.Server.MaxBodyBytes))

	// Liveness: the process answers. Never touches the store, so a slow
	// database does not get the process restarted.
	healthz := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	}
	// Readiness: this node can serve traffic now.
	readyz := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if d.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("shutting down\n"))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := d.store.Ping(ctx); err != nil {
			d.log.WarnContext(ctx, "readiness: store unreachable", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("store unreachable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}
	// HEAD too: some load balancers probe with it.
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		r.MethodFunc(m, "/healthz", healthz)
		r.MethodFunc(m, "/readyz", readyz)
	}

	scimAPI := scim.New(scim.Deps{
		Store: d.store,
		Tenant: func(r *http.Request) (string, bool) {
			id := auth.TenantID(r.Context())
			return id, id != ""
		},
		Licensing: d.engine,
		Actor:     func(r *http.Request) string { return "scim:" + auth.TokenID(r.Context()) },
		// User stays nil: a SCIM token stands for an IdP, not a user, so
		// /Me answers 501 until device-user tokens exist.
		Logger:  d.log,
		BaseURL: d.publicURL + "/scim/v2",
		Limits: scim.Limits{
			MaxFilterLength:     d.cfg.SCIM.MaxFilterLength,
			MaxResults:          d.cfg.SCIM.MaxResults,
			BulkMaxOperations:   d.cfg.SCIM.Bulk.MaxOperations,
			BulkMaxPayloadBytes: d.cfg.SCIM.Bulk.MaxPayloadBytes,
			MaxBodyBytes:        d.cfg.Server.MaxBodyBytes,
		},
	})
	// Unknown and revoked tokens are remembered as refused for a few
	// seconds (a flood of one bad token is not a flood of store
	// lookups); token_cache_ttl: 0s turns both caches off.
	bearer := auth.BearerOptions{CacheTTL: d.cfg.SCIM.TokenCacheTTL, NegativeTTL: min(d.cfg.SCIM.TokenCacheTTL, auth.DefaultNegativeTTL), Logger: d.log}
	// A chain mounted as it is, not a sub-router: the SCIM handler routes
	// below /scim/v2 itself, so a second chi lookup per request (and its
	// path values) would only cost.
	r.Mount("/scim/v2", chain(scimAPI, auth.SCIMBearer(d.store, bearer), noteTenant, d.reqlog.Middleware,
		scimRateLimit(d.cfg.SCIM.RateLimit, d.metrics)))

	// The device API: credentials in every call, no cookies.
	devices := loginLimit(d.cfg.Devices.LoginLimit, d.clients, d.metrics)(
		api.New(api.Deps{Store: d.store, Engine: d.engine, Logger: d.log, LeaseTTL: d.cfg.Licensing.LeaseTTL}))
	r.Handle("/api/v1/devices/*", devices)
	r.Handle("/.well-known/jwks.json", devices)

	// Browser routes: cookies, so refuse cross-origin unsafe requests
	// (the portal applies the same protection itself).
	csrf := http.NewCrossOriginProtection()
	r.Group(func(r chi.Router) {
		r.Use(csrf.Handler)
		// Invitation and password-reset links: no session, the link is
		// the credential.
		invites := d.invites
		if invites == nil {
			invites = &auth.Invites{Store: d.store, PublicURL: d.publicURL, Logger: d.log}
		}
		r.Handle(auth.InvitePath+"*", invites)
	})
	r.Mount("/admin", d.portal)
	if d.cfg.Server.AdminAddr == "" {
		// Without an admin listener, Prometheus scrapes the public one;
		// pprof is never served here.
		r.Method(http.MethodGet, "/metrics", d.metrics.handler(d.log))
	}
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
	})
	return r
}

// chain wraps h in middleware, the first outermost.
func chain(h http.Handler, mw ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}
