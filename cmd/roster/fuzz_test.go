package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roster-scim/roster/admin"
	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// FuzzConfig feeds arbitrary YAML to the configuration decoder: it never
// panics, its refusals are one line (they are printed as such), and what
// it accepts can be validated.
func FuzzConfig(f *testing.F) {
	if example, err := os.ReadFile(examplePath); err == nil {
		f.Add(example)
	}
	for _, s := range []string{
		"server:\n  addr: 127.0.0.1:9000\n  tls:\n    cert_file: a\n    key_file: b\n",
		"scim:\n  rate_limit:\n    requests_per_second: 5\n    burst: 1\n",
		"oidc:\n  scopes: [openid, email]\n  operator_emails: [a@b.c]\n",
		"server: {addr: x, admin_addr: y}\n",
		"log: &a {level: debug}\nmail: *a\n",
		"? [a, b]\n: c\n",
		"server:\n  read_timeout: 1e400s\n",
		"scim:\n  max_results: 99999999999999999999999\n",
		"storage:\n  driver: !!binary aGVsbG8=\n",
		"---\n...\n",
		"\ufeffserver:\n  addr: 127.0.0.1:1\n",
		"server:\n  trusted_proxies: [\"10.0.0.0/8\", \"::1\", \"\"]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := defaultConfig()
		if err := decodeConfig(cfg, data); err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error of several lines for %q:\n%v", data, err)
			}
			return
		}
		if err := cfg.Validate(); err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("validation error of several lines for %q:\n%v", data, err)
		}
	})
}

// FuzzBulk sends arbitrary /Bulk bodies through the root router, as an
// IdP's request arrives: every one is answered, never with a 5xx.
func FuzzBulk(f *testing.F) {
	user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bulk@example.com"}`
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"POST","path":"/Users","bulkId":"u1","data":` + user + `}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"failOnErrors":1,"Operations":[` +
			`{"method":"POST","path":"/Users","bulkId":"a","data":` + user + `},` +
			`{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"bulkId:a"}]}},` +
			`{"method":"PATCH","path":"/Groups/bulkId:g","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members"}]}},` +
			`{"method":"DELETE","path":"/Users/bulkId:a"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"POST","path":"/Groups","bulkId":"x","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Loop","members":[{"value":"bulkId:x"}]}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"PUT","path":"/Users/bulkId:missing","data":{}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"GET","path":"/../../Users"}]}`,
		`{"Operations":[{"method":"post","path":"/Users","data":"` + strings.Repeat("x", 100) + `"}]}`,
		`{"schemas":[],"Operations":{}}`,
		`{"Operations":[null,1,"x",[]]}`,
		`[[[[[[`,
	} {
		f.Add([]byte(s))
	}

	dir := f.TempDir()
	st, err := sqlite.Open(dir + "/roster.db")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	ctx := context.Background()
	tenant := &store.Tenant{Name: "fuzz"}
	if err := st.CreateTenant(ctx, tenant); err != nil {
		f.Fatal(err)
	}
	token, _, err := auth.MintToken(ctx, st, tenant.ID, "fuzz", time.Now())
	if err != nil {
		f.Fatal(err)
	}
	cfg := defaultConfig()
	cfg.SCIM.RateLimit.RequestsPerSecond = 0
	cfg.SCIM.Bulk.MaxOperations = 50
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	router := newRouter(routerDeps{cfg: cfg, publicURL: "http://127.0.0.1", store: st, engine: licensing.New(st, licensing.WithLogger(log)),
		log: log, portal: http.NotFoundHandler(), reqlog: admin.NewRequestLog(0), metrics: newMetrics(),
		clients: newClientAddr(nil), draining: new(atomic.Bool)})

	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/scim/v2/Bulk", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		rec := httptest.NewRecorder()
		router.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("bulk %q: %d %s", body, rec.Code, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("bulk %q: %d answered with something that is not JSON: %q", body, rec.Code, rec.Body)
		}
	})
}
