package auth

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/roster-scim/roster/store"
)

// TokenLookup is what SCIMBearer needs from the store.
type TokenLookup interface {
	TokenByHash(ctx context.Context, hash string) (*store.Token, error)
	GetTenant(ctx context.Context, id string) (*store.Tenant, error)
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// DefaultCacheTTL is how long SCIMBearer trusts a token it has checked.
// It bounds how late a revocation or a tenant suspension takes effect.
const DefaultCacheTTL = 30 * time.Second

// defaultCacheSize bounds the cache: far more tokens than any deployment
// has in active use, small enough (a few MB) not to matter.
const defaultCacheSize = 10000

// touchEvery is how often a token's last-used time is written: often
// enough for an admin deciding whether a token is still in use, rare
// enough that reads never turn into writes.
const touchEvery = time.Minute

// BearerOptions tunes SCIMBearer. The zero value checks every request
// against the store.
type BearerOptions struct {
	// CacheTTL is how long a successful check is reused without asking
	// the store again. A token revoked (or a tenant suspended) while
	// cached keeps working on that node for at most CacheTTL. Zero or
	// negative: no cache. Roster's default is DefaultCacheTTL.
	CacheTTL time.Duration
	// CacheSize bounds the number of cached tokens (default 10000).
	CacheSize int
	// Logger receives store errors (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

// Caller is who a SCIM request authenticated as.
type Caller struct {
	TenantID string
	TokenID  string
}

type callerKey struct{}

// WithCaller returns ctx carrying c, as SCIMBearer does; handlers' tests
// use it to call a handler as some tenant without a token.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller SCIMBearer authenticated, if any.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// TenantID returns the tenant of the authenticated SCIM caller, or "".
func TenantID(ctx context.Context) string {
	c, _ := CallerFrom(ctx)
	return c.TenantID
}

// TokenID returns the id of the SCIM token the caller used, or "".
func TokenID(ctx context.Context) string {
	c, _ := CallerFrom(ctx)
	return c.TokenID
}

// SCIMBearer returns middleware that lets a request through only with a
// valid SCIM token of an active tenant (Authorization: Bearer rst_…),
// with the tenant and token ids in its context. Anything else gets a SCIM
// error body: 401 for a missing, malformed, unknown or revoked token, 403
// for a suspended tenant, 500 when the store fails.
func SCIMBearer(tokens TokenLookup, opts BearerOptions) func(http.Handler) http.Handler {
	v := newVerifier(tokens, opts)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := v.verify(r.Context(), r.Header.Get("Authorization"))
			if err != nil {
				v.refuse(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
		})
	}
}

// refusal is a request SCIMBearer turns away, with what the caller is told.
type refusal struct {
	status int
	detail string
	// challenge is the RFC 6750 error code for WWW-Authenticate; "" when
	// the request carried no credentials at all (RFC 6750 §3.1).
	challenge string
}

func (e *refusal) Error() string { return e.detail }

var (
	errMissing = &refusal{http.StatusUnauthorized,
		"authentication required: send the tenant's SCIM token as Authorization: Bearer <token>", ""}
	errMalformed = &refusal{http.StatusUnauthorized,
		"malformed bearer token: expected a Roster SCIM token (rst_...)", "invalid_token"}
	errUnknown = &refusal{http.StatusUnauthorized,
		"unknown token", "invalid_token"}
	errRevoked = &refusal{http.StatusUnauthorized,
		"token revoked", "invalid_token"}
	errSuspended = &refusal{http.StatusForbidden,
		"tenant suspended", ""}
	errInternal = &refusal{http.StatusInternalServerError,
		"internal error while checking the token", ""}
)

type cached struct {
	caller  Caller
	expires time.Time
	touched time.Time // when LastUsedAt was last written (or read as written)
}

type verifier struct {
	tokens TokenLookup
	ttl    time.Duration
	size   int
	log    *slog.Logger
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]*cached // by token hash
}

func newVerifier(tokens TokenLookup, o BearerOptions) *verifier {
	v := &verifier{tokens: tokens, ttl: o.CacheTTL, size: o.CacheSize, log: o.Logger, now: o.Now,
		cache: map[string]*cached{}}
	if v.size <= 0 {
		v.size = defaultCacheSize
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v
}

// bearer extracts the credentials of an "Authorization: Bearer x" header;
// the scheme is case-insensitive (RFC 7235 §2.1).
func bearer(header string) (string, bool) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(cred), true
}

