package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/notify"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"+44 20 7946 0958", "+442079460958", true},
		{"0044 20 7946 0958", "+442079460958", true},
		{"+1 (555) 555-0100", "+15555550100", true},
		{"+45.33.12.34.56", "+4533123456", true},
		{"020 7946 0958", "", false},       // no country code
		{"+44 20 7946 0958x12", "", false}, // extension letters
		{"+0 123 456 789", "", false},
		{"+44 (0)20 7946 0958", "+442079460958", true}, // the trunk 0 dropped
		{"+1234", "", false},
		{"", "", false},
		{"+44 ٢٠ 7946 0958", "", false}, // non-ASCII digits
	}
	for _, tt := range tests {
		got, err := notify.NormalizePhone(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && err.Error() == "" {
			t.Errorf("NormalizePhone(%q): empty error message", tt.in)
		}
	}
}

func TestSMSSenderAgainstLocalSink(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	var auths []string
	status := http.StatusAccepted
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.Header.Get("Content-Type")+" "+string(b))
		auths = append(auths, r.Header.Get("X-Api-Key"))
		st := status
		mu.Unlock()
		w.WriteHeader(st)
	}))
	defer sink.Close()
	ctx := context.Background()
	msg := &store.OutboxMessage{ID: "m1", Channel: "sms", To: "+44 20 7946 0958", Text: `Your code: "42" & welcome`}

	s, err := notify.NewSMSSender(notify.SMSConfig{URL: sink.URL, AuthHeader: "X-Api-Key: k3y"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	form, err := notify.NewSMSSender(notify.SMSConfig{URL: sink.URL, ContentType: "application/x-www-form-urlencoded", Body: "To={{.To}}&Body={{.Text}}"})
	if err != nil {
		t.Fatal(err)
	}
	if err := form.Send(ctx, msg); err != nil {
		t.Fatalf("Send (form): %v", err)
	}
	want0 := `application/json {"to":"+442079460958","text":"Your code: \"42\" \u0026 welcome"}`
	if bodies[0] != want0 || auths[0] != "k3y" {
		t.Errorf("JSON request = %q with key %q, want %q with key k3y", bodies[0], auths[0], want0)
	}
	v, _ := url.ParseQuery(bodies[1][len("application/x-www-form-urlencoded "):])
	if v.Get("To") != "+442079460958" || v.Get("Body") != msg.Text {
		t.Errorf("form request = %q", bodies[1])
	}

	var perm *notify.Permanent
	mu.Lock()
	status = http.StatusBadRequest
	mu.Unlock()
	if err := s.Send(ctx, msg); !errors.As(err, &perm) {
		t.Errorf("provider 400: %v, want a permanent error", err)
	}
	mu.Lock()
	status = http.StatusServiceUnavailable
	mu.Unlock()
	if err := s.Send(ctx, msg); err == nil || errors.As(err, &perm) {
		t.Errorf("provider 503: %v, want a retryable error", err)
	}
	bad := *msg
	bad.To = "not a number"
	if err := s.Send(ctx, &bad); !errors.As(err, &perm) {
		t.Errorf("bad number: %v, want a permanent error before any request", err)
	}
	for _, cfg := range []notify.SMSConfig{{URL: "ftp://x"}, {URL: sink.URL, AuthHeader: "nocolon"}, {URL: sink.URL, Body: "{{.Nope"}} {
		if _, err := notify.NewSMSSender(cfg); err == nil {
			t.Errorf("NewSMSSender(%+v) accepted a bad configuration", cfg)
		}
	}
}

// TestLoginDetailsBySMS: the portal's "send login details by SMS" goes
// through the outbox to an HTTP provider: delivered once; with the
// provider down the message waits and is delivered exactly once when it
// is back; a number that cannot take a text message is refused before
// anything is queued.
func TestLoginDetailsBySMS(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	must(t, err)
	defer st.Close()
	tm, err := notify.LoadTemplates("")
	must(t, err)
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	iv := &auth.Invites{Store: st, PublicURL: "https://roster.test", TTL: time.Hour, Mail: tm, Now: clock}
	ten := &store.Tenant{Name: "Acme"}
	must(t, st.CreateTenant(ctx, ten))
	newUser := func(name, mobile, activation string) *store.User {
		u := &store.User{TenantID: ten.ID, UserName: name, Active: true, Activation: activation,
			PhoneNumbers: []store.MultiValue{{Value: mobile, Type: "mobile"}}}
		must(t, st.CreateUser(ctx, u))
		return u
	}
	pending := newUser("ada@acme.test", "+44 7700 900123", store.ActivationPending)
	active := newUser("bob@acme.test", "+4915112345678", store.ActivationActive)
	national := newUser("cy@acme.test", "07700 900123", store.ActivationActive)

	var mu sync.Mutex
	var got []map[string]string
	up := false
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if !up {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Authorization") != "Bearer k" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got = append(got, body)
		w.WriteHeader(http.StatusCreated)
	}))
	defer sink.Close()
	sender, err := notify.NewSMSSender(notify.SMSConfig{URL: sink.URL, AuthHeader: "Authorization: Bearer k", From: "Acme",
		Body: `{"to":{{.To}},"from":{{.From}},"text":{{.Text}}}`})
	must(t, err)
	d := &notify.Dispatcher{Outbox: st, Senders: map[string]notify.Sender{"sms": sender}, Holder: "n1", Now: clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}

	to, err := iv.SendLoginSMS(ctx, ten.ID, pending.ID, "admin:test", store.NormPhone)
	if err != nil || to != "+447700900123" {
		t.Fatalf("SendLoginSMS(pending) = %q, %v; want the number in E.164", to, err)
	}
	// Provider down: nothing delivered, the message waits.
	if sent, failed, _ := d.RunOnce(ctx); sent != 0 || failed != 1 {
		t.Fatalf("provider down: sent %d failed %d, want 0 and 1", sent, failed)
	}
	mu.Lock()
	up = true
	mu.Unlock()
	now = now.Add(time.Minute) // past the first back-off
	if sent, _, _ := d.RunOnce(ctx); sent != 1 {
		t.Fatalf("provider back: sent %d, want 1", sent)
	}
	_, err = iv.SendLoginSMS(ctx, ten.ID, active.ID, "admin:test", store.NormPhone)
	must(t, err)
	now = now.Add(2 * time.Hour) // every back-off long past: nothing is due again
	for range 3 {
		d.RunOnce(ctx)
	}
	if len(got) != 2 {
		t.Fatalf("provider received %d messages, want exactly 2: %v", len(got), got)
	}
	if got[0]["to"] != "+447700900123" || got[0]["from"] != "Acme" || !strings.Contains(got[0]["text"], "ada@acme.test") ||
		!strings.Contains(got[0]["text"], "https://roster.test/invite/rsi_") {
		t.Errorf("pending user's SMS = %v; want their user name and an activation link", got[0])
	}
	if got[1]["to"] != "+4915112345678" || !strings.Contains(got[1]["text"], "bob@acme.test") || strings.Contains(got[1]["text"], "/invite/") {
		t.Errorf("active user's SMS = %v; want their user name and no link", got[1])
	}
	invs, _ := st.ListInvitations(ctx, ten.ID, pending.ID)
	if len(invs) != 1 {
		t.Errorf("pending user has %d invitations, want the one the SMS carries", len(invs))
	}

	if _, err := iv.SendLoginSMS(ctx, ten.ID, national.ID, "admin:test", store.NormPhone); err == nil || !strings.Contains(err.Error(), "country code") {
		t.Errorf("national number: %v, want a refusal asking for the country code", err)
	}
	nomobile := &store.User{TenantID: ten.ID, UserName: "dee@acme.test", Active: true}
	must(t, st.CreateUser(ctx, nomobile))
	if _, err := iv.SendLoginSMS(ctx, ten.ID, nomobile.ID, "admin:test", store.NormPhone); !errors.Is(err, auth.ErrNoMobile) {
		t.Errorf("user without a mobile: %v, want ErrNoMobile", err)
	}
	msgs, _ := st.ListOutbox(ctx, ten.ID, 10)
	if len(msgs) != 2 {
		t.Errorf("outbox holds %d messages, want 2 (refusals queue nothing)", len(msgs))
	}
}
