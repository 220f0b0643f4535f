package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// SessionCookie is the name of the admin session cookie.
const SessionCookie = "roster_session"

// Roles a session can carry.
const (
	// RoleOperator runs the platform: every tenant, products, settings.
	RoleOperator = "operator"
)

// Session is a signed-in person of the admin portal.
type Session struct {
	Subject string    `json:"sub"`
	Role    string    `json:"role"`
	Via     string    `json:"via"` // how they signed in: "bootstrap", later "oidc"
	Expires time.Time `json:"exp"`
}

// Sessions issues and reads admin session cookies. A session is a signed
// cookie (HMAC-SHA256) rather than a store record, so any node holding the
// key recognises it without a lookup; the price is that one session cannot
// be revoked before it expires except by changing the key.
//
// The portal does not use it: it keeps sessions in the store
// (ServerSessions), so a sign-out or a lost right ends a session
// everywhere at once. Sessions remains only until cmd mounts admin.New in
// place of its placeholder /admin pages; then it goes.
type Sessions struct {
	key    []byte
	ttl    time.Duration
	secure bool
	now    func() time.Time
}

// NewSessions returns Sessions signing with key (at least 32 bytes) that
// last ttl. secure marks the cookie Secure, which a server reached over
// https must do.
func NewSessions(key []byte, ttl time.Duration, secure bool) (*Sessions, error) {
	if len(key) < 32 {
		return nil, errors.New("session key: need at least 32 bytes")
	}
	if ttl <= 0 {
		return nil, errors.New("session lifetime: must be positive")
	}
	return &Sessions{key: append([]byte(nil), key...), ttl: ttl, secure: secure, now: time.Now}, nil
}

// Issue signs s in with a cookie; s.Expires is set from the lifetime.
func (m *Sessions) Issue(w http.ResponseWriter, s Session) {
	s.Expires = m.now().Add(m.ttl).UTC().Truncate(time.Second)
	payload, _ := json.Marshal(s)
	p := base64.RawURLEncoding.EncodeToString(payload)
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    p + "." + m.sign(p),
		Path:     "/",
		Expires:  s.Expires,
		HttpOnly: true,
		Secure:   m.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// Read returns the request's session when its cookie carries a valid,
// unexpired signature.
func (m *Sessions) Read(r *http.Request) (Session, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return Session{}, false
	}
	p, sig, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(m.sign(p))) {
		return Session{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return Session{}, false
	}
	var s Session
	if json.Unmarshal(payload, &s) != nil || !m.now().Before(s.Expires) {
		return Session{}, false
	}
	return s, true
}

// Clear signs the browser out.
func (m *Sessions) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteLaxMode})
}

func (m *Sessions) sign(payload string) string {
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte("roster session v1\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
