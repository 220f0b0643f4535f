package notify_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/roster-scim/roster/notify"
	"github.com/roster-scim/roster/store"
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
		{"+44 (0)20 7946 0958", "", false},
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
