package notify

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/roster-scim/roster/store"
)

// SMTPConfig is where and how to deliver e-mail.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string // "Roster <no-reply@example.com>"
	// TLS is "starttls" (required), "opportunistic" or "none" (only for a
	// relay on the same host).
	TLS     string
	Timeout time.Duration
	// Domain is the right-hand side of Message-IDs.
	Domain string
	// TenantSender, when set, returns a tenant's own sender ("IT Service
	// Desk <it@example.com>", the portal's invitation sender setting, or
	// ""). Its name is shown as the sender and its address gets the
	// replies, while the From address stays From: a relay may only send
	// for its own domain, and receivers check that (SPF, DMARC).
	TenantSender func(ctx context.Context, tenantID string) string
}

// SMTPSender sends e-mail over SMTP.
type SMTPSender struct{ cfg SMTPConfig }

// NewSMTPSender checks cfg and returns a sender.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp host is empty")
	}
	if _, err := mail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("smtp from %q is not an e-mail address", cfg.From)
	}
	switch cfg.TLS {
	case "", "starttls", "opportunistic", "none":
	default:
		return nil, fmt.Errorf("smtp tls %q is not one of starttls, opportunistic, none", cfg.TLS)
	}
	if cfg.Port == 0 {
		cfg.Port = 587
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Domain == "" {
		cfg.Domain = "roster.invalid"
	}
	return &SMTPSender{cfg: cfg}, nil
}

// Send delivers one message, with its outbox id as Message-ID.
func (s *SMTPSender) Send(ctx context.Context, m *store.OutboxMessage) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return &Permanent{err}
	}
	if s.cfg.TenantSender != nil && m.TenantID != "" {
		if a, err := mail.ParseAddress(s.cfg.TenantSender(ctx, m.TenantID)); err == nil {
			from, _ := mail.ParseAddress(s.cfg.From)
			name := a.Name
			if name == "" {
				name = a.Address
			}
			if err := msg.FromFormat(name, from.Address); err != nil {
				return &Permanent{err}
			}
			if err := msg.ReplyTo(a.Address); err != nil {
				return &Permanent{err}
			}
		}
	}
	if err := msg.To(m.To); err != nil {
		return &Permanent{fmt.Errorf("recipient %q: %w", m.To, err)}
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.ID + "@" + s.cfg.Domain)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case "", "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "opportunistic":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return err
	}
	err = c.DialAndSendWithContext(ctx, msg)
	if err != nil && isPermanent(err) {
		return &Permanent{err}
	}
	return err
}

// isPermanent recognises 5xx SMTP replies about the recipient.
func isPermanent(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && !se.IsTemp() && se.Reason == gomail.ErrSMTPRcptTo
}
