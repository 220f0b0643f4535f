package main

import (
	"bytes"
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

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
	sessions  *auth.Sessions
	bootstrap *auth.Bootstrap
	// draining is set when shutdown starts, so /readyz tells load
	// balancers to stop sending new work while in-flight requests finish.
	draining *atomic.Bool
}

// newRouter is the root router: health checks, the SCIM API behind token
// authentication, and the admin routes behind sessions and
// cross-origin protection.
func newRouter(d routerDeps) http.Handler {
	r := chi.NewRouter()
	r.Use(accessLog(d.log), limitBody(d.cfg.Server.MaxBodyBytes))

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
	r.Route("/scim/v2", func(r chi.Router) {
		r.Use(auth.SCIMBearer(d.store, auth.BearerOptions{CacheTTL: d.cfg.SCIM.TokenCacheTTL, Logger: d.log}), noteTenant)
		r.Handle("/*", scimAPI)
		r.Handle("/", scimAPI)
	})

	// The device API: credentials in every call, no cookies.
	devices := api.New(api.Deps{Store: d.store, Engine: d.engine, Logger: d.log, LeaseTTL: d.cfg.Licensing.LeaseTTL})
	r.Handle("/api/v1/devices/*", devices)
	r.Handle("/.well-known/jwks.json", devices)

	// Browser routes: cookies, so refuse cross-origin unsafe requests.
	csrf := http.NewCrossOriginProtection()
	r.Group(func(r chi.Router) {
		r.Use(csrf.Handler)
		r.Handle(auth.BootstrapPath, d.bootstrap)
		// Invitation and password-reset links: no session, the link is
		// the credential.
		r.Handle(auth.InvitePath+"*", &auth.Invites{Store: d.store, PublicURL: d.publicURL, Logger: d.log})
		r.Get("/admin", adminHome(d))
		r.Get("/admin/", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/admin", http.StatusSeeOther)
		})
		r.Post("/admin/logout", func(w http.ResponseWriter, r *http.Request) {
			d.sessions.Clear(w)
			http.Redirect(w, r, "/admin", http.StatusSeeOther)
		})
	})
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin", http.StatusSeeOther)
	})
	return r
}

// adminHome is the placeholder portal page until the portal issue.
func adminHome(d routerDeps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, signedIn := d.sessions.Read(r)
		data := map[string]any{"OIDC": d.cfg.OIDC.Configured(), "Session": s}
		status, page := http.StatusOK, adminPage
		if !signedIn {
			status, page = http.StatusUnauthorized, adminSignIn
		}
		var buf bytes.Buffer
		if err := page.Execute(&buf, data); err != nil {
			d.log.ErrorContext(r.Context(), "admin page", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes())
	}
}

const adminHead = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Roster admin</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#1d2430}
.banner{background:#fff4d6;border:1px solid #e8c766;border-radius:4px;padding:.75em 1em;margin:1em 0}
button{font:inherit;padding:.4em 1em;border:1px solid #9aa4b5;border-radius:4px;background:#fff;cursor:pointer}
code{background:#f1f3f6;padding:0 .25em;border-radius:3px}</style>
</head><body>`

var (
	adminPage = template.Must(template.New("admin").Parse(adminHead + `
<h1>Roster admin — the portal arrives with the portal issue</h1>
{{if not .OIDC}}<p class="banner" role="status"><strong>OIDC is not configured.</strong> You signed in as the
platform operator with a one-time bootstrap link. Set the <code>oidc.*</code> keys in the configuration
file (see <code>config.example.yaml</code>) so admins sign in through your identity provider.</p>{{end}}
<p>Signed in as <strong>{{.Session.Subject}}</strong> ({{.Session.Role}}).</p>
<p>Until the portal lands, manage tenants and SCIM tokens with the CLI:
<code>roster tenant list</code>, <code>roster token create --tenant default</code>.</p>
<form method="post" action="/admin/logout"><button type="submit">Sign out</button></form>
</body></html>`))
	adminSignIn = template.Must(template.New("signin").Parse(adminHead + `
<h1>Roster admin</h1>
{{if .OIDC}}<p>Sign-in through your identity provider arrives with the portal issue.</p>
{{else}}<p class="banner" role="status"><strong>OIDC is not configured.</strong> Sign in with the one-time
link <code>roster serve</code> printed when it started; each start prints a new one.</p>{{end}}
</body></html>`))
)
