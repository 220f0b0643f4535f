package storetest

import (
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

func testTenants(t *testing.T, e *env) {
	before := time.Now()
	a := &store.Tenant{Name: "Acme", InviteFrom: "it@acme.example"}
	e.must(e.s.CreateTenant(e.ctx, a), "CreateTenant")
	if a.ID == "" || a.Version != 1 {
		t.Fatalf("CreateTenant filled ID %q, Version %d; want an id and 1", a.ID, a.Version)
	}
	wantTime(t, a.CreatedAt, before, time.Now(), "CreatedAt")
	same(t, a.UpdatedAt, a.CreatedAt, "UpdatedAt of a new tenant")

	got, err := e.s.GetTenant(e.ctx, a.ID)
	e.must(err, "GetTenant")
	same(t, got, a, "GetTenant")
	got, err = e.s.GetTenantByName(e.ctx, "ACME")
	e.must(err, "GetTenantByName ignores case")
	same(t, got.ID, a.ID, "GetTenantByName id")
	_, err = e.s.GetTenant(e.ctx, "no-such-tenant")
	wantErr(t, err, store.ErrNotFound, "GetTenant(missing)")
	_, err = e.s.GetTenantByName(e.ctx, "nobody")
	wantErr(t, err, store.ErrNotFound, "GetTenantByName(missing)")

	wantConflict(t, e.s.CreateTenant(e.ctx, &store.Tenant{Name: "aCME"}), "name", "CreateTenant(same name, other case)")
	wantInvalid(t, e.s.CreateTenant(e.ctx, &store.Tenant{}), "name", "CreateTenant(no name)")
	b := e.tenant("Beta")

	// Compare-and-set.
	stale := *a
	a.Suspended = true
	a.InviteFrom = "admin@acme.example"
	a.SSO, a.SSOSignInURL = true, "https://sso.acme.example/start"
	e.must(e.s.UpdateTenant(e.ctx, a), "UpdateTenant")
	if a.Version != 2 {
		t.Errorf("UpdateTenant: Version = %d, want 2", a.Version)
	}
	stale.Name = "Stale"
	wantErr(t, e.s.UpdateTenant(e.ctx, &stale), store.ErrPrecondition, "UpdateTenant(stale)")
	got, err = e.s.GetTenant(e.ctx, a.ID)
	e.must(err, "GetTenant")
	same(t, got, a, "tenant after a stale update")
	sso := &store.Tenant{Name: "Gamma", SSO: true, SSOSignInURL: "https://login.gamma.example"}
	e.must(e.s.CreateTenant(e.ctx, sso), "CreateTenant(SSO)")
	got, err = e.s.GetTenantByName(e.ctx, "gamma")
	e.must(err, "GetTenantByName(SSO)")
	same(t, got, sso, "tenant created with the SSO settings")
	sso.SSO, sso.SSOSignInURL = false, ""
	e.must(e.s.UpdateTenant(e.ctx, sso), "UpdateTenant(SSO off)")
	got, err = e.s.GetTenant(e.ctx, sso.ID)
	e.must(err, "GetTenant(SSO off)")
	same(t, got, sso, "tenant with SSO turned off")
	wantErr(t, e.s.UpdateTenant(e.ctx, &store.Tenant{ID: "missing", Name: "x", Version: 1}), store.ErrNotFound, "UpdateTenant(missing)")
	rename := *b
	rename.Name = "ACME"
	wantConflict(t, e.s.UpdateTenant(e.ctx, &rename), "name", "UpdateTenant to a taken name")

	all, err := e.s.ListTenants(e.ctx)
	e.must(err, "ListTenants")
	if len(all) != 3 {
		t.Fatalf("ListTenants returned %d tenants, want 3", len(all))
	}
	ids := map[string]bool{all[0].ID: true, all[1].ID: true, all[2].ID: true}
	if !ids[a.ID] || !ids[b.ID] || !ids[sso.ID] {
		t.Errorf("ListTenants = %v, %v, %v; want %s, %s and %s", all[0].ID, all[1].ID, all[2].ID, a.ID, b.ID, sso.ID)
	}
}

func testTokens(t *testing.T, e *env) {
	a, b := e.tenant("a"), e.tenant("b")
	tok := &store.Token{TenantID: a.ID, Name: "okta", Hash: "hash-1"}
	e.must(e.s.CreateToken(e.ctx, tok), "CreateToken")
	if tok.ID == "" || tok.CreatedAt.IsZero() {
		t.Fatalf("CreateToken left ID %q, CreatedAt %v", tok.ID, tok.CreatedAt)
	}
	e.must(e.s.CreateToken(e.ctx, &store.Token{TenantID: b.ID, Name: "entra", Hash: "hash-2"}), "CreateToken(b)")
	wantConflict(t, e.s.CreateToken(e.ctx, &store.Token{TenantID: b.ID, Name: "dup", Hash: "hash-1"}), "hash", "CreateToken(same hash)")

	got, err := e.s.TokenByHash(e.ctx, "hash-1")
	e.must(err, "TokenByHash")
	same(t, got, tok, "TokenByHash")
	_, err = e.s.TokenByHash(e.ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "TokenByHash(unknown)")

	list, err := e.s.ListTokens(e.ctx, a.ID)
	e.must(err, "ListTokens")
	if len(list) != 1 || list[0].ID != tok.ID {
		t.Errorf("ListTokens(a) = %d tokens, want just %s", len(list), tok.ID)
	}

	// TouchToken may be coarse, but a first use and a use long after
	// must show.
	t0 := store.Timestamp(time.Now())
	e.must(e.s.TouchToken(e.ctx, tok.ID, t0), "TouchToken")
	got, _ = e.s.TokenByHash(e.ctx, "hash-1")
	same(t, got.LastUsedAt, t0, "LastUsedAt after the first use")
	t1 := t0.Add(time.Hour)
	e.must(e.s.TouchToken(e.ctx, tok.ID, t1), "TouchToken an hour later")
	got, _ = e.s.TokenByHash(e.ctx, "hash-1")
	same(t, got.LastUsedAt, t1, "LastUsedAt an hour later")
	wantErr(t, e.s.TouchToken(e.ctx, "missing", t1), store.ErrNotFound, "TouchToken(missing)")

	at := store.Timestamp(time.Now())
	wantErr(t, e.s.RevokeToken(e.ctx, b.ID, tok.ID, at), store.ErrNotFound, "RevokeToken through another tenant")
	got, _ = e.s.TokenByHash(e.ctx, "hash-1")
	if !got.RevokedAt.IsZero() {
		t.Errorf("another tenant revoked the token")
	}
	e.must(e.s.RevokeToken(e.ctx, a.ID, tok.ID, at), "RevokeToken")
	got, _ = e.s.TokenByHash(e.ctx, "hash-1")
	same(t, got.RevokedAt, at, "RevokedAt")
}

// fullUser sets every field of a User, so a round trip that drops one
// shows.
func fullUser(tenantID string) *store.User {
	return &store.User{
		TenantID:   tenantID,
		ExternalID: "00u1abcd",
		UserName:   "Ada.Lovelace@Example.com",
		Name: store.Name{Formatted: "Ms. Ada King Lovelace", FamilyName: "Lovelace", GivenName: "Ada", MiddleName: "King",
			HonorificPrefix: "Ms.", HonorificSuffix: "FRS"},
		DisplayName:       "Ada Lovelace",
		NickName:          "ada",
		ProfileURL:        "https://example.com/ada",
		Title:             "Analyst",
		UserType:          "Employee",
		PreferredLanguage: "en-GB",
		Locale:            "en-GB",
		Timezone:          "Europe/London",
		Active:            true,
		Emails: []store.MultiValue{
			{Value: "ada@example.com", Type: "work", Primary: true, Display: "Ada (work)"},
			{Value: "ada@home.example", Type: "home"},
		},
		PhoneNumbers:     []store.MultiValue{{Value: "+44 20 7946 0000", Type: "work"}},
		PasswordHash:     "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		Notes:            "analytical engine",
		Permissions:      []string{"count", "export"},
		AccountAdmin:     true,
		CustomerCode:     "C-42",
		UDID:             "UDID-1",
		NoSystemMessages: true,
		Activation:       store.ActivationPending,
		Extra: map[string]any{
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{
				"employeeNumber": "1815",
				"manager":        map[string]any{"value": "boss-id"},
			},
			"addresses": []any{map[string]any{"type": "work", "locality": "London", "primary": true}},
			"x-number":  12.5,
		},
	}
}

func testUsers(t *testing.T, e *env) {
	ten := e.tenant("t")
	before := time.Now()
	u := &store.User{TenantID: ten.ID, UserName: "Alice@Example.com", DisplayName: "Alice", Active: true,
		Emails: []store.MultiValue{{Value: "alice@example.com", Primary: true}}}
	e.must(e.s.CreateUser(e.ctx, u), "CreateUser")
	if u.ID == "" || u.Version != 1 {
		t.Fatalf("CreateUser filled ID %q, Version %d", u.ID, u.Version)
	}
	wantTime(t, u.CreatedAt, before, time.Now(), "CreatedAt")
	same(t, u.UpdatedAt, u.CreatedAt, "UpdatedAt of a new user")

	own := &store.User{TenantID: ten.ID, ID: "0190c7f2-aaaa-7bbb-8ccc-000000000001", UserName: "given-id"}
	e.must(e.s.CreateUser(e.ctx, own), "CreateUser with an id")
	same(t, own.ID, "0190c7f2-aaaa-7bbb-8ccc-000000000001", "CreateUser keeps a given id")
	wantConflict(t, e.s.CreateUser(e.ctx, &store.User{TenantID: ten.ID, ID: own.ID, UserName: "other"}), "id", "CreateUser(same id)")
	wantInvalid(t, e.s.CreateUser(e.ctx, &store.User{TenantID: ten.ID}), "userName", "CreateUser(no userName)")

	got, err := e.s.GetUser(e.ctx, ten.ID, u.ID)
	e.must(err, "GetUser")
	same(t, got, u, "GetUser")
	for _, name := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.com"} {
		got, err := e.s.GetUserByUserName(e.ctx, ten.ID, name)
		e.must(err, "GetUserByUserName(%q)", name)
		same(t, got.ID, u.ID, "GetUserByUserName("+name+")")
	}
	_, err = e.s.GetUser(e.ctx, ten.ID, "missing")
	wantErr(t, err, store.ErrNotFound, "GetUser(missing)")
	_, err = e.s.GetUserByUserName(e.ctx, ten.ID, "nobody")
	wantErr(t, err, store.ErrNotFound, "GetUserByUserName(missing)")

	// Update: compare-and-set on Version.
	stale := *u
	u.DisplayName, u.Active, u.Title = "Alice L.", false, "CTO"
	u.Emails = []store.MultiValue{{Value: "alice@new.example"}}
	created := u.CreatedAt
	e.must(e.s.UpdateUser(e.ctx, u), "UpdateUser")
	if u.Version != 2 {
		t.Errorf("UpdateUser: Version = %d, want 2", u.Version)
	}
	same(t, u.CreatedAt, created, "CreatedAt after an update")
	if u.UpdatedAt.Before(created) {
		t.Errorf("UpdatedAt %v before CreatedAt %v", u.UpdatedAt, created)
	}
	got, err = e.s.GetUser(e.ctx, ten.ID, u.ID)
	e.must(err, "GetUser")
	same(t, got, u, "GetUser after UpdateUser")

	stale.DisplayName = "stale write"
	wantErr(t, e.s.UpdateUser(e.ctx, &stale), store.ErrPrecondition, "UpdateUser(stale version)")
	got, _ = e.s.GetUser(e.ctx, ten.ID, u.ID)
	same(t, got, u, "user after a refused stale update")
	wantErr(t, e.s.UpdateUser(e.ctx, &store.User{TenantID: ten.ID, ID: "missing", UserName: "x", Version: 1}),
		store.ErrNotFound, "UpdateUser(missing)")

	// A userName change is visible to the case-insensitive lookup at once.
	u.UserName = "Alice.Liddell@Example.com"
	e.must(e.s.UpdateUser(e.ctx, u), "UpdateUser(rename)")
	_, err = e.s.GetUserByUserName(e.ctx, ten.ID, "alice@example.com")
	wantErr(t, err, store.ErrNotFound, "old userName after a rename")
	got, err = e.s.GetUserByUserName(e.ctx, ten.ID, "ALICE.LIDDELL@example.com")
	e.must(err, "new userName after a rename")
	same(t, got.ID, u.ID, "renamed user")

	// Delete: compare-and-set too; version 0 is unconditional.
	wantErr(t, e.s.DeleteUser(e.ctx, ten.ID, u.ID, u.Version-1), store.ErrPrecondition, "DeleteUser(stale version)")
	if _, err := e.s.GetUser(e.ctx, ten.ID, u.ID); err != nil {
		t.Errorf("user gone after a refused delete: %v", err)
	}
	e.must(e.s.DeleteUser(e.ctx, ten.ID, u.ID, u.Version), "DeleteUser")
	_, err = e.s.GetUser(e.ctx, ten.ID, u.ID)
	wantErr(t, err, store.ErrNotFound, "GetUser after DeleteUser")
	wantErr(t, e.s.DeleteUser(e.ctx, ten.ID, u.ID, 0), store.ErrNotFound, "DeleteUser twice")
	e.must(e.s.DeleteUser(e.ctx, ten.ID, own.ID, 0), "DeleteUser(version 0)")
	// The userName is free again.
	e.user(ten.ID, "alice.liddell@example.com")
}

