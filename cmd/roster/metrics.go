package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/roster-scim/roster/store"
)

// metrics is one server's Prometheus registry and the instruments the
// request path uses. Each `roster serve` has its own registry (not the
// global one), so tests can run several servers in one process.
type metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// routes maps a route label to its series, copy-on-write: the request
	// path only loads a pointer and reads a map, never locks.
	routes   atomic.Pointer[map[string]*routeSeries]
	routesMu sync.Mutex

	rateLimited *prometheus.CounterVec
	reconciled  prometheus.Counter
	reconciles  prometheus.Counter

	storeCalls  *prometheus.HistogramVec
	storeErrors *prometheus.CounterVec
}

// Label values.
const (
	routeUnmatched = "unmatched" // no route: a 404 or 405 of the root router

	classSCIM   = "scim"   // SCIM token callers (IdPs)
	classAdmin  = "admin"  // the portal and its links: browser sessions
	classAPI    = "api"    // the device API: per-call credentials
	classPublic = "public" // health checks and redirects
)

// httpMethods are the methods with their own label; others count as
// "other" so a client inventing methods cannot add series.
var httpMethods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// routeSeries holds the instruments of one route label for every method
// and status class, created on first use.
type routeSeries struct {
	route, class string
	series       [len(httpMethods)][len(statusClasses)]atomic.Pointer[httpSeries]
}

type httpSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// latencyBuckets span a cached GET (well under a millisecond) to a large
// /Bulk or a slow store (seconds).
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	labels := []string{"route", "method", "status_class", "tenant_class"}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_http_requests_total",
		Help: "HTTP requests answered, by route pattern (never a raw path), method, status class and kind of caller.",
	}, labels)
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "roster_http_request_duration_seconds",
		Help:    "Time from the request's arrival at the router to the handler's return.",
		Buckets: latencyBuckets,
	}, labels)
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_rate_limited_total",
		Help: "Requests refused with 429 by a rate limit (scim_token: per SCIM token; device_login: per client address).",
	}, []string{"limit"})
	m.reconciles = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "roster_reconciler_runs_total",
		Help: "Reconciler rounds this node ran (one node of a cluster holds the lease at a time).",
	})
	m.reconciled = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "roster_reconciler_seats_corrected_total",
		Help: "Seat counters the reconciler found wrong and corrected (seats leaked by a crash, for example).",
	})
	m.storeCalls = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "roster_store_call_duration_seconds",
		Help:    "Latency of the store calls on the hot paths, by method.",
		Buckets: latencyBuckets,
	}, []string{"method"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_store_errors_total",
		Help: "Store calls on the hot paths that failed with something other than an expected outcome (not found, conflict, version mismatch, invalid, no seats).",
	}, []string{"method"})
	for _, method := range []string{"scim_token", "device_login"} {
		m.rateLimited.WithLabelValues(method) // present at 0 from the start
	}
	m.reg.MustRegister(m.requests, m.duration, m.rateLimited, m.reconciles, m.reconciled, m.storeCalls, m.storeErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	empty := map[string]*routeSeries{}
	m.routes.Store(&empty)
	return m
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 2,
		Timeout:             10 * time.Second,
	})
}

// observeHTTP records one answered request. r must be the request the
// root router's middleware saw, so its chi route context holds the
// matched patterns once the handler has returned.
func (m *metrics) observeHTTP(r *http.Request, status int, elapsed time.Duration) {
	if m == nil {
		return
	}
	rs := m.routeSeries(routeLabel(r))
	mi := methodIndex(r.Method)
	ci := min(max(status/100, 1), 5) - 1
	s := rs.series[mi][ci].Load()
	if s == nil {
		values := []string{rs.route, httpMethods[mi], statusClasses[ci], rs.class}
		s = &httpSeries{requests: m.requests.WithLabelValues(values...), duration: m.duration.WithLabelValues(values...)}
		// Two first requests may both create it; the vectors return the
		// same children, so either pointer is right.
		rs.series[mi][ci].Store(s)
	}
	s.requests.Inc()
	s.duration.Observe(elapsed.Seconds())
}

