package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

// memSessions is store.Sessions in memory.
type memSessions struct {
	mu sync.Mutex
	m  map[string]store.Session
}

func (s *memSessions) CreateSession(_ context.Context, x *store.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[x.Hash] = *x
	return nil
}

func (s *memSessions) GetSession(_ context.Context, hash string) (*store.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.m[hash]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &x, nil
}

func (s *memSessions) TouchSession(_ context.Context, hash string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.m[hash]
	if !ok {
		return store.ErrNotFound
	}
	x.LastSeenAt = at
	s.m[hash] = x
	return nil
}

func (s *memSessions) DeleteSession(_ context.Context, hash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, hash)
	return nil
}

func (s *memSessions) DeleteExpiredSessions(_ context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for h, x := range s.m {
		if x.ExpiresAt.Before(before) {
			delete(s.m, h)
			n++
		}
	}
	return n, nil
}

func TestServerSessions(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	st := &memSessions{m: map[string]store.Session{}}
	m := NewServerSessions(st, SessionOptions{Idle: 30 * time.Minute, Absolute: 2 * time.Hour, Secure: true, Now: clk.Now})

	start := func(prev *http.Cookie) *http.Cookie {
		t.Helper()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/admin/oidc/callback", nil)
		if prev != nil {
			req.AddCookie(prev)
		}
		if err := m.Start(ctx, rec, req, &store.Session{Subject: "s", Role: store.RoleOperator}); err != nil {
			t.Fatal(err)
		}
		c := rec.Result().Cookies()[0]
		if c.Name != PortalCookie || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/admin" {
			t.Fatalf("cookie %+v: want %s, HttpOnly, Secure, Lax, /admin", c, PortalCookie)
		}
		return c
	}
	read := func(c *http.Cookie) error {
		req := httptest.NewRequest("GET", "/admin/", nil)
		if c != nil {
			req.AddCookie(c)
		}
		_, err := m.Read(req)
		return err
	}

	c := start(nil)
	if _, ok := st.m[c.Value]; ok {
		t.Fatal("the store keeps the cookie secret itself")
	}
	if _, ok := st.m[HashSecret(c.Value)]; !ok {
		t.Fatal("the store does not keep the secret's hash")
	}
	if err := read(c); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
	for _, bad := range []*http.Cookie{nil, {Name: PortalCookie, Value: "guess"}, {Name: PortalCookie, Value: strings.Repeat("x", 500)}} {
		if err := read(bad); !errors.Is(err, ErrNoSession) {
			t.Errorf("cookie %v: %v, want ErrNoSession", bad, err)
		}
	}
	// Activity keeps it alive up to the absolute limit.
	for range 3 {
		clk.Add(25 * time.Minute)
		if err := read(c); err != nil {
			t.Fatalf("active session ended: %v", err)
		}
	}
	clk.Add(31 * time.Minute)
	if err := read(c); !errors.Is(err, ErrNoSession) {
		t.Errorf("idle session: %v", err)
	}
	c = start(nil)
	for range 5 {
		clk.Add(25 * time.Minute)
		_ = read(c)
	}
	if err := read(c); !errors.Is(err, ErrNoSession) {
		t.Errorf("session past its absolute lifetime: %v", err)
	}

	// Signing in again replaces the browser's earlier session (fixation).
	planted := start(nil)
	fresh := start(planted)
	if read(planted) == nil || read(fresh) != nil {
		t.Errorf("sign-in kept the planted session")
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/admin/logout", nil)
	req.AddCookie(fresh)
	ended, err := m.End(ctx, rec, req)
	if err != nil || ended == nil || ended.Subject != "s" {
		t.Fatalf("End: %+v %v", ended, err)
	}
	if read(fresh) == nil || rec.Result().Cookies()[0].MaxAge >= 0 {
		t.Errorf("End left the session or the cookie")
	}
	start(nil)
	clk.Add(3 * time.Hour)
	if n, _ := m.Sweep(ctx); n != 1 {
		t.Errorf("Sweep removed nothing")
	}
}

