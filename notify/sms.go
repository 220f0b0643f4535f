package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"
	"unicode"

	"github.com/roster-scim/roster/store"
)

// SMSConfig describes an HTTP text-message provider: most take a POST
// with the number and text in a JSON or form body and a key in a header.
type SMSConfig struct {
	URL string
	// AuthHeader is sent as is, e.g. "Authorization: Bearer xyz".
	AuthHeader string
	// ContentType of the body, e.g. "application/json".
	ContentType string
	// Body is a text/template over {{.To}} and {{.Text}}; their values are
	// escaped for ContentType (JSON strings or form values).
	Body    string
	Timeout time.Duration
}

// SMSSender delivers text messages through an HTTP provider.
type SMSSender struct {
	cfg    SMSConfig
	tmpl   *template.Template
	client *http.Client
}

// NewSMSSender checks cfg and returns a sender.
func NewSMSSender(cfg SMSConfig) (*SMSSender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("sms url %q is not an http(s) URL", cfg.URL)
	}
	if cfg.AuthHeader != "" && !strings.Contains(cfg.AuthHeader, ":") {
		return nil, errors.New(`sms auth header must look like "Name: value"`)
	}
	if cfg.ContentType == "" {
		cfg.ContentType = "application/json"
	}
	if cfg.Body == "" {
		cfg.Body = `{"to":{{.To}},"text":{{.Text}}}`
	}
	t, err := template.New("sms").Option("missingkey=error").Parse(cfg.Body)
	if err != nil {
		return nil, fmt.Errorf("sms body template: %w", err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &SMSSender{cfg: cfg, tmpl: t, client: &http.Client{Timeout: cfg.Timeout}}, nil
}

// Send posts one message. A 4xx answer is permanent (the provider refused
// the number or the request); 5xx and network errors are retried.
func (s *SMSSender) Send(ctx context.Context, m *store.OutboxMessage) error {
	to, err := NormalizePhone(m.To)
	if err != nil {
		return &Permanent{err}
	}
	esc := func(v string) string {
		if strings.Contains(s.cfg.ContentType, "json") {
			b, _ := json.Marshal(v)
			return string(b)
		}
		return url.QueryEscape(v)
	}
	var body bytes.Buffer
	if err := s.tmpl.Execute(&body, map[string]string{"To": esc(to), "Text": esc(m.Text)}); err != nil {
		return &Permanent{fmt.Errorf("sms body template: %w", err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, &body)
	if err != nil {
		return &Permanent{err}
	}
	req.Header.Set("Content-Type", s.cfg.ContentType)
	if name, value, ok := strings.Cut(s.cfg.AuthHeader, ":"); ok {
		req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout:
		return &Permanent{fmt.Errorf("sms provider refused the message: %s %s", resp.Status, strings.TrimSpace(string(snippet)))}
	}
	return fmt.Errorf("sms provider: %s", resp.Status)
}

// NormalizePhone turns a phone number as people type it ("+44 20 7946
// 0958", "0044 20 7946-0958") into E.164 ("+442079460958"). Only
// international numbers are accepted: Roster serves organisations in many
// countries and cannot guess a national prefix.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("phone number is empty")
	}
	if strings.Contains(s, "(0)") {
		// "+44 (0)20": the 0 is dialled only inside the country.
		return "", fmt.Errorf("phone number %q: leave out the (0) after the country code", s)
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '+' && i == 0:
			b.WriteRune(r)
		case unicode.IsDigit(r) && r < 128:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", fmt.Errorf("phone number %q has a character that is not a digit: %q", s, r)
		}
	}
	n := b.String()
	if strings.HasPrefix(n, "00") {
		n = "+" + n[2:]
	}
	if !strings.HasPrefix(n, "+") {
		return "", fmt.Errorf("phone number %q needs its country code, e.g. +44 20 7946 0958", s)
	}
	digits := len(n) - 1
	if digits < 8 || digits > 15 || n[1] == '0' {
		return "", fmt.Errorf("phone number %q is not a valid international number (8 to 15 digits after +, no leading 0)", s)
	}
	return n, nil
}
