package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/roster-scim/roster/store/mongo"
	"github.com/roster-scim/roster/store/sqlite"
)

func TestMetrics(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)

	// A pool, made the way an operator's tooling would: through the store
	// on the same file while the server runs.
	st := openSQLiteT(t, dir)
	seedPool(t, st, "default", "countthings-pro", 5, false)

	c := http.DefaultClient
	code, body := scimDo(t, c, "POST", s.url+"/scim/v2/Users", s.token,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"metrics@example.com"}`)
	if code != 201 {
		t.Fatalf("create user: %d %s", code, body)
	}
	var u struct{ ID string }
	json.Unmarshal([]byte(body), &u)
	for range 3 {
		if code, body := scimDo(t, c, "GET", s.url+"/scim/v2/Users/"+u.ID, s.token, ""); code != 200 {
			t.Fatalf("get user: %d %s", code, body)
		}
	}
	scimDo(t, c, "GET", s.url+"/scim/v2/Users", "", "")                            // 401
	scimDo(t, c, "GET", s.url+"/scim/v2/Users/"+u.ID+"/nothing/here", s.token, "") // 404 from the SCIM handler
	scimDo(t, c, "GET", s.url+"/healthz", "", "")
	scimDo(t, c, "GET", s.url+"/no/such/"+u.ID, "", "")

	res, exposition := s.get(t, "/metrics", "")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), exposition)
	}
	if strings.Contains(exposition, u.ID) {
		t.Errorf("/metrics names a raw path with a user id:\n%s", exposition)
	}
	want := []struct {
		name   string
		labels []string
		value  float64 // -1: present, any value
	}{
		{"roster_http_requests_total", []string{`route="/scim/v2/Users/{id}"`, `method="GET"`, `status_class="2xx"`, `tenant_class="scim"`}, 3},
		{"roster_http_requests_total", []string{`route="/scim/v2/Users"`, `method="POST"`, `status_class="2xx"`}, 1},
		{"roster_http_requests_total", []string{`route="/scim/v2/Users"`, `method="GET"`, `status_class="4xx"`}, 1},
		{"roster_http_requests_total", []string{`route="/scim/v2/*"`, `status_class="4xx"`, `tenant_class="scim"`}, 1},
		{"roster_http_requests_total", []string{`route="/healthz"`, `tenant_class="public"`}, 1},
		{"roster_http_requests_total", []string{`route="unmatched"`, `status_class="4xx"`}, 1},
		{"roster_http_request_duration_seconds_count", []string{`route="/scim/v2/Users/{id}"`, `method="GET"`}, 3},
		{"roster_http_request_duration_seconds_bucket", []string{`route="/scim/v2/Users/{id}"`, `le="+Inf"`}, 3},
		{"roster_store_call_duration_seconds_count", []string{`method="CreateUser"`}, 1},
		{"roster_store_call_duration_seconds_count", []string{`method="GetUser"`}, -1},
		{"roster_pool_seats", []string{`tenant="default"`, `product="countthings-pro"`}, 5},
		{"roster_pool_seats_assigned", []string{`tenant="default"`, `product="countthings-pro"`}, 0},
		{"roster_pool_seats_overage", []string{`tenant="default"`, `product="countthings-pro"`}, 0},
		{"roster_outbox_queued_messages", nil, -1},
		{"roster_outbox_oldest_queued_age_seconds", nil, -1},
		{"roster_import_jobs", []string{`state="queued"`}, 0},
		{"roster_import_jobs", []string{`state="running"`}, 0},
		{"roster_import_rows_pending", nil, 0},
		{"roster_state_complete", nil, 1},
		{"roster_rate_limited_total", []string{`limit="scim_token"`}, 0},
		{"roster_reconciler_runs_total", nil, 0},
		{"go_goroutines", nil, -1},
		{"process_resident_memory_bytes", nil, -1},
	}
	for _, w := range want {
		got, ok := metricValue(t, exposition, w.name, w.labels...)
		switch {
		case !ok:
			t.Errorf("/metrics lacks %s%v", w.name, w.labels)
		case w.value >= 0 && got != w.value:
			t.Errorf("%s%v: got %v, want %v", w.name, w.labels, got, w.value)
		}
	}
	// Label values come from fixed sets only.
	routeRE := regexp.MustCompile(`route="([^"]*)"`)
	for _, m := range routeRE.FindAllStringSubmatch(exposition, -1) {
		for seg := range strings.SplitSeq(m[1], "/") {
			if strings.ContainsAny(seg, "0123456789") && seg != "v1" && seg != "v2" {
				t.Errorf("route label %q looks like a raw path", m[1])
			}
		}
	}
}

