package scim

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const patchFixture = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
 "userName":"patchme","displayName":"P","title":"T","active":true,
 "name":{"givenName":"G","familyName":"F"},
 "emails":[{"value":"w@x.com","type":"work","primary":true},{"value":"h@x.com","type":"home"}],
 "phoneNumbers":[{"value":"1","type":"work"}],
 "addresses":[{"type":"work","locality":"L"}],
 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D","manager":{"value":"m1"}},
 "urn:ietf:params:scim:schemas:extension:roster:2.0:User":{"notes":"N","permissions":["a","b"]}}`

const (
	entURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	rosURN = "urn:ietf:params:scim:schemas:extension:roster:2.0:User"
)

// absent marks an attribute the result must not have.
var absent = &struct{}{}

type check struct {
	path []any
	want any
}

func ck(want any, path ...any) check { return check{path, want} }

func ops(list ...string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + strings.Join(list, ",") + `]}`
}

func TestPatchUser(t *testing.T) {
	e := newEnv(t)
	other := e.createUser("taken")
	_ = other
	tests := []struct {
		name     string
		body     string
		code     int
		scimType string
		checks   []check
	}{
		{"replace attribute", ops(`{"op":"replace","path":"title","value":"T2"}`), 200, "", []check{ck("T2", "title")}},
		{"Entra capitalised op", ops(`{"op":"Replace","path":"title","value":"T3"}`), 200, "", []check{ck("T3", "title")}},
		{"path case-insensitive", ops(`{"op":"REPLACE","path":"TITLE","value":"T4"}`), 200, "", []check{ck("T4", "title")}},
		{"add attribute", ops(`{"op":"add","path":"nickName","value":"Nick"}`), 200, "", []check{ck("Nick", "nickName")}},
		{"remove attribute", ops(`{"op":"remove","path":"title"}`), 200, "", []check{ck(absent, "title")}},
		{"replace with null removes", ops(`{"op":"replace","path":"title","value":null}`), 200, "", []check{ck(absent, "title")}},
		{"replace sub-attribute", ops(`{"op":"replace","path":"name.givenName","value":"G2"}`), 200, "", []check{ck("G2", "name", "givenName"), ck("F", "name", "familyName")}},
		{"remove sub-attribute", ops(`{"op":"remove","path":"name.familyName"}`), 200, "", []check{ck(absent, "name", "familyName"), ck("G", "name", "givenName")}},
		{"replace complex merges", ops(`{"op":"replace","path":"name","value":{"givenName":"X"}}`), 200, "", []check{ck("X", "name", "givenName"), ck("F", "name", "familyName")}},
		{"add to multi-valued", ops(`{"op":"add","path":"emails","value":[{"value":"o@x.com","type":"other"}]}`), 200, "", []check{ck("o@x.com", "emails", 2, "value"), ck(true, "emails", 0, "primary")}},
		{"add duplicate is no change", ops(`{"op":"add","path":"emails","value":[{"value":"h@x.com","type":"home"}]}`), 200, "", []check{ck(absent, "emails", 2)}},
		{"add new primary demotes the old", ops(`{"op":"add","path":"emails","value":{"value":"p@x.com","primary":true}}`), 200, "", []check{ck(true, "emails", 2, "primary"), ck(absent, "emails", 0, "primary")}},
		{"replace multi-valued", ops(`{"op":"replace","path":"emails","value":[{"value":"only@x.com"}]}`), 200, "", []check{ck("only@x.com", "emails", 0, "value"), ck(absent, "emails", 1)}},
		{"remove multi-valued", ops(`{"op":"remove","path":"emails"}`), 200, "", []check{ck(absent, "emails")}},
		{"remove values listed", ops(`{"op":"remove","path":"emails","value":[{"value":"h@x.com"}]}`), 200, "", []check{ck("w@x.com", "emails", 0, "value"), ck(absent, "emails", 1)}},
		{"value path replace (Entra)", ops(`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@x.com"}`), 200, "", []check{ck("new@x.com", "emails", 0, "value"), ck("h@x.com", "emails", 1, "value")}},
		{"value path add creates the element", ops(`{"op":"Add","path":"emails[type eq \"other\"].value","value":"o@x.com"}`), 200, "", []check{ck("o@x.com", "emails", 2, "value"), ck("other", "emails", 2, "type")}},
		{"value path replace creates the element", ops(`{"op":"replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"2"}`), 200, "", []check{ck("2", "phoneNumbers", 1, "value"), ck("mobile", "phoneNumbers", 1, "type")}},
		{"value path remove element", ops(`{"op":"remove","path":"emails[type eq \"home\"]"}`), 200, "", []check{ck(absent, "emails", 1), ck("work", "emails", 0, "type")}},
		{"value path remove sub-attribute", ops(`{"op":"remove","path":"emails[type eq \"work\"].primary"}`), 200, "", []check{ck(absent, "emails", 0, "primary"), ck("w@x.com", "emails", 0, "value")}},
		{"value path replace element", ops(`{"op":"replace","path":"emails[type eq \"home\"]","value":{"value":"h2@x.com","type":"home"}}`), 200, "", []check{ck("h2@x.com", "emails", 1, "value")}},
		{"value path add merges element", ops(`{"op":"add","path":"emails[type eq \"home\"]","value":{"display":"Home"}}`), 200, "", []check{ck("Home", "emails", 1, "display"), ck("h@x.com", "emails", 1, "value")}},
		{"value path with and", ops(`{"op":"replace","path":"emails[type eq \"work\" and value ew \"@X.COM\"].display","value":"Work"}`), 200, "", []check{ck("Work", "emails", 0, "display"), ck(absent, "emails", 1, "display")}},
		{"value path matching case-insensitively", ops(`{"op":"replace","path":"emails[value eq \"H@X.COM\"].type","value":"other"}`), 200, "", []check{ck("other", "emails", 1, "type")}},
		{"value path primary demotes the old", ops(`{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}`), 200, "", []check{ck(true, "emails", 1, "primary"), ck(absent, "emails", 0, "primary")}},
		{"value path on an extra attribute", ops(`{"op":"replace","path":"addresses[type eq \"work\"].locality","value":"L2"}`), 200, "", []check{ck("L2", "addresses", 0, "locality")}},
		{"value path no match", ops(`{"op":"replace","path":"emails[value co \"zzz\"].value","value":"x"}`), 400, "noTarget", nil},
		{"value path remove no match is no change", ops(`{"op":"remove","path":"emails[type eq \"pager\"]"}`), 200, "", []check{ck("h@x.com", "emails", 1, "value")}},
		{"sub-attribute of every value", ops(`{"op":"replace","path":"emails.type","value":"other"}`), 200, "", []check{ck("other", "emails", 0, "type"), ck("other", "emails", 1, "type")}},
		{"Okta path-less active", ops(`{"op":"replace","value":{"active":false}}`), 200, "", []check{ck(false, "active")}},
		{"Entra path-less with string boolean, dotted and URN keys", ops(`{"op":"Replace","value":{"active":"False","name.givenName":"Babs","` + entURN + `:department":"Eng","displayName":"B"}}`), 200, "",
			[]check{ck(false, "active"), ck("Babs", "name", "givenName"), ck("F", "name", "familyName"), ck("Eng", entURN, "department"), ck("m1", entURN, "manager", "value"), ck("B", "displayName")}},
		{"path-less add extension object", ops(`{"op":"add","value":{"` + entURN + `":{"costCenter":"C"}}}`), 200, "", []check{ck("C", entURN, "costCenter"), ck("D", entURN, "department")}},
		{"path-less ignores id, schemas, meta and unknown keys", ops(`{"op":"replace","value":{"id":"other","schemas":[],"meta":{},"favouriteColour":"blue","title":"T9"}}`), 200, "", []check{ck("T9", "title"), ck(absent, "favouriteColour")}},
		{"path-less add multi-valued appends", ops(`{"op":"add","value":{"emails":[{"value":"n@x.com"}]}}`), 200, "", []check{ck("n@x.com", "emails", 2, "value")}},
		{"path-less add of complex merges", ops(`{"op":"add","value":{"name":{"middleName":"M"}}}`), 200, "", []check{ck("M", "name", "middleName"), ck("G", "name", "givenName")}},
		{"URN path", ops(`{"op":"replace","path":"` + entURN + `:department","value":"D2"}`), 200, "", []check{ck("D2", entURN, "department")}},
		{"URN path to a sub-attribute", ops(`{"op":"replace","path":"` + entURN + `:manager.value","value":"m3"}`), 200, "", []check{ck("m3", entURN, "manager", "value")}},
		{"Entra manager as a bare string", ops(`{"op":"Add","path":"` + entURN + `:manager","value":"m2"}`), 200, "", []check{ck("m2", entURN, "manager", "value")}},
		{"remove whole extension", ops(`{"op":"remove","path":"` + entURN + `"}`), 200, "", []check{ck(absent, entURN)}},
		{"replace whole extension merges", ops(`{"op":"replace","path":"` + entURN + `","value":{"division":"V"}}`), 200, "", []check{ck("V", entURN, "division"), ck("D", entURN, "department")}},
		{"core URN-qualified path", ops(`{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:title","value":"TU"}`), 200, "", []check{ck("TU", "title")}},
		{"roster add permission", ops(`{"op":"add","path":"` + rosURN + `:permissions","value":["c"]}`), 200, "", []check{ck([]any{"a", "b", "c"}, rosURN, "permissions")}},
		{"roster remove permission by value", ops(`{"op":"remove","path":"` + rosURN + `:permissions[value eq \"a\"]"}`), 200, "", []check{ck([]any{"b"}, rosURN, "permissions")}},
		{"roster accountAdmin from a string", ops(`{"op":"replace","path":"` + rosURN + `:accountAdmin","value":"True"}`), 200, "", []check{ck(true, rosURN, "accountAdmin")}},
		{"roster licenses are read-only", ops(`{"op":"add","path":"` + rosURN + `:licenses","value":[{"value":"x"}]}`), 400, "mutability", nil},
		{"id is read-only", ops(`{"op":"replace","path":"id","value":"x"}`), 400, "mutability", nil},
		{"meta is read-only", ops(`{"op":"replace","path":"meta.created","value":"2020-01-01T00:00:00Z"}`), 400, "mutability", nil},
		{"groups are read-only", ops(`{"op":"add","path":"groups","value":[{"value":"g"}]}`), 400, "mutability", nil},
		{"manager.displayName is read-only", ops(`{"op":"replace","path":"` + entURN + `:manager.displayName","value":"x"}`), 400, "mutability", nil},
		{"unknown path", ops(`{"op":"replace","path":"favouriteColour","value":"x"}`), 400, "invalidPath", nil},
		{"unknown sub-attribute", ops(`{"op":"replace","path":"name.nope","value":"x"}`), 400, "invalidPath", nil},
		{"malformed path", ops(`{"op":"replace","path":"emails[type eq","value":"x"}`), 400, "invalidPath", nil},
		{"filter on a single-valued attribute", ops(`{"op":"replace","path":"title[value eq \"x\"]","value":"x"}`), 400, "invalidPath", nil},
		{"bad value filter", ops(`{"op":"replace","path":"emails[nope eq \"x\"].value","value":"x"}`), 400, "invalidFilter", nil},
		{"remove without path", ops(`{"op":"remove","value":{"title":"T"}}`), 400, "noTarget", nil},
		{"unknown op", ops(`{"op":"move","path":"title","value":"x"}`), 400, "invalidSyntax", nil},
		{"no Operations", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, 400, "invalidSyntax", nil},
		{"empty Operations", ops(), 400, "invalidSyntax", nil},
		{"wrong schemas", `{"schemas":["urn:x"],"Operations":[{"op":"replace","path":"title","value":"x"}]}`, 400, "invalidSyntax", nil},
		{"schemas may be omitted", `{"Operations":[{"op":"replace","path":"title","value":"S"}]}`, 200, "", []check{ck("S", "title")}},
		{"operation not an object", ops(`"replace"`), 400, "invalidSyntax", nil},
		{"path not a string", ops(`{"op":"replace","path":5,"value":"x"}`), 400, "invalidPath", nil},
		{"path-less value not an object", ops(`{"op":"replace","value":"x"}`), 400, "invalidValue", nil},
		{"wrong type", ops(`{"op":"replace","path":"active","value":"maybe"}`), 400, "invalidValue", nil},
		{"wrong type in element", ops(`{"op":"add","path":"emails","value":[{"value":5}]}`), 400, "invalidValue", nil},
		{"remove required userName", ops(`{"op":"remove","path":"userName"}`), 400, "invalidValue", nil},
		{"userName taken", ops(`{"op":"replace","path":"userName","value":"TAKEN"}`), 409, "uniqueness", nil},
		{"operations apply in order", ops(`{"op":"replace","path":"title","value":"A"}`, `{"op":"remove","path":"title"}`, `{"op":"add","path":"title","value":"B"}`), 200, "", []check{ck("B", "title")}},
		{"a failing operation changes nothing", ops(`{"op":"replace","path":"title","value":"A"}`, `{"op":"replace","path":"id","value":"x"}`), 400, "mutability", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			id := e.must(201, "POST", "/Users", strings.Replace(patchFixture, "patchme", "patch-"+strings.ReplaceAll(tt.name, " ", "-"), 1)).json(t)["id"].(string)
			r := e.do("PATCH", "/Users/"+id, tt.body)
			if r.code != tt.code {
				t.Fatalf("PATCH %s\n got %d %s\nwant %d", tt.body, r.code, r.body, tt.code)
			}
			if tt.code >= 400 {
				checkErrorBody(t, r, tt.code, tt.scimType)
				if got := e.must(200, "GET", "/Users/"+id, "").json(t); got["title"] != "T" || at(got, "meta", "version") != `W/"1"` {
					t.Errorf("a refused PATCH changed the user: %v", got)
				}
				return
			}
			got := r.json(t)
			if stored := e.must(200, "GET", "/Users/"+id, "").json(t); !reflect.DeepEqual(stored, got) {
				t.Errorf("PATCH response differs from a GET\n got %v\nwant %v", got, stored)
			}
			for _, c := range tt.checks {
				v := at(got, c.path...)
				if c.want == absent {
					if v != nil {
						t.Errorf("PATCH %s\n%v = %v, want absent", tt.body, c.path, v)
					}
					continue
				}
				if !reflect.DeepEqual(v, c.want) {
					t.Errorf("PATCH %s\n%v: got %#v, want %#v\nresource %s", tt.body, c.path, v, c.want, r.body)
				}
			}
		})
	}
}