func testUserRoundTrip(t *testing.T, e *env) {
	ten := e.tenant("t")
	u := fullUser(ten.ID)
	e.must(e.s.CreateUser(e.ctx, u), "CreateUser")
	got, err := e.s.GetUser(e.ctx, ten.ID, u.ID)
	e.must(err, "GetUser")
	same(t, got, u, "every field survives CreateUser + GetUser")

	u.Extra["x-number"] = 13.0
	u.Permissions = nil
	u.Emails = u.Emails[:1]
	e.must(e.s.UpdateUser(e.ctx, u), "UpdateUser")
	got, err = e.s.GetUser(e.ctx, ten.ID, u.ID)
	e.must(err, "GetUser")
	same(t, got, u, "every field survives UpdateUser + GetUser")
}

func testUserNameUnique(t *testing.T, e *env) {
	a, b := e.tenant("a"), e.tenant("b")
	tests := []struct{ first, second string }{
		{"Alice@X.com", "alice@x.COM"},
		{"ÉLODIE", "élodie"},
		{"STRASSE", "strasse"},
		{"ǅemal", "ǆemal"},        // titlecase and lower-case dz digraph
		{"\u212aelvin", "kelvin"}, // Kelvin sign folds to k
		{"ΣΊΣΥΦΟΣ", "σίσυφοσ"},
	}
	for _, tt := range tests {
		first := e.user(a.ID, tt.first)
		err := e.s.CreateUser(e.ctx, &store.User{TenantID: a.ID, UserName: tt.second})
		wantConflict(t, err, "userName", "CreateUser("+tt.second+") after "+tt.first)
		got, err := e.s.GetUserByUserName(e.ctx, a.ID, tt.second)
		e.must(err, "GetUserByUserName(%q)", tt.second)
		same(t, got.ID, first.ID, "GetUserByUserName("+tt.second+")")
		// Another tenant may use the name.
		e.user(b.ID, tt.second)
	}
	// "ß" does not fold to "ss" (simple case folding): different names.
	e.user(a.ID, "straße")

	// Renaming into a taken name is refused and changes nothing.
	u := e.user(a.ID, "carol")
	u.UserName = "ALICE@x.com"
	wantConflict(t, e.s.UpdateUser(e.ctx, u), "userName", "UpdateUser to a taken userName")
	got, err := e.s.GetUser(e.ctx, a.ID, u.ID)
	e.must(err, "GetUser")
	same(t, got.UserName, "carol", "userName after a refused rename")
	same(t, got.Version, int64(1), "version after a refused rename")
}

