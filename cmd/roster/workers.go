package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/roster-scim/roster/admin"
	"github.com/roster-scim/roster/importer"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/notify"
	"github.com/roster-scim/roster/store"
)

// workers are the background loops every node runs; each claims its work
// through the store, so running them on every node is safe.
type workers struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// nodeName identifies this process on work leases and outbox claims.
func nodeName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

func startWorkers(ctx context.Context, cfg *Config, st store.Store, engine *licensing.Engine, imports *importer.Runner, log *slog.Logger, m *metrics) (*workers, error) {
	holder := nodeName()
	senders := map[string]notify.Sender{"email": notify.LogSender{Log: log}}
	if cfg.Mail.SMTP.Host != "" {
		s, err := notify.NewSMTPSender(notify.SMTPConfig{
			Host: cfg.Mail.SMTP.Host, Port: cfg.Mail.SMTP.Port, Username: cfg.Mail.SMTP.Username,
			Password: cfg.Mail.SMTP.Password, From: cfg.Mail.From, TLS: cfg.Mail.SMTP.TLS,
			TenantSender: func(ctx context.Context, tenantID string) string {
				if t, err := st.GetTenant(ctx, tenantID); err == nil {
					return t.InviteFrom
				}
				return "" // the configured sender, rather than no e-mail
			},
		})
		if err != nil {
			return nil, fmt.Errorf("mail: %w", err)
		}
		senders["email"] = s
	}
	if cfg.SMS.URL != "" {
		s, err := newSMSSender(cfg)
		if err != nil {
			return nil, err
		}
		senders["sms"] = s
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w := &workers{cancel: cancel}
	dispatcher := &notify.Dispatcher{Outbox: st, Senders: senders, Holder: holder, Log: log}
	reconciler := &licensing.Reconciler{Engine: engine, Holder: holder, Interval: cfg.Licensing.ReconcileInterval}
	// Pool usage history for the portal's chart, and expired sessions.
	sampler := &admin.Sampler{Store: st, Holder: holder, Logger: log}
	w.wg.Add(4)
	go func() {
		defer w.wg.Done()
		// Jobs uploaded through the portal; any node may run one, the
		// job's lease keeps it to one at a time.
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := imports.RunPending(ctx); err != nil && ctx.Err() == nil {
					log.ErrorContext(ctx, "import jobs", "err", err)
				}
			}
		}
	}()
	go func() { defer w.wg.Done(); dispatcher.Run(ctx, 5*time.Second) }()
	go func() { defer w.wg.Done(); runReconciler(ctx, reconciler, m) }()
	go func() { defer w.wg.Done(); sampler.Run(ctx) }()
	return w, nil
}

// newSMSSender is the configured text-message provider.
func newSMSSender(cfg *Config) (*notify.SMSSender, error) {
	s, err := notify.NewSMSSender(notify.SMSConfig{URL: cfg.SMS.URL, AuthHeader: cfg.SMS.AuthHeader,
		ContentType: cfg.SMS.ContentType, Body: cfg.SMS.Body, From: cfg.SMS.From, Timeout: cfg.SMS.Timeout})
	if err != nil {
		return nil, fmt.Errorf("sms: %w", err)
	}
	return s, nil
}

// runReconciler is reconciler.Run, counting what each round corrected.
func runReconciler(ctx context.Context, r *licensing.Reconciler, m *metrics) {
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if ran, fixed := r.Once(ctx); ran {
				m.reconciles.Inc()
				m.reconciled.Add(float64(fixed))
			}
		}
	}
}

// stop ends the loops and waits for the round in progress.
func (w *workers) stop() {
	w.cancel()
	w.wg.Wait()
}
