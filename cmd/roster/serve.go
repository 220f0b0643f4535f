package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/roster-scim/roster/admin"
	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// defaultTenant is the tenant a first start creates, so a single-company
// installation never has to think about tenants.
const defaultTenant = "default"

const usageServe = `Usage: roster serve [--addr HOST:PORT] [--data DIR] [--config FILE]

Runs the Roster server: the SCIM 2.0 API at /scim/v2, the admin pages at
/admin, /healthz and /readyz. With no flags and no file it keeps its data
in SQLite at ./data/roster.db and listens on 127.0.0.1:8080.

On first start it creates the tenant "default", prints a SCIM token for it
(once) and, while OIDC is not configured, a one-time admin sign-in link.
SIGINT or SIGTERM stops it gracefully: in-flight requests finish (up to
server.shutdown_timeout).

Every key of config.example.yaml can also be set as ROSTER_<KEY>, for
example ROSTER_LOG_LEVEL=debug or ROSTER_SERVER_PUBLIC_URL=https://roster.example.com.
`

// commonFlags are the flags of every command that opens the store.
func commonFlags(fs interface {
	StringVar(p *string, name, value, usage string)
}, o *overrides) {
	fs.StringVar(&o.dataDir, "data", "", "data `DIR`ectory for the SQLite database (default ./data; env ROSTER_DATA)")
	fs.StringVar(&o.configFile, "config", "", "configuration `FILE` in YAML, see config.example.yaml (env ROSTER_CONFIG)")
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o overrides
	fs := newFlagSet("serve", usageServe, stdout)
	fs.StringVar(&o.addr, "addr", "", "listen on `HOST:PORT` (default 127.0.0.1:8080; env ROSTER_ADDR)")
	commonFlags(fs, &o)
	if code, ok := parseFlags(fs, args, 0, stderr); !ok {
		return code
	}
	cfg, err := loadConfig(o, os.Environ())
	if err != nil {
		fmt.Fprintf(stderr, "roster: %v\n", err)
		return exitUsage
	}
	// Here, not in serve: tests run serve inside their own process.
	tuneGC(os.LookupEnv)
	if err := serve(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "roster: %v\n", oneLine(err))
		return exitFailure
	}
	return exitOK
}

// oneLine keeps start-up failures to the single line promised.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func serve(ctx context.Context, cfg *Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg.Log, stderr)
	// Before any data is touched: a broken template is a configuration error.
	tmpl, err := loadMailTemplates(cfg)
	if err != nil {
		return err
	}
	if cfg.SMS.URL != "" {
		if _, err := newSMSSender(cfg); err != nil {
			return err
		}
	}
	if len(tmpl.Overridden) > 0 {
		log.Info("mail templates", "dir", cfg.Mail.TemplatesDir, "overridden", tmpl.Overridden)
	}

	// The data directory holds the bootstrap links whatever the backend.
	if err := ensureWritableDir(cfg.Storage.DataDir); err != nil {
		return err
	}
	tlsConfig, err := serverTLS(cfg.Server.TLS)
	if err != nil {
		return err
	}
	raw, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer raw.Close()
	m := newMetrics()
	m.reg.MustRegister(newStateCollector(raw, log))
	observeFilterScans(raw, m, log)
	st := instrumentStore(raw, m)

	// Listen before touching any data: if the port is taken, the first
	// start must not have minted a token nobody will see.
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return listenError(cfg.Server.Addr, err)
	}
	defer ln.Close()
	var adminLn net.Listener
	if cfg.Server.AdminAddr != "" {
		if adminLn, err = net.Listen("tcp", cfg.Server.AdminAddr); err != nil {
			return listenError(cfg.Server.AdminAddr, err)
		}
		defer adminLn.Close()
	}
	publicURL := strings.TrimRight(cfg.Server.PublicURL, "/")
	if publicURL == "" {
		scheme := "http://"
		if tlsConfig != nil {
			scheme = "https://"
		}
		publicURL = scheme + ln.Addr().String()
	}

	tenant, secret, err := ensureDefaultTenant(ctx, st)
	if err != nil {
		return err
	}
	// TODO(store): keep links in the store (st) once store.Invitation has
	// a bootstrap kind, so every node of a cluster accepts them.
	links := auth.NewLinkFile(filepath.Join(cfg.Storage.DataDir, "bootstrap.json"))
	bootstrap := &auth.Bootstrap{Invitations: links, TenantID: tenant.ID}
	var link string
	if cfg.OIDC.Configured() {
		// Links printed by earlier starts must not outlive the switch to OIDC.
		if err := links.RevokeInvitations(ctx, tenant.ID, "", store.Timestamp(time.Now())); err != nil {
			return fmt.Errorf("revoke bootstrap links: %w", err)
		}
	} else {
		s, err := bootstrap.NewLink(ctx)
		if err != nil {
			return err
		}
		link = auth.BootstrapURL(publicURL, s)
	}

	engine := licensing.New(st, licensing.WithLogger(log), licensing.WithMail(tmpl))
	invites := newInvites(cfg, st, publicURL, tmpl, log)
	imports := newImportRunner(cfg, st, engine, invites, nodeName(), log)
	o := cfg.OIDC
	// One request log: /scim/v2 writes it, the portal's Connect page reads it.
	reqlog := admin.NewRequestLog(0)
	portal := admin.New(admin.Deps{Store: st, Engine: engine, Logger: log, PublicURL: publicURL, Bootstrap: bootstrap,
		RequestLog: reqlog,
		Imports:    imports,
		Invites:    invites,
		SMS:        cfg.SMS.URL != "",
		OIDC: auth.OIDCConfig{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret, RedirectURL: o.RedirectURL,
			Scopes: o.Scopes, OperatorSubjects: o.OperatorSubjects, OperatorEmails: o.OperatorEmails,
			OperatorGroupsClaim: o.OperatorGroupsClaim, OperatorGroups: o.OperatorGroups,
			ExternalIDClaim: o.ExternalIDClaim}})
	workers, err := startWorkers(ctx, cfg, st, engine, imports, log, m)
	if err != nil {
		return err
	}
	defer workers.stop()

	var draining atomic.Bool
	srv := &http.Server{
		Handler: newRouter(routerDeps{cfg: cfg, publicURL: publicURL, store: st, engine: engine, log: log,
			portal: portal, reqlog: reqlog, metrics: m, clients: newClientAddr(cfg.Server.TrustedProxies), invites: invites,
			draining: &draining}),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: min(cfg.Server.ReadTimeout, 10*time.Second),
		ReadTimeout:       cfg.Server.ReadTimeout,
		WriteTimeout:      cfg.Server.WriteTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	printWelcome(stdout, cfg, publicURL, tenant, secret, link)
	log.Info("listening", "addr", ln.Addr().String(), "public_url", publicURL,
		"storage", cfg.Storage.Driver, "version", rosterVersion())

	served := make(chan error, 2)
	go func() {
		if tlsConfig != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	var adminSrv *http.Server
	if adminLn != nil {
		adminSrv = newAdminServer(m, log)
		go func() { served <- adminSrv.Serve(adminLn) }()
		log.Info("admin listener", "addr", adminLn.Addr().String(), "serves", "/metrics /debug/pprof/")
	}
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down", "timeout", cfg.Server.ShutdownTimeout.String())
	draining.Store(true)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout)
	defer cancel()
	if adminSrv != nil {
		// Metrics until the end would be nice, but a profile in progress
		// must not hold the shutdown up.
		_ = adminSrv.Close()
	}
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: requests still running after %s were cut off", cfg.Server.ShutdownTimeout)
	}
	log.Info("stopped")
	return nil
}

