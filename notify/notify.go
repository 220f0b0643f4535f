// Package notify delivers what Roster queues in the store's outbox:
// invitations, password resets and access-change e-mails, and text
// messages. Messages are written to the outbox in the same step as the
// change they announce, and a Dispatcher on any node claims and sends them
// with retries and back-off, so nothing is lost while SMTP is down and a
// node that dies mid-send hands its claim over when it expires.
//
// What the messages say comes from Templates: built-in ones embedded in
// the binary, any of which a directory of files may replace, checked when
// they are loaded so a broken one stops the start rather than an
// invitation.
//
// SMTP cannot be exactly-once: a node may die after the server accepted a
// message and before the outbox recorded it. Every message therefore
// carries a Message-ID made from its outbox id, so a resend after such a
// crash is recognisably the same message.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/roster-scim/roster/store"
)

// Sender delivers one message on its channel.
type Sender interface {
	Send(ctx context.Context, m *store.OutboxMessage) error
}

// Permanent marks a delivery error that retrying cannot fix (a malformed
// address, a rejected recipient), so the message is given up at once.
type Permanent struct{ Err error }

func (p *Permanent) Error() string { return p.Err.Error() }
func (p *Permanent) Unwrap() error { return p.Err }

// Dispatcher claims due messages from the outbox and sends them.
type Dispatcher struct {
	Outbox      store.Outbox
	Senders     map[string]Sender // by channel: "email", "sms"
	Holder      string            // this node's name on claims
	Batch       int               // messages per claim (default 20)
	ClaimTTL    time.Duration     // how long a claim lasts (default 2m)
	MaxAttempts int               // then the message is given up (default 8)
	Log         *slog.Logger
	Now         func() time.Time
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// backoff grows 30 s, 1 m, 2 m … capped at an hour.
func backoff(attempt int) time.Duration {
	dur := 30 * time.Second << min(attempt-1, 7)
	return min(dur, time.Hour)
}

// RunOnce claims one batch and delivers it, returning how many were sent
// and how many failed this round.
func (d *Dispatcher) RunOnce(ctx context.Context) (sent, failed int, err error) {
	batch, ttl, maxAttempts := d.Batch, d.ClaimTTL, d.MaxAttempts
	if batch == 0 {
		batch = 20
	}
	if ttl == 0 {
		ttl = 2 * time.Minute
	}
	if maxAttempts == 0 {
		maxAttempts = 8
	}
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	msgs, err := d.Outbox.ClaimOutbox(ctx, d.Holder, d.now(), ttl, batch)
	if err != nil {
		return 0, 0, fmt.Errorf("claim outbox: %w", err)
	}
	for _, m := range msgs {
		s, ok := d.Senders[m.Channel]
		var sendErr error
		if !ok {
			sendErr = &Permanent{fmt.Errorf("no sender configured for channel %q", m.Channel)}
		} else {
			sendErr = s.Send(ctx, m)
		}
		if sendErr == nil {
			if err := d.Outbox.MarkSent(ctx, m.ID, d.Holder, d.now()); err != nil {
				log.ErrorContext(ctx, "outbox mark sent", "id", m.ID, "err", err)
			}
			sent++
			continue
		}
		failed++
		attempt := m.Attempts + 1
		var perm *Permanent
		final := errors.As(sendErr, &perm) || attempt >= maxAttempts
		log.WarnContext(ctx, "delivery failed", "id", m.ID, "channel", m.Channel, "attempt", attempt, "final", final, "err", sendErr)
		if err := d.Outbox.MarkRetry(ctx, m.ID, d.Holder, sendErr.Error(), d.now().Add(backoff(attempt)), final); err != nil {
			log.ErrorContext(ctx, "outbox mark retry", "id", m.ID, "err", err)
		}
	}
	return sent, failed, nil
}

// Run delivers until ctx ends, polling every interval (sooner while there
// is a backlog).
func (d *Dispatcher) Run(ctx context.Context, interval time.Duration) {
	for {
		sent, failed, err := d.RunOnce(ctx)
		wait := interval
		if err == nil && sent+failed > 0 {
			wait = 0 // more may be due right away
		}
		if err != nil && d.Log != nil {
			d.Log.ErrorContext(ctx, "outbox", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// LogSender writes messages to the log instead of delivering them: the
// default of a fresh install, so invitations can be followed on the
// console before SMTP is configured.
type LogSender struct{ Log *slog.Logger }

// Send logs m.
func (s LogSender) Send(ctx context.Context, m *store.OutboxMessage) error {
	s.Log.InfoContext(ctx, "e-mail (not sent: no SMTP configured)", "to", m.To, "subject", m.Subject, "text", m.Text)
	return nil
}