func testExternalIDUnique(t *testing.T, e *env) {
	a, b := e.tenant("a"), e.tenant("b")
	ext := func(id string) func(*store.User) { return func(u *store.User) { u.ExternalID = id } }
	e.user(a.ID, "u1", ext("00u1"))
	wantConflict(t, e.s.CreateUser(e.ctx, &store.User{TenantID: a.ID, UserName: "u2", ExternalID: "00u1"}), "externalId",
		"CreateUser(same externalId)")
	// externalId is case-exact.
	e.user(a.ID, "u3", ext("00U1"))
	// Same externalId in another tenant is fine.
	e.user(b.ID, "u1", ext("00u1"))
	// Any number of users without one.
	e.user(a.ID, "n1")
	e.user(a.ID, "n2")
	u := e.user(a.ID, "n3")
	u.ExternalID = "00u1"
	wantConflict(t, e.s.UpdateUser(e.ctx, u), "externalId", "UpdateUser to a taken externalId")

	// Groups: externalId per tenant as well.
	e.group(a.ID, "g1", func(g *store.Group) { g.ExternalID = "grp-1" })
	wantConflict(t, e.s.CreateGroup(e.ctx, &store.Group{TenantID: a.ID, DisplayName: "g2", ExternalID: "grp-1"}), "externalId",
		"CreateGroup(same externalId)")
	e.group(b.ID, "g1", func(g *store.Group) { g.ExternalID = "grp-1" })
	e.group(a.ID, "g3")
	e.group(a.ID, "g4")
}

