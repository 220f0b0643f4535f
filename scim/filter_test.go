package scim

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/roster-scim/roster/store"
)

// seedFilterUsers creates three users that the filter tables select from.
func seedFilterUsers(e *env) map[string]string {
	ids := map[string]string{}
	for _, body := range []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alice","displayName":"Alice Smith","title":"Engineer","active":true,
		  "name":{"familyName":"Smith","givenName":"Alice"},
		  "emails":[{"value":"alice@x.com","type":"work","primary":true},{"value":"alice@home.org","type":"home"}],
		  "addresses":[{"type":"work","locality":"Hollywood","country":"USA"}],
		  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng","manager":{"value":"boss-1"}},
		  "urn:ietf:params:scim:schemas:extension:roster:2.0:User":{"customerCode":"C1","accountAdmin":true,"permissions":["export"]}}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob","externalId":"E-2","displayName":"Bob Jones","title":"Manager","active":false,
		  "name":{"familyName":"Jones"},"emails":[{"value":"bob@y.com","type":"work"}],
		  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Carol","externalId":"e-3","active":true}`,
	} {
		r := e.must(201, "POST", "/Users", body)
		m := r.json(e.t)
		ids[strings.ToLower(m["userName"].(string))] = m["id"].(string)
	}
	return ids
}