func (m *metrics) routeSeries(route string) *routeSeries {
	if rs, ok := (*m.routes.Load())[route]; ok {
		return rs
	}
	m.routesMu.Lock()
	defer m.routesMu.Unlock()
	old := *m.routes.Load()
	if rs, ok := old[route]; ok {
		return rs
	}
	next := make(map[string]*routeSeries, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	rs := &routeSeries{route: route, class: tenantClass(route)}
	next[route] = rs
	m.routes.Store(&next)
	return rs
}

func methodIndex(method string) int {
	for i, m := range httpMethods[:len(httpMethods)-1] {
		if m == method {
			return i
		}
	}
	return len(httpMethods) - 1
}

// routeLabel is the root router's pattern that matched r ("/healthz",
// "/admin/*"); under /scim/v2 it names the SCIM endpoint, with {id} for
// a resource id, since the SCIM handler routes below one chi pattern.
// Every value comes from a fixed set, so a client cannot mint series.
func routeLabel(r *http.Request) string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil || len(rctx.RoutePatterns) == 0 {
		return routeUnmatched
	}
	p := rctx.RoutePatterns[0]
	if p == "/scim/v2/*" {
		return scimRoute(r.URL.Path)
	}
	return p
}

// scimEndpoints are the SCIM endpoints under /scim/v2 with their labels.
var scimEndpoints = []struct {
	name          string
	label, withID string
}{
	{"Users", "/scim/v2/Users", "/scim/v2/Users/{id}"},
	{"Groups", "/scim/v2/Groups", "/scim/v2/Groups/{id}"},
	{"Bulk", "/scim/v2/Bulk", ""},
	{"Me", "/scim/v2/Me", ""},
	{".search", "/scim/v2/.search", ""},
	{"ServiceProviderConfig", "/scim/v2/ServiceProviderConfig", ""},
	{"ResourceTypes", "/scim/v2/ResourceTypes", "/scim/v2/ResourceTypes/{id}"},
	{"Schemas", "/scim/v2/Schemas", "/scim/v2/Schemas/{id}"},
}

func scimRoute(path string) string {
	rest, _ := strings.CutPrefix(path, "/scim/v2/")
	first, id, hasID := strings.Cut(rest, "/")
	for _, e := range scimEndpoints {
		if !strings.EqualFold(first, e.name) {
			continue
		}
		switch {
		case !hasID || id == "":
			return e.label
		case e.withID == "":
		case strings.EqualFold(id, ".search") && (e.name == "Users" || e.name == "Groups"):
			return e.label + "/.search"
		case !strings.Contains(id, "/"):
			return e.withID
		}
		break
	}
	return "/scim/v2/*"
}

// tenantClass tells which kind of caller a route serves.
func tenantClass(route string) string {
	switch {
	case strings.HasPrefix(route, "/scim/"):
		return classSCIM
	case strings.HasPrefix(route, "/admin"), strings.HasPrefix(route, "/invite"):
		return classAdmin
	case strings.HasPrefix(route, "/api/"), route == "/.well-known/jwks.json":
		return classAPI
	}
	return classPublic
}

// storeMetrics times the store calls on the request paths that matter
// most. Every other method passes through the embedded store untimed.
//
// A wrapper hides any optional interface the backend offers beyond
// store.Store (a consumer's type assertion would fail on it), so
// TestStoreMetricsHidesNothing fails when a backend grows a method this
// type does not forward.
type storeMetrics struct {
	store.Store
	m *metrics
	// Observers resolved once, so a call costs two clock reads and an
	// atomic add, without a label lookup.
	getUser, getUserByUserName, listUsers, createUser, updateUser, deleteUser,
	getGroup, listGroups, addMembers, removeMembers, claimSeat, releaseSource,
	tokenByHash, bindDevice prometheus.Observer
}

func instrumentStore(st store.Store, m *metrics) store.Store {
	o := func(name string) prometheus.Observer { return m.storeCalls.WithLabelValues(name) }
	return &storeMetrics{Store: st, m: m,
		getUser: o("GetUser"), getUserByUserName: o("GetUserByUserName"), listUsers: o("ListUsers"),
		createUser: o("CreateUser"), updateUser: o("UpdateUser"), deleteUser: o("DeleteUser"),
		getGroup: o("GetGroup"), listGroups: o("ListGroups"), addMembers: o("AddMembers"),
		removeMembers: o("RemoveMembers"), claimSeat: o("ClaimSeat"), releaseSource: o("ReleaseSource"),
		tokenByHash: o("TokenByHash"), bindDevice: o("BindDevice"),
	}
}

func (s *storeMetrics) done(o prometheus.Observer, method string, start time.Time, err error) {
	o.Observe(time.Since(start).Seconds())
	if err != nil && !expectedStoreError(err) {
		s.m.storeErrors.WithLabelValues(method).Inc()
	}
}