func testGroups(t *testing.T, e *env) {
	ten := e.tenant("t")
	before := time.Now()
	g := &store.Group{TenantID: ten.ID, DisplayName: "Engineering", ExternalID: "00g1",
		Extra: map[string]any{"urn:example:ext": map[string]any{"costCenter": "CC-1"}}}
	e.must(e.s.CreateGroup(e.ctx, g), "CreateGroup")
	if g.ID == "" || g.Version != 1 {
		t.Fatalf("CreateGroup filled ID %q, Version %d", g.ID, g.Version)
	}
	wantTime(t, g.CreatedAt, before, time.Now(), "CreatedAt")
	got, err := e.s.GetGroup(e.ctx, ten.ID, g.ID)
	e.must(err, "GetGroup")
	same(t, got, g, "GetGroup")
	_, err = e.s.GetGroup(e.ctx, ten.ID, "missing")
	wantErr(t, err, store.ErrNotFound, "GetGroup(missing)")

	wantConflict(t, e.s.CreateGroup(e.ctx, &store.Group{TenantID: ten.ID, DisplayName: "ENGINEERING"}), "displayName",
		"CreateGroup(same displayName, other case)")
	wantInvalid(t, e.s.CreateGroup(e.ctx, &store.Group{TenantID: ten.ID}), "displayName", "CreateGroup(no displayName)")

	stale := *g
	g.DisplayName = "Engineering EMEA"
	e.must(e.s.UpdateGroup(e.ctx, g), "UpdateGroup")
	same(t, g.Version, int64(2), "Version after UpdateGroup")
	got, _ = e.s.GetGroup(e.ctx, ten.ID, g.ID)
	same(t, got, g, "GetGroup after UpdateGroup")
	stale.DisplayName = "stale"
	wantErr(t, e.s.UpdateGroup(e.ctx, &stale), store.ErrPrecondition, "UpdateGroup(stale)")
	got, _ = e.s.GetGroup(e.ctx, ten.ID, g.ID)
	same(t, got, g, "group after a refused stale update")

	other := e.group(ten.ID, "Sales")
	other.DisplayName = "engineering emea"
	wantConflict(t, e.s.UpdateGroup(e.ctx, other), "displayName", "UpdateGroup to a taken displayName")

	wantErr(t, e.s.DeleteGroup(e.ctx, ten.ID, g.ID, 1), store.ErrPrecondition, "DeleteGroup(stale)")
	e.must(e.s.DeleteGroup(e.ctx, ten.ID, g.ID, g.Version), "DeleteGroup")
	_, err = e.s.GetGroup(e.ctx, ten.ID, g.ID)
	wantErr(t, err, store.ErrNotFound, "GetGroup after DeleteGroup")
	wantErr(t, e.s.DeleteGroup(e.ctx, ten.ID, g.ID, 0), store.ErrNotFound, "DeleteGroup twice")
	// The name is free again.
	e.group(ten.ID, "Engineering EMEA")
}