func TestIsOperator(t *testing.T) {
	c := OIDCConfig{OperatorSubjects: []string{"sub-1"}, OperatorEmails: []string{" Ops@Example.com "}, OperatorGroupsClaim: "groups", OperatorGroups: []string{"roster-ops"}}
	tests := []struct {
		id   Identity
		want bool
	}{
		{Identity{Subject: "sub-1"}, true},
		{Identity{Subject: "sub-2", Email: "ops@example.com", EmailVerified: true}, true},
		{Identity{Subject: "sub-2", Email: "ops@example.com", EmailVerified: false}, false},
		{Identity{Subject: "sub-2", Groups: []string{"staff", "roster-ops"}}, true},
		{Identity{Subject: "sub-2", Groups: []string{"Roster-Ops"}}, false},
		{Identity{}, false},
	}
	for _, tt := range tests {
		if got := c.IsOperator(&tt.id); got != tt.want {
			t.Errorf("IsOperator(%+v) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

// lookup is AdminLookup in memory.
type lookup struct {
	tenants []*store.Tenant
	users   []*store.User
}

func (l *lookup) ListTenants(context.Context) ([]*store.Tenant, error) { return l.tenants, nil }
func (l *lookup) GetTenant(_ context.Context, id string) (*store.Tenant, error) {
	for _, t := range l.tenants {
		if t.ID == id {
			return t, nil
		}
	}
	return nil, store.ErrNotFound
}
func (l *lookup) GetUserByUserName(_ context.Context, tenantID, name string) (*store.User, error) {
	for _, u := range l.users {
		if u.TenantID == tenantID && strings.EqualFold(u.UserName, name) {
			return u, nil
		}
	}
	return nil, store.ErrNotFound
}
func (l *lookup) ListUsers(_ context.Context, tenantID string, q store.Query) (*store.UserPage, error) {
	c := q.Filter.(store.Compare)
	page := &store.UserPage{}
	for _, u := range l.users {
		if u.TenantID != tenantID {
			continue
		}
		v := c.Value.(string)
		if c.Attr.Name == "externalId" && u.ExternalID == v || c.Attr.Name == "emails" && strings.EqualFold(u.PrimaryEmail(), v) {
			page.Users = append(page.Users, u)
		}
	}
	page.Total = len(page.Users)
	return page, nil
}

func TestRolesResolve(t *testing.T) {
	ctx := context.Background()
	l := &lookup{
		tenants: []*store.Tenant{{ID: "b", Name: "Beta"}, {ID: "a", Name: "Alpha"}, {ID: "f", Name: "Frozen", Suspended: true}},
		users: []*store.User{
			{TenantID: "a", UserName: "ann@alpha.test", Active: true, AccountAdmin: true},
			{TenantID: "b", UserName: "ann@alpha.test", Active: true, AccountAdmin: true},
			{TenantID: "b", UserName: "bo", ExternalID: "idp-bo", Active: true, AccountAdmin: true},
			{TenantID: "b", UserName: "cy@beta.test", Emails: []store.MultiValue{{Value: "cy.work@beta.test"}}, Active: true, AccountAdmin: true},
			{TenantID: "b", UserName: "dee@beta.test", Active: true},
			{TenantID: "b", UserName: "eve@beta.test", Active: false, AccountAdmin: true},
			{TenantID: "f", UserName: "fay@frozen.test", Active: true, AccountAdmin: true},
		},
	}
	r := &Roles{Config: OIDCConfig{OperatorEmails: []string{"root@roster.test"}}, Store: l}
	tests := []struct {
		name   string
		id     Identity
		role   string
		tenant string
		err    error
	}{
		{"operator", Identity{Subject: "x", Email: "root@roster.test", EmailVerified: true}, store.RoleOperator, "", nil},
		{"admin of two tenants gets the first by name", Identity{Subject: "x", Email: "ann@alpha.test", EmailVerified: true}, store.RoleTenantAdmin, "a", nil},
		{"by subject as externalId", Identity{Subject: "idp-bo"}, store.RoleTenantAdmin, "b", nil},
		{"by a secondary e-mail", Identity{Subject: "x", Email: "cy.work@beta.test", EmailVerified: true}, store.RoleTenantAdmin, "b", nil},
		{"unverified e-mail", Identity{Subject: "x", Email: "ann@alpha.test"}, "", "", ErrNotAdmin},
		{"user without admin rights", Identity{Subject: "x", Email: "dee@beta.test", EmailVerified: true}, "", "", ErrNotAdmin},
		{"inactive admin", Identity{Subject: "x", Email: "eve@beta.test", EmailVerified: true}, "", "", ErrNotAdmin},
		{"suspended tenant", Identity{Subject: "x", Email: "fay@frozen.test", EmailVerified: true}, "", "", ErrTenantSuspended},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := r.Resolve(ctx, &tt.id)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Resolve(%+v): err %v, want %v", tt.id, err, tt.err)
			}
			if err == nil && (s.Role != tt.role || s.TenantID != tt.tenant) {
				t.Errorf("Resolve(%+v) = role %q tenant %q, want %q %q", tt.id, s.Role, s.TenantID, tt.role, tt.tenant)
			}
			if err == nil && !tt.id.EmailVerified && s.Email != "" {
				t.Errorf("an unverified e-mail was kept in the session")
			}
		})
	}
	// Recheck follows changes to the user and the tenant.
	s, _ := r.Resolve(ctx, &Identity{Subject: "idp-bo"})
	if err := r.Recheck(ctx, s); err != nil {
		t.Fatalf("Recheck: %v", err)
	}
	l.users[2].AccountAdmin = false
	if err := r.Recheck(ctx, s); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("Recheck after losing rights: %v", err)
	}
	l.users[2].AccountAdmin = true
	l.tenants[0].Suspended = true // Beta
	if err := r.Recheck(ctx, s); !errors.Is(err, ErrTenantSuspended) {
		t.Errorf("Recheck of a suspended tenant: %v", err)
	}
}

