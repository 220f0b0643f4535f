package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// Helpers of the operations and reliability tests.

// scimDo sends a SCIM request with token and returns status and body.
func scimDo(t *testing.T, c *http.Client, method, url, token, body string) (int, string) {
	t.Helper()
	var req *http.Request
	if body == "" {
		req, _ = http.NewRequest(method, url, nil)
	} else {
		req, _ = http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, b := send(t, c, req)
	return res.StatusCode, b
}

// metricValue finds the sample of name whose labels include every
// label="value" pair given, and returns its value.
func metricValue(t *testing.T, exposition, name string, labels ...string) (float64, bool) {
	t.Helper()
	for line := range strings.Lines(exposition) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		metric, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		base, labelText, _ := strings.Cut(metric, "{")
		if base != name {
			continue
		}
		all := true
		for _, l := range labels {
			if !strings.Contains(labelText, l) {
				all = false
				break
			}
		}
		if all {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return v, true
		}
	}
	return 0, false
}

// openSQLiteT opens the database of a server's data directory beside
// the running server, as the CLI does.
func openSQLiteT(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(dir, "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// seedPool creates product code (when missing) and a pool of total seats
// of it for the tenant named tenantName.
func seedPool(t *testing.T, st store.Store, tenantName, code string, total int, autoAssign bool) (*store.Tenant, *store.Product, *store.Pool) {
	t.Helper()
	ctx := context.Background()
	tenant, err := st.GetTenantByName(ctx, tenantName)
	if err != nil {
		t.Fatalf("tenant %s: %v", tenantName, err)
	}
	prod, err := st.GetProductByCode(ctx, code)
	if err != nil {
		prod = &store.Product{Code: code, Name: code}
		if err := st.CreateProduct(ctx, prod); err != nil {
			t.Fatal(err)
		}
	}
	pool := &store.Pool{TenantID: tenant.ID, ProductID: prod.ID, Total: total, Policy: store.PolicyDeny, AutoAssign: autoAssign}
	if err := st.CreatePool(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return tenant, prod, pool
}

// writeConfigFile writes a roster.yaml into a fresh directory.
func writeConfigFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "roster.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
