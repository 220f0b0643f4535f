package scim

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/roster-scim/roster/auth"
)

const fullUser = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
              "urn:ietf:params:scim:schemas:extension:roster:2.0:User"],
  "externalId": "ext-1",
  "userName": "bjensen@example.com",
  "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara",
           "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
  "displayName": "Babs Jensen",
  "nickName": "Babs",
  "profileUrl": "https://login.example.com/bjensen",
  "title": "Tour Guide",
  "userType": "Employee",
  "preferredLanguage": "en-US",
  "locale": "en-US",
  "timezone": "America/Los_Angeles",
  "active": true,
  "password": "t1meMa$heen",
  "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
             {"value": "babs@jensen.org", "type": "home"}],
  "phoneNumbers": [{"value": "555-555-5555", "type": "work"}],
  "ims": [{"value": "someaimhandle", "type": "aim"}],
  "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
  "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
                 "region": "CA", "postalCode": "91608", "country": "USA",
                 "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "primary": true}],
  "entitlements": [{"value": "Employee"}],
  "roles": [{"value": "Sales"}],
  "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
  "groups": [{"value": "ignored-because-read-only"}],
  "meta": {"resourceType": "User", "created": "2001-01-01T00:00:00Z"},
  "id": "client-chosen-id-is-ignored",
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
    "division": "Theme Park", "department": "Tour Operations",
    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "ignored (read-only)"}
  },
  "urn:ietf:params:scim:schemas:extension:roster:2.0:User": {
    "notes": "VIP", "permissions": ["reports", "export"], "accountAdmin": true,
    "customerCode": "C-42", "udid": "00008030-001A", "licenses": [{"value": "ignored (read-only)"}]
  }
}`

func TestUserRoundTrip(t *testing.T) {
	e := newEnv(t)
	r := e.must(201, "POST", "/Users", fullUser)
	created := r.json(t)
	id := created["id"].(string)
	if id == "client-chosen-id-is-ignored" || id == "" {
		t.Fatalf("id = %q, want a server-assigned id", id)
	}
	if got, want := r.header.Get("Location"), testBase+"/Users/"+id; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if got := r.header.Get("ETag"); got != `W/"1"` {
		t.Errorf("ETag = %q, want W/\"1\"", got)
	}
	if got := r.header.Get("Content-Type"); got != scimJSON {
		t.Errorf("Content-Type = %q, want %q", got, scimJSON)
	}
	got := e.must(200, "GET", "/Users/"+id, "").json(t)
	if !reflect.DeepEqual(got, created) {
		t.Errorf("GET differs from POST response\n got %v\nwant %v", got, created)
	}

	var sent map[string]any
	if err := json.Unmarshal([]byte(fullUser), &sent); err != nil {
		t.Fatal(err)
	}
	// Everything the client may write comes back as sent.
	for _, k := range []string{"externalId", "userName", "name", "displayName", "nickName", "profileUrl", "title",
		"userType", "preferredLanguage", "locale", "timezone", "active", "emails", "phoneNumbers", "ims", "photos",
		"addresses", "entitlements", "roles", "x509Certificates"} {
		if !reflect.DeepEqual(got[k], sent[k]) {
			t.Errorf("%s:\n got %v\nwant %v", k, got[k], sent[k])
		}
	}
	ent := got["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
	if ent["department"] != "Tour Operations" || at(ent, "manager", "value") != "26118915-6090-4610-87e4-49d8ca9f808d" {
		t.Errorf("enterprise extension = %v", ent)
	}
	if at(ent, "manager", "displayName") != nil {
		t.Errorf("read-only manager.displayName was stored: %v", ent)
	}
	ros := got["urn:ietf:params:scim:schemas:extension:roster:2.0:User"].(map[string]any)
	wantRoster := map[string]any{"notes": "VIP", "permissions": []any{"reports", "export"}, "accountAdmin": true, "customerCode": "C-42", "udid": "00008030-001A"}
	if !reflect.DeepEqual(ros, wantRoster) {
		t.Errorf("roster extension\n got %v\nwant %v", ros, wantRoster)
	}
	if got["groups"] != nil {
		t.Errorf("groups (read-only, returned on request) = %v", got["groups"])
	}
	if created := at(got, "meta", "created"); created == "2001-01-01T00:00:00Z" {
		t.Errorf("meta.created taken from the client")
	}
	wantSchemas := []any{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "urn:ietf:params:scim:schemas:extension:roster:2.0:User"}
	if !reflect.DeepEqual(got["schemas"], wantSchemas) {
		t.Errorf("schemas = %v, want %v", got["schemas"], wantSchemas)
	}
	meta := got["meta"].(map[string]any)
	if meta["resourceType"] != "User" || meta["location"] != testBase+"/Users/"+id || meta["version"] != `W/"1"` {
		t.Errorf("meta = %v", meta)
	}
	if s := meta["created"].(string); len(s) != len("2006-01-02T15:04:05.000Z") || !strings.HasSuffix(s, "Z") {
		t.Errorf("meta.created = %q, want RFC 3339 with milliseconds in UTC", s)
	}
}

func TestPasswordIsHashedAndNeverReturned(t *testing.T) {
	e := newEnv(t)
	r := e.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"pw","password":"s3cret-Pa55"}`)
	id := r.json(t)["id"].(string)
	u, err := e.store.GetUser(t.Context(), tenantA, id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("PasswordHash = %q, want an argon2id PHC string", u.PasswordHash)
	}
	if err := auth.CheckPassword(u.PasswordHash, "s3cret-Pa55"); err != nil {
		t.Fatalf("stored hash does not verify: %v", err)
	}
	for _, b := range []string{
		r.body,
		e.must(200, "GET", "/Users/"+id, "").body,
		e.must(200, "GET", "/Users/"+id+"?attributes=password", "").body,
		e.must(200, "POST", "/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"attributes":["password","userName"]}`).body,
		e.must(200, "POST", "/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"POST","bulkId":"a","path":"/Users","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"pw2","password":"s3cret-Pa55"}}]}`).body,
		e.must(200, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"password","value":"n3w-Pa55"}]}`).body,
	} {
		if strings.Contains(strings.ToLower(b), "password") || strings.Contains(b, "s3cret") || strings.Contains(b, "argon2") {
			t.Errorf("response reveals the password: %s", b)
		}
	}
	u2, _ := e.store.GetUser(t.Context(), tenantA, id)
	if auth.CheckPassword(u2.PasswordHash, "n3w-Pa55") != nil {
		t.Errorf("PATCH password did not change the hash")
	}
	// A PUT without a password keeps it: it is never read back, so a
	// client's GET-modify-PUT cannot carry it.
	e.must(200, "PUT", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"pw","displayName":"P W"}`)
	u3, _ := e.store.GetUser(t.Context(), tenantA, id)
	if u3.PasswordHash != u2.PasswordHash {
		t.Errorf("PUT without password changed the hash")
	}
}

func TestFilterOnPasswordIsRejected(t *testing.T) {
	e := newEnv(t)
	r := e.must(400, "GET", "/Users?filter=password+pr", "")
	if r.json(t)["scimType"] != "invalidFilter" {
		t.Errorf("got %s, want invalidFilter", r.body)
	}
}

func TestBodyValidation(t *testing.T) {
	e := newEnv(t)
	const core = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`
	tests := []struct {
		name, body  string
		contentType string
		code        int
		scimType    string
	}{
		{"not JSON", `{"userName":`, "", 400, "invalidSyntax"},
		{"array", `[]`, "", 400, "invalidSyntax"},
		{"trailing data", `{` + core + `,"userName":"a"} {}`, "", 400, "invalidSyntax"},
		{"no schemas", `{"userName":"a"}`, "", 400, "invalidSyntax"},
		{"wrong schema", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"userName":"a"}`, "", 400, "invalidSyntax"},
		{"no userName", `{` + core + `}`, "", 400, "invalidValue"},
		{"empty userName", `{` + core + `,"userName":" "}`, "", 400, "invalidValue"},
		{"userName not a string", `{` + core + `,"userName":5}`, "", 400, "invalidValue"},
		{"active not a boolean", `{` + core + `,"userName":"a","active":"maybe"}`, "", 400, "invalidValue"},
		{"emails not objects", `{` + core + `,"userName":"a","emails":["x"]}`, "", 400, "invalidValue"},
		{"externalId a number", `{` + core + `,"userName":"a","externalId":5}`, "", 400, "invalidValue"},
		{"extension not an object", `{` + core + `,"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}`, "", 400, "invalidSyntax"},
		{"enterprise attribute of wrong type", `{` + core + `,"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":true}}`, "", 400, "invalidValue"},
		{"text/plain", `{` + core + `,"userName":"a"}`, "text/plain", 415, "invalidSyntax"},
		{"application/json", `{` + core + `,"userName":"json"}`, "application/json; charset=utf-8", 201, ""},
		{"Entra string boolean", `{` + core + `,"userName":"entra","active":"False"}`, "", 201, ""},
		{"single object for a multi-valued attribute", `{` + core + `,"userName":"single","emails":{"value":"s@x.com"}}`, "", 201, ""},
		{"URN-qualified keys", `{` + core + `,"userName":"urnkeys","urn:ietf:params:scim:schemas:core:2.0:User:title":"T","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"D"}`, "", 201, ""},
		{"unknown attributes are ignored", `{` + core + `,"userName":"unknown","favouriteColour":"blue"}`, "", 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.contentType != "" {
				hdr = append(hdr, "Content-Type: "+tt.contentType)
			}
			r := e.do("POST", "/Users", tt.body, hdr...)
			if r.code != tt.code {
				t.Fatalf("POST %s\n got %d %s\nwant %d", tt.body, r.code, r.body, tt.code)
			}
			if tt.code >= 400 {
				checkErrorBody(t, r, tt.code, tt.scimType)
			}
		})
	}
	got := e.must(200, "GET", `/Users?filter=userName+eq+"entra"`, "").json(t)
	if at(got, "Resources", 0, "active") != false {
		t.Errorf(`"False" stored as %v`, at(got, "Resources", 0, "active"))
	}
	got = e.must(200, "GET", `/Users?filter=userName+eq+"urnkeys"`, "").json(t)
	if at(got, "Resources", 0, "title") != "T" || at(got, "Resources", 0, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "department") != "D" {
		t.Errorf("URN-qualified keys: %v", got)
	}
	got = e.must(200, "GET", `/Users?filter=userName+eq+"unknown"`, "").json(t)
	if _, ok := at(got, "Resources", 0).(map[string]any)["favouriteColour"]; ok {
		t.Errorf("unknown attribute stored")
	}
}