// unsignedJWT is an ID token's shape with claims; ExternalIDOf reads
// tokens verified earlier, so the signature does not matter here.
func unsignedJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(b) + ".c2ln"
}

func TestExternalIDOf(t *testing.T) {
	c := OIDCConfig{ExternalIDClaim: "oid"}
	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"string", unsignedJWT(t, map[string]any{"sub": "pairwise", "oid": " 5f0c2b71-8a3e "}), "5f0c2b71-8a3e"},
		{"number stays exact", unsignedJWT(t, map[string]any{"oid": json.Number("12345678901234567890")}), "12345678901234567890"},
		{"absent", unsignedJWT(t, map[string]any{"sub": "x"}), ""},
		{"not a string", unsignedJWT(t, map[string]any{"oid": []string{"a"}}), ""},
		{"padded payload", strings.Replace(unsignedJWT(t, map[string]any{"oid": "ab"}), ".c2ln", "=.c2ln", 1), "ab"},
		{"not a JWT", "abc", ""},
		{"bad payload", "a.!!!.c", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		if got := c.ExternalIDOf(tt.token); got != tt.want {
			t.Errorf("%s: ExternalIDOf(%q) = %q, want %q", tt.name, tt.token, got, tt.want)
		}
	}
	if got := (OIDCConfig{}).ExternalIDOf(tests[0].token); got != "" {
		t.Errorf("without ExternalIDClaim: %q, want nothing", got)
	}
}

// TestRolesExternalIDClaim is Microsoft Entra ID's case: "sub" is
// pairwise, e-mail unverified, and the object ID ("oid") is what SCIM
// stored as the user's externalId.
func TestRolesExternalIDClaim(t *testing.T) {
	ctx := context.Background()
	const oid = "5f0c2b71-8a3e-4c1d-9a77-2b1e0f6d4c11"
	l := &lookup{
		tenants: []*store.Tenant{{ID: "a", Name: "Alpha"}},
		users: []*store.User{
			{TenantID: "a", UserName: "gil@alpha.test", ExternalID: oid, Active: true, AccountAdmin: true},
			{TenantID: "a", UserName: "sub-as-id", ExternalID: "pairwise-sub", Active: true, AccountAdmin: true},
		},
	}
	entra := func(claims map[string]any) *Identity {
		tok := unsignedJWT(t, claims)
		return &Identity{Subject: "pairwise-sub", Email: "gil@alpha.test", IDToken: tok, ExternalID: OIDCConfig{ExternalIDClaim: "oid"}.ExternalIDOf(tok)}
	}
	withOID := &Roles{Config: OIDCConfig{ExternalIDClaim: "oid"}, Store: l}

	s, err := withOID.Resolve(ctx, entra(map[string]any{"sub": "pairwise-sub", "oid": oid}))
	if err != nil || s.Role != store.RoleTenantAdmin || s.TenantID != "a" || s.Email != "" {
		t.Fatalf("Resolve by oid: %+v %v", s, err)
	}
	if err := withOID.Recheck(ctx, s); err != nil {
		t.Errorf("Recheck by the oid in the session's ID token: %v", err)
	}
	l.users[0].AccountAdmin = false
	if err := withOID.Recheck(ctx, s); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("Recheck after losing rights: %v", err)
	}
	l.users[0].AccountAdmin = true
	// With the claim configured, the subject is no longer an externalId,
	// and a token without the claim matches nobody.
	if _, err := withOID.Resolve(ctx, entra(map[string]any{"sub": "pairwise-sub"})); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("token without oid: %v, want ErrNotAdmin", err)
	}
	// Without the option the same person is refused: that was the bug.
	plain := &Roles{Store: l}
	l.users[1].AccountAdmin = false
	if _, err := plain.Resolve(ctx, entra(map[string]any{"sub": "pairwise-sub", "oid": oid})); !errors.Is(err, ErrNotAdmin) {
		t.Errorf("without ExternalIDClaim: %v, want ErrNotAdmin", err)
	}
}

func TestSafeCode(t *testing.T) {
	for in, want := range map[string]string{"access_denied": "access_denied", "<script>": "", "a b": "", strings.Repeat("a", 65): ""} {
		if got := safeCode(in); got != want {
			t.Errorf("safeCode(%q) = %q, want %q", in, got, want)
		}
	}
}
