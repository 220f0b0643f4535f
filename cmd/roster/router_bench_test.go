package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-scim/roster/admin"
	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// BenchmarkRouterGetUser serves GET /scim/v2/Users/{id} through the whole
// router (access log, metrics, body limit, bearer check, request log,
// with the rate limit off as in roster bench), to show what the layers in front of
// the SCIM handler cost per request (its allocations especially).
func BenchmarkRouterGetUser(b *testing.B) {
	st, err := sqlite.Open(b.TempDir() + "/roster.db")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	tenant := &store.Tenant{Name: "bench"}
	if err := st.CreateTenant(ctx, tenant); err != nil {
		b.Fatal(err)
	}
	token, _, err := auth.MintToken(ctx, st, tenant.ID, "bench", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	u := &store.User{TenantID: tenant.ID, UserName: "ada@example.com", Active: true,
		Name: store.Name{GivenName: "Ada", FamilyName: "Lovelace"}, Emails: []store.MultiValue{{Value: "ada@example.com", Type: "work", Primary: true}}}
	if err := st.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	cfg := defaultConfig()
	cfg.SCIM.RateLimit.RequestsPerSecond = 0 // as roster bench runs it
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	m := newMetrics()
	router := newRouter(routerDeps{cfg: cfg, publicURL: "http://127.0.0.1", store: instrumentStore(st, m),
		engine: licensing.New(st, licensing.WithLogger(log)), log: log, portal: http.NotFoundHandler(),
		reqlog: admin.NewRequestLog(0), metrics: m, clients: newClientAddr(nil), draining: new(atomic.Bool)})
	req := httptest.NewRequest("GET", "/scim/v2/Users/"+u.ID, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET user: %d %s", rec.Code, rec.Body)
		}
	}
}