func testProducts(t *testing.T, e *env) {
	p := &store.Product{Code: "countthings-pro", Name: "CountThings Pro"}
	e.must(e.s.CreateProduct(e.ctx, p), "CreateProduct")
	if p.ID == "" || p.Version != 1 {
		t.Fatalf("CreateProduct filled ID %q, Version %d", p.ID, p.Version)
	}
	wantConflict(t, e.s.CreateProduct(e.ctx, &store.Product{Code: "countthings-pro"}), "code", "CreateProduct(same code)")
	got, err := e.s.GetProduct(e.ctx, p.ID)
	e.must(err, "GetProduct")
	same(t, got, p, "GetProduct")
	got, err = e.s.GetProductByCode(e.ctx, "countthings-pro")
	e.must(err, "GetProductByCode")
	same(t, got, p, "GetProductByCode")
	_, err = e.s.GetProductByCode(e.ctx, "nope")
	wantErr(t, err, store.ErrNotFound, "GetProductByCode(missing)")

	stale := *p
	p.Name = "CountThings Professional"
	e.must(e.s.UpdateProduct(e.ctx, p), "UpdateProduct")
	same(t, p.Version, int64(2), "Version after UpdateProduct")
	wantErr(t, e.s.UpdateProduct(e.ctx, &stale), store.ErrPrecondition, "UpdateProduct(stale)")
	e.product("another")
	all, err := e.s.ListProducts(e.ctx)
	e.must(err, "ListProducts")
	if len(all) != 2 {
		t.Errorf("ListProducts: %d products, want 2", len(all))
	}
}