func TestPatchGroup(t *testing.T) {
	e := newEnv(t)
	var users []string
	for i := range 4 {
		users = append(users, e.createUser(fmt.Sprintf("member%d", i)))
	}
	u0, u1, u2, u3 := users[0], users[1], users[2], users[3]
	member := func(id string) string { return `{"value":"` + id + `"}` }
	tests := []struct {
		name     string
		query    string
		body     string
		code     int
		scimType string
		name2    string   // displayName afterwards ("" = unchanged "G")
		members  []string // members afterwards
	}{
		{"replace displayName", "", ops(`{"op":"replace","path":"displayName","value":"G2"}`), 204, "", "G2", []string{u0, u1}},
		{"Okta path-less rename with id", "", ops(`{"op":"replace","value":{"id":"x","displayName":"G3"}}`), 204, "", "G3", []string{u0, u1}},
		{"Okta add members without type", "", ops(`{"op":"add","path":"members","value":[{"value":"` + u2 + `","display":"member2"}]}`), 204, "", "", []string{u0, u1, u2}},
		{"add existing member is no change", "", ops(`{"op":"add","path":"members","value":[` + member(u0) + `]}`), 204, "", "", []string{u0, u1}},
		{"add a single object", "", ops(`{"op":"add","path":"members","value":` + member(u2) + `}`), 204, "", "", []string{u0, u1, u2}},
		{"path-less add members", "", ops(`{"op":"add","value":{"members":[` + member(u3) + `]}}`), 204, "", "", []string{u0, u1, u3}},
		{"path-less members and displayName", "", ops(`{"op":"replace","value":{"displayName":"G4","members":[` + member(u3) + `]}}`), 204, "", "G4", []string{u3}},
		{"remove by value filter", "", ops(`{"op":"remove","path":"members[value eq \"` + u0 + `\"]"}`), 204, "", "", []string{u1}},
		{"remove by or-ed value filter", "", ops(`{"op":"remove","path":"members[value eq \"` + u0 + `\" or value eq \"` + u1 + `\"]"}`), 204, "", "", nil},
		{"Entra remove with a value list", "", ops(`{"op":"Remove","path":"members","value":[{"$ref":null,"value":"` + u1 + `"}]}`), 204, "", "", []string{u0}},
		{"remove a member who is not one", "", ops(`{"op":"remove","path":"members[value eq \"` + u3 + `\"]"}`), 204, "", "", []string{u0, u1}},
		{"remove all members", "", ops(`{"op":"remove","path":"members"}`), 204, "", "", nil},
		{"replace members", "", ops(`{"op":"replace","path":"members","value":[` + member(u2) + `,` + member(u3) + `]}`), 204, "", "", []string{u2, u3}},
		{"Okta membership sequence", "", ops(`{"op":"remove","path":"members[value eq \"`+u0+`\"]"}`, `{"op":"add","path":"members","value":[`+member(u2)+`]}`), 204, "", "", []string{u1, u2}},
		{"Entra rename, add, remove", "", ops(`{"op":"Replace","path":"displayName","value":"E"}`, `{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+u3+`"}]}`, `{"op":"Remove","path":"members","value":[{"$ref":null,"value":"`+u0+`"}]}`), 204, "", "E", []string{u1, u3}},
		{"attributes asks for a body", "?attributes=displayName", ops(`{"op":"replace","path":"displayName","value":"G5"}`), 200, "", "G5", []string{u0, u1}},
		{"remove by other filter", "", ops(`{"op":"remove","path":"members[display eq \"member0\"]"}`), 400, "invalidFilter", "", []string{u0, u1}},
		{"member sub-attribute", "", ops(`{"op":"replace","path":"members[value eq \"` + u0 + `\"].display","value":"x"}`), 400, "mutability", "", []string{u0, u1}},
		{"member modification", "", ops(`{"op":"replace","path":"members[value eq \"` + u0 + `\"]","value":{"value":"x"}}`), 400, "mutability", "", []string{u0, u1}},
		{"unknown member", "", ops(`{"op":"add","path":"members","value":[{"value":"nobody"}]}`), 400, "invalidValue", "", []string{u0, u1}},
		{"member without value", "", ops(`{"op":"add","path":"members","value":[{"display":"x"}]}`), 400, "invalidValue", "", []string{u0, u1}},
		{"member of a bad type", "", ops(`{"op":"add","path":"members","value":[{"value":"` + u2 + `","type":"Robot"}]}`), 400, "invalidValue", "", []string{u0, u1}},
		{"remove displayName", "", ops(`{"op":"remove","path":"displayName"}`), 400, "invalidValue", "", []string{u0, u1}},
		{"unknown path", "", ops(`{"op":"replace","path":"userName","value":"x"}`), 400, "invalidPath", "", []string{u0, u1}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			gid := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Group `+fmt.Sprint(i)+`","members":[`+member(u0)+`,`+member(u1)+`]}`).json(t)["id"].(string)
			r := e.do("PATCH", "/Groups/"+gid+tt.query, tt.body)
			if r.code != tt.code {
				t.Fatalf("PATCH %s\n got %d %s\nwant %d", tt.body, r.code, r.body, tt.code)
			}
			switch {
			case tt.code >= 400:
				checkErrorBody(t, r, tt.code, tt.scimType)
			case tt.code == 204:
				if r.body != "" || r.header.Get("ETag") == "" {
					t.Errorf("204 with body %q, ETag %q", r.body, r.header.Get("ETag"))
				}
			case tt.code == 200:
				if m := r.json(t); len(m) != 3 || m["displayName"] == nil {
					t.Errorf("?attributes=displayName answered %v", m)
				}
			}
			got := e.must(200, "GET", "/Groups/"+gid, "").json(t)
			want := tt.name2
			if want == "" {
				want = fmt.Sprint("Group ", i)
			}
			if got["displayName"] != want {
				t.Errorf("displayName = %v, want %s", got["displayName"], want)
			}
			var ms []string
			for _, m := range asList(got["members"]) {
				ms = append(ms, m.(map[string]any)["value"].(string))
			}
			slices.Sort(ms)
			wantMembers := slices.Clone(tt.members)
			slices.Sort(wantMembers)
			if !slices.Equal(ms, wantMembers) {
				t.Errorf("members = %v, want %v", ms, wantMembers)
			}
			if tt.code == 204 && r.header.Get("ETag") != at(got, "meta", "version") {
				t.Errorf("204 ETag %s, group version %v", r.header.Get("ETag"), at(got, "meta", "version"))
			}
		})
	}
}

func TestPatchGroupIfMatch(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("u")
	gid := e.createGroup("G")
	add := ops(`{"op":"add","path":"members","value":[{"value":"` + u + `"}]}`)
	checkErrorBody(t, e.must(412, "PATCH", "/Groups/"+gid, add, `If-Match: W/"7"`), 412, "")
	r := e.must(204, "PATCH", "/Groups/"+gid, add, `If-Match: W/"1"`)
	if r.header.Get("ETag") != `W/"2"` {
		t.Errorf("ETag = %s", r.header.Get("ETag"))
	}
	e.must(412, "PATCH", "/Groups/"+gid, ops(`{"op":"replace","path":"displayName","value":"x"}`), `If-Match: W/"1"`)
	r = e.must(204, "PATCH", "/Groups/"+gid, ops(`{"op":"replace","path":"displayName","value":"x"}`, `{"op":"remove","path":"members"}`), `If-Match: W/"2"`)
	if r.header.Get("ETag") != `W/"4"` {
		t.Errorf("ETag = %s, want W/\"4\" (rename, then members)", r.header.Get("ETag"))
	}
	e.must(404, "PATCH", "/Groups/nope", add)
}

// TestPatchUserRetriesOnConflict: unconditional PATCHes that race are
// re-applied to the fresh record, so none is lost.
func TestPatchUserRetriesOnConflict(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("racer")
	const n = 20
	errs := make(chan string, n)
	for i := range n {
		go func() {
			r := e.do("PATCH", "/Users/"+id, ops(`{"op":"add","path":"emails","value":[{"value":"e`+fmt.Sprint(i)+`@x.com"}]}`))
			if r.code != 200 {
				errs <- fmt.Sprintf("%d %s", r.code, r.body)
				return
			}
			errs <- ""
		}()
	}
	for range n {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
	got := e.must(200, "GET", "/Users/"+id, "").json(t)
	if l := len(asList(got["emails"])); l != n {
		t.Errorf("emails after %d concurrent adds: %d", n, l)
	}
}

// TestConcurrentMemberAdds: 100 concurrent PATCHes each adding a
// different member to one group all land.
func TestConcurrentMemberAdds(t *testing.T) {
	e := newEnv(t)
	gid := e.createGroup("crowd")
	const n = 100
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.createUser(fmt.Sprintf("crowd%03d", i))
	}
	done := make(chan resp, n)
	for _, id := range ids {
		go func() {
			done <- e.do("PATCH", "/Groups/"+gid, ops(`{"op":"add","path":"members","value":[{"value":"`+id+`"}]}`))
		}()
	}
	for range n {
		if r := <-done; r.code != 204 {
			t.Errorf("PATCH: %d %s", r.code, r.body)
		}
	}
	count, err := e.store.CountMembers(t.Context(), tenantA, gid)
	if err != nil || count != n {
		t.Fatalf("members = %d, %v; want %d", count, err, n)
	}
	got := e.must(200, "GET", "/Groups/"+gid, "").json(t)
	if l := len(asList(got["members"])); l != n {
		t.Errorf("GET shows %d members, want %d", l, n)
	}
	var b json.RawMessage = []byte(got["meta"].(map[string]any)["version"].(string))
	if string(b) != fmt.Sprintf(`W/"%d"`, n+1) {
		t.Errorf("version = %s, want W/\"%d\" (one bump per add)", b, n+1)
	}
}

// TestSimpleValuePathLikeParser: where simpleValuePath answers, it answers
// as the parser does; the rest it leaves to the parser.
func TestSimpleValuePathLikeParser(t *testing.T) {
	for _, c := range []struct {
		rt   *resourceType
		path string
		fast bool
	}{
		{groupType, `members[value eq "0193f0a8-1c2d-7e3f-8a4b-5c6d7e8f9a0b"]`, true},
		{groupType, `members[value EQ "x"]`, true},
		{groupType, `members[value  eq  "x"]`, true},
		{groupType, `Members[Value eq "x"]`, true},
		{groupType, `members[value eq "x"].display`, true},
		{userType, `emails[type eq "work"]`, true},
		{userType, `emails[type eq "work"].value`, true},
		{userType, `emails[value eq "zoë@example.com"].primary`, true},
		{userType, `emails[type eq "work"].nope`, false},
		{userType, `emails[nope eq "work"]`, false},
		{userType, `emails[type eq "wo\"rk"]`, false},
		{userType, `emails[type ne "work"]`, false},
		{userType, `emails[type eq work]`, false},
		{userType, `emails[primary eq "true"]`, true},
		{userType, `emails[type eq "work" and value eq "x"]`, false},
		{userType, `userName[value eq "x"]`, false},
		{userType, `name[givenName eq "x"]`, false},
		{userType, `urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]`, false},
		{userType, `emails[type eq "work"]x`, false},
		{userType, `emails[ type eq "work"]`, false},
		{userType, `[type eq "work"]`, false},
	} {
		fast, ok := simpleValuePath(c.rt, c.path)
		if ok != c.fast {
			t.Errorf("simpleValuePath(%s) answered %v, want %v", c.path, ok, c.fast)
		}
		if !ok {
			continue
		}
		slow, err := resolveFilterPath(c.rt, c.path)
		if err != nil || !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s: simpleValuePath %+v, parser %+v, %v", c.path, fast, slow, err)
		}
	}
}