// listenError turns net.Listen's error into "listen ADDR: reason".
func listenError(addr string, err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
		// "bind: address already in use": the syscall name adds nothing.
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
	}
	return fmt.Errorf("listen %s: %v", addr, err)
}

// ensureDefaultTenant creates the default tenant and its first SCIM token
// when missing. The token secret is returned only when it was minted now.
// "First start" means "the default tenant has no token at all, revoked
// ones included", so a crash between the two steps heals on the next
// start, and revoking every token does not make a restart mint one.
func ensureDefaultTenant(ctx context.Context, st store.Store) (*store.Tenant, string, error) {
	t, err := st.GetTenantByName(ctx, defaultTenant)
	if errors.Is(err, store.ErrNotFound) {
		t = &store.Tenant{Name: defaultTenant}
		err = st.CreateTenant(ctx, t)
		if _, ok := store.IsConflict(err); ok {
			// Another node created it first.
			t, err = st.GetTenantByName(ctx, defaultTenant)
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("default tenant: %w", err)
	}
	tokens, err := st.ListTokens(ctx, t.ID)
	if err != nil {
		return nil, "", fmt.Errorf("default tenant: %w", err)
	}
	if len(tokens) > 0 {
		return t, "", nil
	}
	secret, _, err := auth.MintToken(ctx, st, t.ID, "first start", time.Now())
	if err != nil {
		return nil, "", err
	}
	return t, secret, nil
}

func printWelcome(w io.Writer, cfg *Config, publicURL string, tenant *store.Tenant, secret, link string) {
	where := "SQLite " + cfg.SQLitePath()
	if cfg.Storage.Driver == "mongodb" {
		where = "MongoDB database " + cfg.Storage.MongoDB.Database
	}
	fmt.Fprintf(w, "Roster %s listening on %s (data: %s)\n\n", rosterVersion(), publicURL, where)
	fmt.Fprintf(w, "  SCIM base URL:  %s/scim/v2\n", publicURL)
	if secret != "" {
		fmt.Fprintf(w, "  SCIM token:     %s\n", secret)
		fmt.Fprintf(w, "                  for tenant %q; shown only this once (Roster keeps only its hash),\n", tenant.Name)
		fmt.Fprintf(w, "                  paste it into your identity provider's provisioning settings now.\n")
	} else {
		fmt.Fprintf(w, "  SCIM tokens:    use `roster token create --tenant %s` to mint another\n", tenant.Name)
	}
	if link != "" {
		fmt.Fprintf(w, "  Admin sign-in:  %s\n", link)
		fmt.Fprintf(w, "                  one-time link, valid for %d hours; OIDC is not configured\n", int(auth.DefaultBootstrapTTL.Hours()))
	} else {
		fmt.Fprintf(w, "  Admin sign-in:  %s/admin (OIDC)\n", publicURL)
	}
	fmt.Fprintln(w)
}
