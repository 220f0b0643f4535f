package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/roster-scim/roster/auth"
)

// keyedLimiter is a token bucket per key (a SCIM token, a client
// address). Memory stays bounded: buckets that have refilled completely
// are forgotten (a fresh bucket is the same thing), and past maxKeys
// arbitrary ones go.
type keyedLimiter struct {
	limit   rate.Limit
	burst   int
	maxKeys int
	now     func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim *rate.Limiter
	// pending counts attempts admitted by tryAttempt and not settled yet;
	// guarded by keyedLimiter.mu.
	pending int
}

func newKeyedLimiter(limit rate.Limit, burst, maxKeys int) *keyedLimiter {
	return &keyedLimiter{limit: limit, burst: burst, maxKeys: maxKeys, now: time.Now, buckets: map[string]*bucket{}}
}

// sweepEvery is how often idle buckets are dropped.
const sweepEvery = time.Minute

// bucket returns key's bucket; l.mu must be held.
func (l *keyedLimiter) bucket(key string, now time.Time) *bucket {
	if b := l.buckets[key]; b != nil {
		return b
	}
	if now.Sub(l.lastSweep) >= sweepEvery || len(l.buckets) >= l.maxKeys {
		l.lastSweep = now
		for k, b := range l.buckets {
			if b.pending == 0 && b.lim.TokensAt(now) >= float64(l.burst) {
				delete(l.buckets, k)
			}
		}
		// Still full of busy buckets: drop arbitrary ones (map order is
		// random). Their owners get a fresh burst, which is the price of
		// a bound on memory under a flood of distinct keys.
		for k := range l.buckets {
			if len(l.buckets) < l.maxKeys {
				break
			}
			delete(l.buckets, k)
		}
	}
	b := &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
	l.buckets[key] = b
	return b
}

// take spends one token of key, or spends nothing and says how long
// until one is free.
func (l *keyedLimiter) take(key string) (wait time.Duration) {
	now := l.now()
	l.mu.Lock()
	b := l.bucket(key, now)
	l.mu.Unlock()
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

// tryAttempt admits an attempt that will cost a token only if it fails
// (see settle). Attempts in flight count as spent meanwhile, so a
// thousand parallel guesses cannot all get in on one token.
func (l *keyedLimiter) tryAttempt(key string) (wait time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	short := float64(b.pending+1) - b.lim.TokensAt(now)
	if short > 0 {
		return time.Duration(short / float64(l.limit) * float64(time.Second))
	}
	b.pending++
	return 0
}

// settle ends an attempt tryAttempt admitted; a failure spends its token.
func (l *keyedLimiter) settle(key string, failed bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return // dropped by the memory bound
	}
	b.pending = max(b.pending-1, 0)
	if failed {
		// Reserve, not Allow: with no token left it goes into debt, so
		// concurrent failures all count.
		b.lim.ReserveN(now, 1)
	}
}

// retryAfter is the Retry-After value for a wait: whole seconds, at least 1.
func retryAfter(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}

// scimRateLimit limits each SCIM token (per node). It runs after
// auth.SCIMBearer, which put the token in the context.
func scimRateLimit(rc RateLimit, m *metrics) func(http.Handler) http.Handler {
	if rc.RequestsPerSecond <= 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	l := newKeyedLimiter(rate.Limit(rc.RequestsPerSecond), rc.Burst, 100_000)
	limited := m.rateLimitedCounter("scim_token")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if wait := l.take(auth.TokenID(r.Context())); wait > 0 {
				limited.Inc()
				w.Header().Set("Retry-After", retryAfter(wait))
				auth.WriteSCIMError(w, http.StatusTooManyRequests,
					fmt.Sprintf("too many requests with this token: at most %d per second (bursts of %d); retry after the time in Retry-After", rc.RequestsPerSecond, rc.Burst))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// loginPath is the device sign-in endpoint, the one worth guessing
// passwords at.
const loginPath = "/api/v1/devices/login"

// loginLimit limits failed device sign-ins per client address; a
// successful one costs nothing.
func loginLimit(lc LoginLimitConfig, clients *clientAddr, m *metrics) func(http.Handler) http.Handler {
	if lc.FailuresPerMinute <= 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	l := newKeyedLimiter(rate.Limit(float64(lc.FailuresPerMinute)/60), lc.Burst, 100_000)
	limited := m.rateLimitedCounter("device_login")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != loginPath {
				next.ServeHTTP(w, r)
				return
			}
			client := clients.of(r)
			if wait := l.tryAttempt(client); wait > 0 {
				limited.Inc()
				w.Header().Set("Retry-After", retryAfter(wait))
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("X-Content-Type-Options", "nosniff")
				w.WriteHeader(http.StatusTooManyRequests)
				_ = json.NewEncoder(w).Encode(map[string]string{"error": "rate_limited",
					"message": "too many failed sign-ins from this address; try again after the time in Retry-After"})
				return
			}
			sw := &statusWriter{ResponseWriter: w}
			defer func() { l.settle(client, sw.status < 200 || sw.status > 299) }()
			next.ServeHTTP(sw, r)
		})
	}
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// clientAddr tells clients apart by address, believing X-Forwarded-For
// only from trusted proxies.
type clientAddr struct {
	trusted []netip.Prefix
}

func newClientAddr(proxies []string) *clientAddr {
	c := &clientAddr{}
	for _, p := range proxies {
		if pfx, err := netip.ParsePrefix(p); err == nil {
			c.trusted = append(c.trusted, pfx.Masked())
		} else if a, err := netip.ParseAddr(p); err == nil {
			c.trusted = append(c.trusted, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return c
}

func (c *clientAddr) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// of returns the client's address: the TCP peer, or behind trusted
// proxies the right-most X-Forwarded-For entry that is not one of them
// (entries left of it are whatever the client chose to send).
func (c *clientAddr) of(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if len(c.trusted) == 0 || !c.isTrusted(peer) {
		return peer.Unmap().String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage: stop at the last address we can vouch for
		}
		if !c.isTrusted(a) {
			return a.Unmap().String()
		}
		peer = a
	}
	return peer.Unmap().String()
}
