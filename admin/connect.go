package admin

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/roster-scim/roster/auth"
)

// RequestLog remembers the last SCIM requests of each tenant, for the
// "last requests from your IdP" table: an admin setting up provisioning
// sees the IdP's Test Connection and first pushes arrive.
//
// It is in memory and per node: behind a load balancer each node shows
// the requests it served. That is enough to watch a set-up happen, and
// keeps the SCIM hot path free of writes. Memory is bounded: a ring per
// tenant and a cap on tenants.
type RequestLog struct {
	mu         sync.Mutex
	per        int
	maxTenants int
	rings      map[string]*ring
}

// LoggedRequest is one SCIM request as the table shows it.
type LoggedRequest struct {
	At     time.Time
	Method string
	Path   string
	Status int
}

type ring struct {
	buf  []LoggedRequest
	next int
	full bool
	last time.Time
}

// DefaultRequestsPerTenant is how many requests a tenant's ring keeps.
const DefaultRequestsPerTenant = 100

// maxLoggedTenants bounds the log; past it the least recently active
// tenant's ring is dropped.
const maxLoggedTenants = 10000

// NewRequestLog returns a log keeping perTenant requests per tenant
// (DefaultRequestsPerTenant when 0 or less).
func NewRequestLog(perTenant int) *RequestLog {
	if perTenant <= 0 {
		perTenant = DefaultRequestsPerTenant
	}
	return &RequestLog{per: perTenant, maxTenants: maxLoggedTenants, rings: map[string]*ring{}}
}

// Record notes one request. cmd calls it from a middleware on /scim/v2
// after authentication (auth.TenantID gives the tenant) with the status
// the handler wrote. Only the path is kept: a query string may carry a
// filter with personal data.
func (l *RequestLog) Record(tenantID, method, path string, status int, at time.Time) {
	if l == nil || tenantID == "" {
		return
	}
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if len(path) > 200 {
		path = path[:200] + "…"
	}
	if len(method) > 10 {
		method = method[:10]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.rings[tenantID]
	if r == nil {
		if len(l.rings) >= l.maxTenants {
			l.evict()
		}
		r = &ring{buf: make([]LoggedRequest, l.per)}
		l.rings[tenantID] = r
	}
	r.buf[r.next] = LoggedRequest{At: at, Method: method, Path: path, Status: status}
	r.next = (r.next + 1) % len(r.buf)
	r.full = r.full || r.next == 0
	r.last = at
}

func (l *RequestLog) evict() {
	var oldest string
	var at time.Time
	for id, r := range l.rings {
		if oldest == "" || r.last.Before(at) {
			oldest, at = id, r.last
		}
	}
	delete(l.rings, oldest)
}

// Middleware records every request that reaches next, with the status
// next wrote. Mount it on /scim/v2 after auth.SCIMBearer, which puts the
// tenant in the context; requests refused before that (a wrong token)
// belong to no tenant and are not recorded.
func (l *RequestLog) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		l.Record(auth.TenantID(r.Context()), r.Method, r.URL.Path, sw.status, time.Now())
	})
}

// statusWriter notes the status a handler writes.
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

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Recent returns up to n of the tenant's requests, newest first.
func (l *RequestLog) Recent(tenantID string, n int) []LoggedRequest {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.rings[tenantID]
	if r == nil {
		return nil
	}
	size := r.next
	if r.full {
		size = len(r.buf)
	}
	n = min(n, size)
	out := make([]LoggedRequest, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.buf[(r.next-i+len(r.buf))%len(r.buf)])
	}
	return out
}

// connectData is the Connect your IdP page.
type connectData struct {
	IdP          string
	Tabs         []connectTab
	SCIMURL      string
	TokensURL    string
	ActiveTokens int
	Requests     []LoggedRequest
	RequestsURL  string
}

type connectTab struct {
	Key, Label, URL string
	Current         bool
}

func (s *server) connectPage(c *rc) error {
	idp := c.r.URL.Query().Get("idp")
	if idp != "entra" && idp != "generic" {
		idp = "okta"
	}
	d := &connectData{IdP: idp, SCIMURL: s.scimBase(), TokensURL: c.T("tokens"), RequestsURL: c.T("connect", "requests"),
		Requests: s.reqlog.Recent(c.tenant.ID, 50)}
	for _, t := range []struct{ key, label string }{{"okta", "Okta"}, {"entra", "Microsoft Entra ID"}, {"generic", "Other SCIM client"}} {
		d.Tabs = append(d.Tabs, connectTab{Key: t.key, Label: t.label, URL: c.T("connect") + "?idp=" + t.key, Current: t.key == idp})
	}
	ts, err := s.st.ListTokens(c.ctx(), c.tenant.ID)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.RevokedAt.IsZero() {
			d.ActiveTokens++
		}
	}
	return c.show("connect", "Connect your IdP", "connect", d)
}

// connectRequests is the live table's body, fetched by app.js every few
// seconds; without JavaScript the page's own copy (and a reload) serves.
func (s *server) connectRequests(c *rc) error {
	pages, err := s.assets.templates()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := pages["connect"].ExecuteTemplate(&buf, "requestRows", s.reqlog.Recent(c.tenant.ID, 50)); err != nil {
		return err
	}
	c.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(buf.Bytes())
	return nil
}