func TestFilterOperators(t *testing.T) {
	e := newEnv(t)
	ids := seedFilterUsers(e)
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
	const ros = "urn:ietf:params:scim:schemas:extension:roster:2.0:User:"
	tests := []struct {
		filter string
		want   []string
	}{
		{`userName eq "ALICE"`, []string{"alice"}},
		{`userName ne "alice"`, []string{"bob", "carol"}},
		{`userName co "o"`, []string{"bob", "carol"}},
		{`userName sw "A"`, []string{"alice"}},
		{`userName ew "OL"`, []string{"carol"}},
		{`userName gt "bob"`, []string{"carol"}},
		{`userName ge "bob"`, []string{"bob", "carol"}},
		{`userName lt "bob"`, []string{"alice"}},
		{`userName le "bob"`, []string{"alice", "bob"}},
		{`title pr`, []string{"alice", "bob"}},
		{`not (title pr)`, []string{"carol"}},
		{`displayName eq null`, []string{"carol"}},
		{`displayName ne null`, []string{"alice", "bob"}},
		{`active eq true`, []string{"alice", "carol"}},
		{`active eq "False"`, []string{"bob"}},
		{`active ne true`, []string{"bob"}},
		{`emails eq "BOB@y.com"`, []string{"bob"}},
		{`emails co "home"`, []string{"alice"}},
		{`emails.value ew "@x.com"`, []string{"alice"}},
		{`emails.type eq "home"`, []string{"alice"}},
		{`emails[type eq "work" and value co "alice"]`, []string{"alice"}},
		{`emails[type eq "work" and value co "home"]`, nil},
		{`emails[type eq "home"] or userName eq "carol"`, []string{"alice", "carol"}},
		{`emails[not (type eq "work")]`, []string{"alice"}},
		{`emails.primary eq true`, []string{"alice"}},
		{`addresses[locality eq "hollywood"]`, []string{"alice"}},
		{`addresses.country eq "USA"`, []string{"alice"}},
		{`name.familyName eq "jones"`, []string{"bob"}},
		{`NAME.FAMILYNAME sw "sm"`, []string{"alice"}},
		{ent + `department eq "Sales"`, []string{"bob"}},
		{ent + `department pr`, []string{"alice", "bob"}},
		{ent + `manager.value eq "boss-1"`, []string{"alice"}},
		{ent + `manager eq "boss-1"`, []string{"alice"}},
		{ros + `customerCode eq "C1"`, []string{"alice"}},
		{ros + `accountAdmin eq true`, []string{"alice"}},
		{ros + `permissions eq "export"`, []string{"alice"}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alice"`, []string{"alice"}},
		{`externalId eq "E-2"`, []string{"bob"}},
		{`externalId eq "e-2"`, nil},
		{`id eq "` + ids["bob"] + `"`, []string{"bob"}},
		{`meta.lastModified gt "2000-01-01T00:00:00Z"`, []string{"alice", "bob", "carol"}},
		{`meta.created lt "2000-01-01T00:00:00.000Z"`, nil},
		{`meta.created le "2999-12-31T23:59:59+01:00"`, []string{"alice", "bob", "carol"}},
		{`not (userName eq "alice")`, []string{"bob", "carol"}},
		{`userName eq "alice" or userName eq "bob"`, []string{"alice", "bob"}},
		{`(userName eq "alice" or userName eq "bob") and active eq true`, []string{"alice"}},
		{`userName eq "alice" or userName eq "bob" and active eq true`, []string{"alice"}},
		{`USERNAME Eq "alice"`, []string{"alice"}},
		{`userName eq "a\"b"`, nil},
		{`userName  eq  "bob"`, []string{"bob"}},
		{` userName eq "bob" `, []string{"bob"}},
	}
	for _, tt := range tests {
		r := e.do("GET", "/Users?filter="+url.QueryEscape(tt.filter), "")
		if r.code != 200 {
			t.Errorf("filter %s\n got %d %s\nwant 200", tt.filter, r.code, r.body)
			continue
		}
		got := userNames(r.json(t))
		if !slices.Equal(got, tt.want) {
			t.Errorf("filter %s\n got %v\nwant %v", tt.filter, got, tt.want)
		}
	}
}

func userNames(list map[string]any) []string {
	var out []string
	res, _ := list["Resources"].([]any)
	for _, r := range res {
		out = append(out, strings.ToLower(r.(map[string]any)["userName"].(string)))
	}
	slices.Sort(out)
	return out
}

func TestInvalidFilters(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.Limits.MaxFilterLength = 100 })
	seedFilterUsers(e)
	for _, f := range []string{
		`foo eq "x"`,
		`userName eq`,
		`userName xx "a"`,
		`userName eq "x"  and`,
		`userName eq "x")`,
		`active gt true`,
		`active co "t"`,
		`active eq "maybe"`,
		`meta.lastModified gt "yesterday"`,
		`meta.created co "2020"`,
		`meta eq "x"`,
		`name eq "x"`,
		`name.nope eq "x"`,
		`emails[foo eq "x"]`,
		`emails[type eq "work"].value eq "x"`,
		`userName[value eq "x"]`,
		`userName eq 5`,
		`userName eq true`,
		`userName gt null`,
		`urn:unknown:schema:2.0:User:attr eq "x"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:nope eq "x"`,
		`groups.value eq "x"`,
		`userName eq "` + strings.Repeat("x", 100) + `"`,
		`userName eq 'x'`,
		`title eq "\q"`,
		``,
		`   `,
	} {
		r := e.do("GET", "/Users?filter="+url.QueryEscape(f), "")
		if r.code != 400 {
			t.Errorf("filter %q\n got %d %s\nwant 400 invalidFilter", f, r.code, r.body)
			continue
		}
		checkErrorBody(t, r, 400, "invalidFilter")
	}
	// POST .search reports the same.
	r := e.do("POST", "/Users/.search", `{"filter":"foo eq \"x\""}`)
	checkErrorBody(t, r, 400, "invalidFilter")
}