// checkErrorBody checks the SCIM error shape (RFC 7644 §3.12).
func checkErrorBody(t *testing.T, r resp, code int, scimType string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != scimJSON {
		t.Errorf("error Content-Type = %q", ct)
	}
	m := r.json(t)
	if !reflect.DeepEqual(m["schemas"], []any{"urn:ietf:params:scim:api:messages:2.0:Error"}) {
		t.Errorf("error schemas = %v", m["schemas"])
	}
	if s, ok := m["status"].(string); !ok || s != itoa(code) {
		t.Errorf("error status = %#v, want the string %q", m["status"], itoa(code))
	}
	if got, _ := m["scimType"].(string); got != scimType {
		t.Errorf("scimType = %q, want %q (%s)", got, scimType, r.body)
	}
	if d, _ := m["detail"].(string); d == "" {
		t.Errorf("error without detail: %s", r.body)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestGroupRoundTrip(t *testing.T) {
	e := newEnv(t)
	u1, u2 := e.createUser("alice"), e.createUser("bob")
	sub := e.createGroup("sub")
	r := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Tour Guides","externalId":"g-1",
		"members":[{"value":"`+u1+`","type":"User"},{"value":"`+u2+`"},{"value":"`+sub+`","type":"group"}]}`)
	g := r.json(t)
	id := g["id"].(string)
	members, _ := g["members"].([]any)
	if len(members) != 3 {
		t.Fatalf("members = %v", g["members"])
	}
	byID := map[string]map[string]any{}
	for _, m := range members {
		mm := m.(map[string]any)
		byID[mm["value"].(string)] = mm
	}
	if byID[u1]["type"] != "User" || byID[u2]["type"] != "User" || byID[sub]["type"] != "Group" {
		t.Errorf("member types: %v", members)
	}
	if byID[u2]["display"] != "bob" || byID[sub]["$ref"] != testBase+"/Groups/"+sub {
		t.Errorf("member display/$ref: %v", members)
	}
	if g["externalId"] != "g-1" || g["displayName"] != "Tour Guides" {
		t.Errorf("group = %v", g)
	}
	got := e.must(200, "GET", "/Groups/"+id, "").json(t)
	if !reflect.DeepEqual(got, g) {
		t.Errorf("GET differs from POST\n got %v\nwant %v", got, g)
	}
	// A member that is not in the tenant: 400 and no group left behind.
	r = e.must(400, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Ghosts","members":[{"value":"no-such-id"}]}`)
	checkErrorBody(t, r, 400, "invalidValue")
	list := e.must(200, "GET", `/Groups?filter=displayName+eq+"Ghosts"`, "").json(t)
	if list["totalResults"] != float64(0) {
		t.Errorf("a group whose members were refused was left behind: %v", list)
	}
	e.must(400, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Bad","members":[{"value":"`+u1+`","type":"Robot"}]}`)
	e.must(400, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`)
}
