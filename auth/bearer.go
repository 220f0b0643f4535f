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
	"sync/atomic"
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

// DefaultNegativeTTL is how long SCIMBearer remembers a token the store
// did not know (or knew as revoked), so an IdP retrying a stale token, or
// a flood of one garbage token, costs one store lookup per interval
// instead of one per request. It bounds how late a token created on
// another node works here if it was presented before it existed; a token
// minted on this node works at once (MintToken invalidates the entries).
const DefaultNegativeTTL = 5 * time.Second

// negativeCacheSize bounds the remembered refusals: a flood of distinct
// garbage tokens evicts them rather than grows memory (each entry is a
// hash and a few words, well under 1 MB in all).
const negativeCacheSize = 4096

// minted counts the tokens MintToken created in this process. A
// remembered refusal is only trusted while the count is what it was when
// the store lookup started, so a token minted here is never hidden by a
// refusal of the same secret.
var minted atomic.Uint64

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
	// NegativeTTL is how long an unknown or revoked token is refused
	// without asking the store again (see DefaultNegativeTTL). Zero or
	// negative: every such request asks the store.
	NegativeTTL time.Duration
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

// refused is a remembered refusal of an unknown or revoked token.
type refused struct {
	err     *refusal
	expires time.Time
	minted  uint64 // the minted count when the store lookup started
}

type verifier struct {
	tokens TokenLookup
	ttl    time.Duration
	negTTL time.Duration
	size   int
	log    *slog.Logger
	now    func() time.Time

	mu       sync.Mutex
	cache    map[string]*cached // by token hash
	neg      map[string]refused // by token hash
	negSwept time.Time
}

func newVerifier(tokens TokenLookup, o BearerOptions) *verifier {
	v := &verifier{tokens: tokens, ttl: o.CacheTTL, negTTL: o.NegativeTTL, size: o.CacheSize, log: o.Logger, now: o.Now,
		cache: map[string]*cached{}, neg: map[string]refused{}}
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
	var known *refusal
	gen := minted.Load()
	if e == nil && v.negTTL > 0 {
		if n, ok := v.neg[hash]; ok && now.Before(n.expires) && n.minted == gen {
			known = n.err
		}
	}
	v.mu.Unlock()
	if e != nil {
		if touch {
			v.touch(ctx, e.caller.TokenID, now)
		}
		return e.caller, nil
	}
	if known != nil {
		return Caller{}, known
	}

	t, err := v.tokens.TokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, v.refuseAgain(hash, errUnknown, now, gen)
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
		return Caller{}, v.refuseAgain(hash, errRevoked, now, gen)
	}
	tenant, err := v.tokens.GetTenant(ctx, t.TenantID)
	if errors.Is(err, store.ErrNotFound) {
		// A token outliving its tenant is as good as unknown.
		return Caller{}, v.refuseAgain(hash, errUnknown, now, gen)
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

// refuseAgain remembers that hash was refused with err (when the negative
// cache is on) and returns err. gen is the minted count read before the
// store lookup: a token minted since then makes the entry void. A full
// table first drops expired entries (at most once per NegativeTTL, so a
// flood does not pay a sweep per request), then an arbitrary one.
func (v *verifier) refuseAgain(hash string, err *refusal, now time.Time, gen uint64) *refusal {
	if v.negTTL <= 0 {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.neg) >= negativeCacheSize {
		if now.Sub(v.negSwept) >= v.negTTL {
			v.negSwept = now
			for k, n := range v.neg {
				if !now.Before(n.expires) || n.minted != gen {
					delete(v.neg, k)
				}
			}
		}
		for k := range v.neg {
			if len(v.neg) < negativeCacheSize {
				break
			}
			delete(v.neg, k)
		}
	}
	v.neg[hash] = refused{err: err, expires: now.Add(v.negTTL), minted: gen}
	return err
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