func TestGroupFilters(t *testing.T) {
	e := newEnv(t)
	u1, u2 := e.createUser("u1"), e.createUser("u2")
	e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Admins","externalId":"G-1","members":[{"value":"`+u1+`"}]}`)
	e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Users","members":[{"value":"`+u1+`"},{"value":"`+u2+`"}]}`)
	tests := []struct {
		filter string
		want   []string
	}{
		{`displayName eq "admins"`, []string{"Admins"}},
		{`displayName sw "U"`, []string{"Users"}},
		{`externalId eq "G-1"`, []string{"Admins"}},
		{`members eq "` + u2 + `"`, []string{"Users"}},
		{`members.value eq "` + u1 + `"`, []string{"Admins", "Users"}},
		{`members[value eq "` + u2 + `"]`, []string{"Users"}},
		{`members ne "` + u2 + `"`, []string{"Admins"}},
		{`not (members[value eq "` + u1 + `"])`, nil},
		{`displayName eq "Users" and members eq "` + u1 + `"`, []string{"Users"}},
	}
	for _, tt := range tests {
		r := e.must(200, "GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(tt.filter), "")
		var got []string
		for _, g := range r.json(t)["Resources"].([]any) {
			got = append(got, g.(map[string]any)["displayName"].(string))
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("filter %s\n got %v\nwant %v", tt.filter, got, tt.want)
		}
	}
	for _, f := range []string{`userName eq "x"`, `members.display eq 5`, `displayName gt 1`,
		`members.display eq "x"`, `members pr`, `members co "x"`, `members[type eq "User"]`, `members[value eq "a" or value eq "b"]`,
		`meta.resourceType eq "Group"`, `meta.version eq "W/"1""`} {
		checkErrorBody(t, e.do("GET", "/Groups?filter="+url.QueryEscape(f), ""), 400, "invalidFilter")
	}
}

// TestEntraTestConnection: Entra's "Test Connection" looks up a random
// userName and expects 200 with an empty list.
func TestEntraTestConnection(t *testing.T) {
	e := newEnv(t)
	e.createUser("someone")
	r := e.must(200, "GET", "/Users?filter="+url.QueryEscape(`userName eq "3b2e4e0c-97b8-4ff4-8a5f-d0a8e3b1fb32"`), "")
	got := r.json(t)
	if got["totalResults"] != float64(0) || got["itemsPerPage"] != float64(0) || got["startIndex"] != float64(1) {
		t.Errorf("list = %v", got)
	}
	if res, ok := got["Resources"].([]any); !ok || len(res) != 0 {
		t.Errorf("Resources = %#v, want []", got["Resources"])
	}
}

// TestFilterCompilation checks the store.Expr a filter becomes, and that
// the fast path for `attr eq "v"` builds what the parser would.
func TestFilterCompilation(t *testing.T) {
	h := New(Deps{}).(*handler)
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	tests := []struct {
		filter string
		want   store.Expr
	}{
		{`userName eq "x"`, store.Compare{Attr: store.AttrPath{Name: "userName"}, Op: "eq", Value: "x"}},
		{`USERNAME eq "x"`, store.Compare{Attr: store.AttrPath{Name: "userName"}, Op: "eq", Value: "x"}},
		{`externalid eq "x"`, store.Compare{Attr: store.AttrPath{Name: "externalId"}, Op: "eq", Value: "x"}},
		{`emails eq "x"`, store.Compare{Attr: store.AttrPath{Name: "emails", Sub: "value"}, Op: "eq", Value: "x"}},
		{`Emails.Value eq "x"`, store.Compare{Attr: store.AttrPath{Name: "emails", Sub: "value"}, Op: "eq", Value: "x"}},
		{`meta.lastmodified gt "2020-01-01T00:00:00Z"`, store.Compare{Attr: store.AttrPath{Name: "meta", Sub: "lastModified"}, Op: "gt", Value: "2020-01-01T00:00:00Z"}},
		{ent + `:Department eq "x"`, store.Compare{Attr: store.AttrPath{URN: ent, Name: "department"}, Op: "eq", Value: "x"}},
		{`active eq "True"`, store.Compare{Attr: store.AttrPath{Name: "active"}, Op: "eq", Value: true}},
		{`title pr`, store.Compare{Attr: store.AttrPath{Name: "title"}, Op: "pr"}},
		{`title eq "a\\b\"c"`, store.Compare{Attr: store.AttrPath{Name: "title"}, Op: "eq", Value: `a\b"c`}},
		{`emails[type eq "work"]`, store.ValuePath{Attr: store.AttrPath{Name: "emails"}, Filter: store.Compare{Attr: store.AttrPath{Name: "type"}, Op: "eq", Value: "work"}}},
		{`a.b eq "x" or title eq "y"`, nil},
		{`not(title eq "y") and userName ne "z"`, store.And{
			L: store.Not{X: store.Compare{Attr: store.AttrPath{Name: "title"}, Op: "eq", Value: "y"}},
			R: store.Compare{Attr: store.AttrPath{Name: "userName"}, Op: "ne", Value: "z"}}},
	}
	for _, tt := range tests {
		got, err := h.compileFilter(userType, tt.filter)
		if tt.want == nil {
			if err == nil {
				t.Errorf("compile %s: got %#v, want an error", tt.filter, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("compile %s\n got %#v %v\nwant %#v", tt.filter, got, err, tt.want)
		}
		parsed, err := parseFilter(userType, strings.TrimSpace(tt.filter))
		if err != nil || !reflect.DeepEqual(parsed, tt.want) {
			t.Errorf("parse %s\n got %#v %v\nwant %#v", tt.filter, parsed, err, tt.want)
		}
	}
}

func TestSimpleEq(t *testing.T) {
	tests := []struct {
		in          string
		name, value string
		ok          bool
	}{
		{`userName eq "bjensen"`, "userName", "bjensen", true},
		{`userName EQ "b j"`, "userName", "b j", true},
		{`emails.value eq "a@b.c"`, "emails.value", "a@b.c", true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"`, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "x", true},
		{`userName eq ""`, "userName", "", true},
		{`userName eq "a\"b"`, "", "", false},
		{`userName eq "a" and b eq "c"`, "", "", false},
		{`userName ne "a"`, "", "", false},
		{`userName eq 5`, "", "", false},
		{`userNameeq "a"`, "", "", false},
		{`userName eq"a"`, "", "", false},
		{`1userName eq "a"`, "", "", false},
		{`userName eq "a`, "", "", false},
		{`userName eq "`, "", "", false},
		{`emails[type eq "work"]`, "", "", false},
	}
	for _, tt := range tests {
		name, value, ok := simpleEq(tt.in)
		if name != tt.name || value != tt.value || ok != tt.ok {
			t.Errorf("simpleEq(%s) = %q, %q, %v; want %q, %q, %v", tt.in, name, value, ok, tt.name, tt.value, tt.ok)
		}
	}
}

func TestFilterCache(t *testing.T) {
	h := New(Deps{}).(*handler)
	for range 3 {
		if _, err := h.compileFilter(userType, `userName eq "fast"`); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.filters.len(); n != 0 {
		t.Errorf("the fast path filled the cache: %d entries", n)
	}
	for range 3 {
		_, _ = h.compileFilter(userType, `title co "x"`)
		_, _ = h.compileFilter(userType, `nope co "x"`)
		_, _ = h.compileFilter(groupType, `title co "x"`)
	}
	if n := h.filters.len(); n != 3 {
		t.Errorf("cache holds %d entries, want 3 (two users filters, one groups)", n)
	}
	small := newLRU[int](2)
	small.put("a", 1, nil)
	small.put("b", 2, nil)
	small.get("a")
	small.put("c", 3, nil)
	if _, ok := small.get("b"); ok {
		t.Errorf("least recently used entry not evicted")
	}
	if e, ok := small.get("a"); !ok || e.val != 1 {
		t.Errorf("recently used entry evicted")
	}
}

// TestFilterUserNameNFC: userName is stored in NFC, so a filter spelling
// the same login with a decomposed accent (e + U+0301, as macOS input
// and some HR exports produce) finds it, whichever way the filter is
// written: the IdP's plain lookup, a JSON escape, inside a conjunction,
// or as a prefix.
func TestFilterUserNameNFC(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("josé@example.com") // composed U+00E9
	e.createUser("jose@example.com")
	for _, f := range []string{
		"userName eq \"jose\u0301@example.com\"",
		`userName eq "jose\u0301@example.com"`, // the escape itself, as JSON writes it
		"userName eq \"JOSE\u0301@EXAMPLE.COM\"",
		"userName eq \"jose\u0301@example.com\" and active eq true",
		"userName sw \"jose\u0301\"",
	} {
		r := e.must(200, "GET", "/Users?filter="+url.QueryEscape(f), "")
		list := r.json(t)
		res, _ := list["Resources"].([]any)
		if len(res) != 1 || at(res[0], "id") != id {
			t.Errorf("filter %q\n got %s\nwant only josé (%s)", f, r.body, id)
		}
	}
}
