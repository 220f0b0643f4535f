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
	// Body is a text/template over {{.To}}, {{.From}} and {{.Text}}; their
	// values are escaped for ContentType (JSON strings or form values).
	Body string
	// From is the sender number or name the provider shows, if it takes one.
	From    string
	Timeout time.Duration
}

// DefaultSMSBody is the request body when SMSConfig.Body is empty.
const DefaultSMSBody = `{"to":{{.To}},"text":{{.Text}}}`

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
		cfg.Body = DefaultSMSBody
	}
	t, err := template.New("sms").Option("missingkey=error").Parse(cfg.Body)
	if err == nil {
		// Tried once now, so a field that does not exist stops the start.
		err = t.Execute(io.Discard, map[string]string{"To": `"+1"`, "From": `""`, "Text": `""`})
	}
	if err != nil {
		return nil, fmt.Errorf("sms body template: %s", oneLine(err))
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
	if err := s.tmpl.Execute(&body, map[string]string{"To": esc(to), "From": esc(s.cfg.From), "Text": esc(m.Text)}); err != nil {
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

// NormalizePhone is store.NormPhone: E.164, international numbers only.
func NormalizePhone(s string) (string, error) { return store.NormPhone(s) }