func (v *verifier) verify(ctx context.Context, header string) (Caller, error) {
	if header == "" {
		return Caller{}, errMissing
	}
	secret, ok := bearer(header)
	if !ok || !WellFormedToken(secret) {
		return Caller{}, errMalformed
	}
	hash := HashSecret(secret)
	now := v.now()

	v.mu.Lock()
	e := v.cache[hash]
	if e != nil && now.After(e.expires) {
		delete(v.cache, hash)
		e = nil
	}
	var touch bool
	if e != nil && now.Sub(e.touched) >= touchEvery {
		e.touched = now
		touch = true
	}
	v.mu.Unlock()
	if e != nil {
		if touch {
			v.touch(ctx, e.caller.TokenID, now)
		}
		return e.caller, nil
	}

	t, err := v.tokens.TokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, errUnknown
	}
	if err != nil {
		v.log.ErrorContext(ctx, "scim token lookup failed", "err", err)
		return Caller{}, errInternal
	}
	// The lookup already matched on the hash; comparing again in constant
	// time keeps the decision independent of how a backend compares
	// (collation, prefix indexes) and of timing.
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) != 1 {
		return Caller{}, errUnknown
	}
	if !t.RevokedAt.IsZero() {
		return Caller{}, errRevoked
	}
	tenant, err := v.tokens.GetTenant(ctx, t.TenantID)
	if errors.Is(err, store.ErrNotFound) {
		// A token outliving its tenant is as good as unknown.
		return Caller{}, errUnknown
	}
	if err != nil {
		v.log.ErrorContext(ctx, "scim token tenant lookup failed", "err", err, "tenant", t.TenantID)
		return Caller{}, errInternal
	}
	if tenant.Suspended {
		return Caller{}, errSuspended
	}

	c := Caller{TenantID: t.TenantID, TokenID: t.ID}
	touched := t.LastUsedAt
	if now.Sub(touched) >= touchEvery {
		touched = now
		v.touch(ctx, t.ID, now)
	}
	if v.ttl > 0 {
		v.put(hash, &cached{caller: c, expires: now.Add(v.ttl), touched: touched})
	}
	return c, nil
}

// touch records a use. A failure only costs accuracy of "last used", so
// the request goes on.
func (v *verifier) touch(ctx context.Context, tokenID string, now time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := v.tokens.TouchToken(ctx, tokenID, store.Timestamp(now)); err != nil {
		v.log.WarnContext(ctx, "recording scim token use failed", "err", err, "token", tokenID)
	}
}

func (v *verifier) put(hash string, e *cached) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= v.size {
		now := v.now()
		for k, old := range v.cache {
			if now.After(old.expires) {
				delete(v.cache, k)
			}
		}
		// Still full of live entries: drop arbitrary ones (map order is
		// random); they cost one store lookup each to come back.
		for k := range v.cache {
			if len(v.cache) < v.size {
				break
			}
			delete(v.cache, k)
		}
	}
	v.cache[hash] = e
}

func (v *verifier) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var e *refusal
	if !errors.As(err, &e) {
		e = errInternal
	}
	if e.status == http.StatusUnauthorized {
		challenge := `Bearer realm="roster"`
		if e.challenge != "" {
			challenge += `, error="` + e.challenge + `"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	WriteSCIMError(w, e.status, e.detail)
}

// scimErrorSchema is the schema URN of a SCIM error response (RFC 7644 §3.12).
const scimErrorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

// WriteSCIMError answers with a SCIM error body (RFC 7644 §3.12) without
// a scimType, for the refusals that happen before the SCIM layer runs.
func WriteSCIMError(w http.ResponseWriter, status int, detail string) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // a SCIM client reads "<token>", not "\u003ctoken\u003e"
	_ = enc.Encode(struct {
		Schemas []string `json:"schemas"`
		Status  string   `json:"status"`
		Detail  string   `json:"detail"`
	}{[]string{scimErrorSchema}, strconv.Itoa(status), detail})
	w.Header().Set("Content-Type", "application/scim+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body.Bytes())
}