// expectedStoreError reports the outcomes a store call has by design.
func expectedStoreError(err error) bool {
	if _, ok := store.IsConflict(err); ok {
		return true
	}
	if _, ok := store.IsInvalid(err); ok {
		return true
	}
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrPrecondition) ||
		errors.Is(err, store.ErrNoSeats) || errors.Is(err, store.ErrDeviceLimit) ||
		errors.Is(err, store.ErrExpired) || errors.Is(err, context.Canceled)
}

func (s *storeMetrics) GetUser(ctx context.Context, tenantID, id string) (*store.User, error) {
	start := time.Now()
	u, err := s.Store.GetUser(ctx, tenantID, id)
	s.done(s.getUser, "GetUser", start, err)
	return u, err
}

func (s *storeMetrics) GetUserByUserName(ctx context.Context, tenantID, userName string) (*store.User, error) {
	start := time.Now()
	u, err := s.Store.GetUserByUserName(ctx, tenantID, userName)
	s.done(s.getUserByUserName, "GetUserByUserName", start, err)
	return u, err
}

func (s *storeMetrics) ListUsers(ctx context.Context, tenantID string, q store.Query) (*store.UserPage, error) {
	start := time.Now()
	p, err := s.Store.ListUsers(ctx, tenantID, q)
	s.done(s.listUsers, "ListUsers", start, err)
	return p, err
}

// StreamUsers forwards the backend's fast path for listing users, when
// it has one (errors.ErrUnsupported tells the caller to ListUsers), timed
// as ListUsers, which it stands for; the time includes the caller's
// handling of each user.
func (s *storeMetrics) StreamUsers(ctx context.Context, tenantID string, q store.Query, fn func(*store.User) error) (int, error) {
	st, ok := s.Store.(store.UserStreamer)
	if !ok {
		return 0, errors.ErrUnsupported
	}
	start := time.Now()
	total, err := st.StreamUsers(ctx, tenantID, q, fn)
	s.done(s.listUsers, "ListUsers", start, err)
	return total, err
}

// StreamRenderedUsers forwards the backend's renderings of users, when it
// keeps them (errors.ErrUnsupported tells the caller to render users
// itself), timed as ListUsers, which it stands for; the time includes
// the caller's handling of each rendering.
func (s *storeMetrics) StreamRenderedUsers(ctx context.Context, tenantID string, q store.Query, r store.UserRendering, fn func(string) error) (int, error) {
	rs, ok := s.Store.(store.RenderedUserStreamer)
	if !ok {
		return 0, errors.ErrUnsupported
	}
	start := time.Now()
	total, err := rs.StreamRenderedUsers(ctx, tenantID, q, r, fn)
	if errors.Is(err, errors.ErrUnsupported) {
		// Not served: the caller lists the users, and that is timed.
		return total, err
	}
	s.done(s.listUsers, "ListUsers", start, err)
	return total, err
}

// UpdateUserFrom forwards the backend's write of what changed, timed as
// UpdateUser.
func (s *storeMetrics) UpdateUserFrom(ctx context.Context, before, u *store.User) error {
	cw, ok := s.Store.(store.UserChangeWriter)
	if !ok {
		return errors.ErrUnsupported
	}
	start := time.Now()
	err := cw.UpdateUserFrom(ctx, before, u)
	s.done(s.updateUser, "UpdateUser", start, err)
	return err
}

// ModifyUser forwards the backend's read-modify-write of a user, timed
// as UpdateUser (the change it runs included).
func (s *storeMetrics) ModifyUser(ctx context.Context, tenantID, id string, change func(*store.User) error) (before, after *store.User, err error) {
	m, ok := s.Store.(store.UserModifier)
	if !ok {
		return nil, nil, errors.ErrUnsupported
	}
	start := time.Now()
	before, after, err = m.ModifyUser(ctx, tenantID, id, change)
	s.done(s.updateUser, "UpdateUser", start, err)
	return before, after, err
}

func (s *storeMetrics) CreateUser(ctx context.Context, u *store.User) error {
	start := time.Now()
	err := s.Store.CreateUser(ctx, u)
	s.done(s.createUser, "CreateUser", start, err)
	return err
}

func (s *storeMetrics) UpdateUser(ctx context.Context, u *store.User) error {
	start := time.Now()
	err := s.Store.UpdateUser(ctx, u)
	s.done(s.updateUser, "UpdateUser", start, err)
	return err
}