// TestRouteLabel: SCIM paths map to their endpoint with {id}, whatever
// the id or the case of the endpoint name.
func TestRouteLabel(t *testing.T) {
	tests := []struct {
		pattern, path, want string
	}{
		{"/scim/v2/*", "/scim/v2/Users", "/scim/v2/Users"},
		{"/scim/v2/*", "/scim/v2/users/", "/scim/v2/Users"},
		{"/scim/v2/*", "/scim/v2/Users/0193f0a8-1c2d", "/scim/v2/Users/{id}"},
		{"/scim/v2/*", "/scim/v2/Users/.search", "/scim/v2/Users/.search"},
		{"/scim/v2/*", "/scim/v2/Groups/abc", "/scim/v2/Groups/{id}"},
		{"/scim/v2/*", "/scim/v2/Groups/abc/def", "/scim/v2/*"},
		{"/scim/v2/*", "/scim/v2/Bulk", "/scim/v2/Bulk"},
		{"/scim/v2/*", "/scim/v2/Bulk/x", "/scim/v2/*"},
		{"/scim/v2/*", "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", "/scim/v2/Schemas/{id}"},
		{"/scim/v2/*", "/scim/v2/ServiceProviderConfig", "/scim/v2/ServiceProviderConfig"},
		{"/scim/v2/*", "/scim/v2/whatever-an-attacker-sends", "/scim/v2/*"},
		{"/admin/*", "/admin/t/acme/users/123", "/admin/*"},
		{"/healthz", "/healthz", "/healthz"},
		{"", "/nowhere/123", routeUnmatched},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.path, nil)
		if tt.pattern != "" {
			rctx := chi.NewRouteContext()
			rctx.RoutePatterns = []string{tt.pattern, "/*"}
			r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
		}
		if got := routeLabel(r); got != tt.want {
			t.Errorf("routeLabel(%s under %q) = %q, want %q", tt.path, tt.pattern, got, tt.want)
		}
	}
}

// TestObserveHTTPDoesNotAllocate: once a series exists, counting a
// request costs no allocation, so metrics do not slow the GET path.
func TestObserveHTTPDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	m := newMetrics()
	r := httptest.NewRequest("GET", "/scim/v2/Users/0193f0a8-1c2d-7e3f-8a4b-5c6d7e8f9a0b", nil)
	rctx := chi.NewRouteContext()
	rctx.RoutePatterns = []string{"/scim/v2/*", "/*"}
	r = r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx))
	m.observeHTTP(r, 200, time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() { m.observeHTTP(r, 200, time.Millisecond) }); n != 0 {
		t.Errorf("observeHTTP allocates %v times per request, want 0", n)
	}
}

// storeOnlyMethods are backend methods that are not part of store.Store
// and that no consumer reaches through an interface: the wrapper may hide
// them.
var storeOnlyMethods = map[string]bool{
	"Path":           true, // sqlite: the database file, for cmd's messages
	"SchemaVersion":  true, // sqlite: migrations' own tests
	"BuildUserPages": true, // sqlite: writes the list copy ahead of readers; called on the concrete store
	// Set on the concrete store before wrapping (observeFilterScans).
	"ObserveFilterScans": true,
}

// TestStoreMetricsHidesNothing: instrumentStore wraps the backend, and a
// wrapper hides every method it does not have. When a backend grows a
// method that a consumer finds by type assertion (an optional fast path
// such as a batch write), add it to storeMetrics, forwarding to the
// backend when it has it, so production keeps the fast path.
func TestStoreMetricsHidesNothing(t *testing.T) {
	wrapper := reflect.TypeFor[*storeMetrics]()
	for _, backend := range []reflect.Type{reflect.TypeFor[*sqlite.Store](), reflect.TypeFor[*mongo.Store]()} {
		for i := range backend.NumMethod() {
			m := backend.Method(i)
			if storeOnlyMethods[m.Name] {
				continue
			}
			if _, ok := wrapper.MethodByName(m.Name); !ok {
				t.Errorf("%s has method %s, which the metrics wrapper (cmd/roster/metrics.go storeMetrics) hides", backend, m.Name)
			}
		}
	}
}
