package notify_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/mail"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/roster-scim/roster/notify"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// sink is a real SMTP server that keeps what it receives.
type sink struct {
	mu   sync.Mutex
	msgs []string
	rcpt []string
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct {
	s  *sink
	to string
}

func (x *session) Reset()                                    {}
func (x *session) Logout() error                             { return nil }
func (x *session) Mail(string, *smtp.MailOptions) error      { return nil }
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error { x.to = to; return nil }
func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	x.s.msgs = append(x.s.msgs, string(b))
	x.s.rcpt = append(x.s.rcpt, x.to)
	return nil
}

func (s *sink) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// startSink serves SMTP on addr ("127.0.0.1:0" for a fresh port) and
// returns the address and a stop function.
func startSink(t *testing.T, s *sink, addr string) (string, func()) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(s)
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	go func() { _ = srv.Serve(l) }()
	var once sync.Once
	stop := func() { once.Do(func() { srv.Close() }) }
	t.Cleanup(stop)
	return l.Addr().String(), stop
}

func TestSMTPDownThenUpDeliversExactlyOnce(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// Reserve a port, then close it: SMTP is "down".
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)

	sender, err := notify.NewSMTPSender(notify.SMTPConfig{Host: host, Port: port, From: "Roster <no-reply@roster.test>", TLS: "none", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	m := &store.OutboxMessage{TenantID: "t1", ID: store.NewID(), Channel: "email", To: "ada@example.com",
		Subject: "Welcome", Text: "Your seat is ready.", State: store.OutboxQueued, NextAttemptAt: now, CreatedAt: now}
	if err := st.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	d := &notify.Dispatcher{Outbox: st, Senders: map[string]notify.Sender{"email": sender}, Holder: "node-1",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }}

	sent, failed, err := d.RunOnce(ctx)
	if err != nil || sent != 0 || failed != 1 {
		t.Fatalf("with SMTP down: sent=%d failed=%d err=%v, want 0, 1, nil", sent, failed, err)
	}
	got, err := st.GetOutboxMessage(ctx, m.ID)
	if err != nil || got.State != store.OutboxQueued || got.Attempts != 1 || got.LastError == "" {
		t.Fatalf("after a failed attempt: %+v, %v; want queued, 1 attempt, an error", got, err)
	}
	// Not due yet: nothing is attempted before the back-off.
	if sent, failed, _ := d.RunOnce(ctx); sent+failed != 0 {
		t.Errorf("retried before its back-off: sent=%d failed=%d", sent, failed)
	}

	s := &sink{}
	startSink(t, s, addr) // SMTP is back on the same address
	now = now.Add(time.Hour)
	sent, failed, err = d.RunOnce(ctx)
	if err != nil || sent != 1 || failed != 0 {
		t.Fatalf("with SMTP up: sent=%d failed=%d err=%v, want 1, 0, nil", sent, failed, err)
	}
	now = now.Add(time.Hour)
	if sent, _, _ := d.RunOnce(ctx); sent != 0 {
		t.Errorf("a sent message was sent again")
	}
	msgs := s.received()
	if len(msgs) != 1 {
		t.Fatalf("sink received %d messages, want exactly 1", len(msgs))
	}
	if !strings.Contains(msgs[0], "Subject: Welcome") || !strings.Contains(msgs[0], "Message-ID: <"+m.ID+"@") {
		t.Errorf("message lacks subject or outbox Message-ID:\n%s", msgs[0])
	}
}

func TestPermanentFailureGivesUp(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	m := &store.OutboxMessage{TenantID: "t1", ID: store.NewID(), Channel: "pigeon", To: "x", State: store.OutboxQueued, NextAttemptAt: now, CreatedAt: now}
	if err := st.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	d := &notify.Dispatcher{Outbox: st, Senders: map[string]notify.Sender{}, Holder: "n", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, failed, _ := d.RunOnce(ctx); failed != 1 {
		t.Fatalf("failed = %d, want 1", failed)
	}
	got, _ := st.GetOutboxMessage(ctx, m.ID)
	if got.State != store.OutboxFailed || !strings.Contains(got.LastError, "pigeon") {
		t.Errorf("message with no sender for its channel: state %q error %q, want failed naming the channel", got.State, got.LastError)
	}
}

// A tenant's invitation sender (portal Settings) is the name people see
// and the address their replies go to; the From address stays Roster's,
// the only one the relay may send for.
func TestTenantSender(t *testing.T) {
	s := &sink{}
	addr, _ := startSink(t, s, "127.0.0.1:0")
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	sender, err := notify.NewSMTPSender(notify.SMTPConfig{Host: host, Port: port, From: "Roster <no-reply@roster.test>", TLS: "none",
		TenantSender: func(_ context.Context, tenantID string) string {
			return map[string]string{"acme": "IT Service Desk <it@acme.test>"}[tenantID]
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"acme", "globex"} {
		m := &store.OutboxMessage{TenantID: tenant, ID: store.NewID(), Channel: "email", To: "ada@example.com", Subject: "Welcome", Text: "hi"}
		if err := sender.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	msgs := s.received()
	if len(msgs) != 2 {
		t.Fatalf("received %d messages", len(msgs))
	}
	tests := []struct{ from, replyTo string }{
		{`"IT Service Desk" <no-reply@roster.test>`, "<it@acme.test>"},
		{`"Roster" <no-reply@roster.test>`, ""},
	}
	for i, tt := range tests {
		m, err := mail.ReadMessage(strings.NewReader(msgs[i]))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header.Get("From"); got != tt.from {
			t.Errorf("message %d: From %q, want %q", i, got, tt.from)
		}
		if got := m.Header.Get("Reply-To"); got != tt.replyTo {
			t.Errorf("message %d: Reply-To %q, want %q", i, got, tt.replyTo)
		}
	}
}