func (s *storeMetrics) DeleteUser(ctx context.Context, tenantID, id string, version int64) error {
	start := time.Now()
	err := s.Store.DeleteUser(ctx, tenantID, id, version)
	s.done(s.deleteUser, "DeleteUser", start, err)
	return err
}

func (s *storeMetrics) GetGroup(ctx context.Context, tenantID, id string) (*store.Group, error) {
	start := time.Now()
	g, err := s.Store.GetGroup(ctx, tenantID, id)
	s.done(s.getGroup, "GetGroup", start, err)
	return g, err
}

func (s *storeMetrics) ListGroups(ctx context.Context, tenantID string, q store.Query) (*store.GroupPage, error) {
	start := time.Now()
	p, err := s.Store.ListGroups(ctx, tenantID, q)
	s.done(s.listGroups, "ListGroups", start, err)
	return p, err
}

func (s *storeMetrics) AddMembers(ctx context.Context, tenantID, groupID string, version int64, members []store.Member) (int64, error) {
	start := time.Now()
	v, err := s.Store.AddMembers(ctx, tenantID, groupID, version, members)
	s.done(s.addMembers, "AddMembers", start, err)
	return v, err
}

func (s *storeMetrics) RemoveMembers(ctx context.Context, tenantID, groupID string, version int64, memberIDs []string) (int64, error) {
	start := time.Now()
	v, err := s.Store.RemoveMembers(ctx, tenantID, groupID, version, memberIDs)
	s.done(s.removeMembers, "RemoveMembers", start, err)
	return v, err
}

func (s *storeMetrics) ClaimSeat(ctx context.Context, a *store.Assignment, now time.Time) error {
	start := time.Now()
	err := s.Store.ClaimSeat(ctx, a, now)
	s.done(s.claimSeat, "ClaimSeat", start, err)
	return err
}

func (s *storeMetrics) ReleaseSource(ctx context.Context, tenantID, poolID, userID, source string) (*store.Assignment, error) {
	start := time.Now()
	a, err := s.Store.ReleaseSource(ctx, tenantID, poolID, userID, source)
	s.done(s.releaseSource, "ReleaseSource", start, err)
	return a, err
}

func (s *storeMetrics) TokenByHash(ctx context.Context, hash string) (*store.Token, error) {
	start := time.Now()
	t, err := s.Store.TokenByHash(ctx, hash)
	s.done(s.tokenByHash, "TokenByHash", start, err)
	return t, err
}

func (s *storeMetrics) BindDevice(ctx context.Context, d *store.Device, maxPerSeat int) error {
	start := time.Now()
	err := s.Store.BindDevice(ctx, d, maxPerSeat)
	s.done(s.bindDevice, "BindDevice", start, err)
	return err
}

// ListDevicesPage forwards the backend's device pager (the portal's
// Devices & Licenses screen), untimed; errors.ErrUnsupported tells the
// caller the backend has none.
func (s *storeMetrics) ListDevicesPage(ctx context.Context, tenantID string, q store.DeviceQuery) (*store.DevicePage, error) {
	if p, ok := s.Store.(store.DevicePager); ok {
		return p.ListDevicesPage(ctx, tenantID, q)
	}
	return nil, errors.ErrUnsupported
}

// SearchUsers forwards the backend's user search (the portal's Users
// search box), timed as ListUsers, which it stands for;
// errors.ErrUnsupported tells the caller the backend has none.
func (s *storeMetrics) SearchUsers(ctx context.Context, tenantID string, q store.UserSearch) (*store.UserPage, error) {
	us, ok := s.Store.(store.UserSearcher)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	start := time.Now()
	res, err := us.SearchUsers(ctx, tenantID, q)
	s.done(s.listUsers, "ListUsers", start, err)
	return res, err
}

// ListWaiting forwards the backend's waiting-list head (the portal's
// Licenses cards), untimed; errors.ErrUnsupported tells the caller the
// backend has none.
func (s *storeMetrics) ListWaiting(ctx context.Context, tenantID, poolID string, limit int) ([]*store.Assignment, int, error) {
	if w, ok := s.Store.(store.WaitingLister); ok {
		return w.ListWaiting(ctx, tenantID, poolID, limit)
	}
	return nil, 0, errors.ErrUnsupported
}

// rateLimitedCounter is the 429 counter of one limit.
func (m *metrics) rateLimitedCounter(limit string) prometheus.Counter {
	return m.rateLimited.WithLabelValues(limit)
}
