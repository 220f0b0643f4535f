package scim

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestPaging(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.Limits.MaxResults = 5 })
	var names []string
	for i := range 12 {
		n := fmt.Sprintf("user%02d", i)
		e.createUser(n)
		names = append(names, n)
	}
	tests := []struct {
		query               string
		total, items, start int
		first               string
	}{
		{"sortBy=userName", 12, 5, 1, "user00"},
		{"sortBy=userName&startIndex=1&count=3", 12, 3, 1, "user00"},
		{"sortBy=userName&startIndex=4&count=3", 12, 3, 4, "user03"},
		{"sortBy=userName&startIndex=11&count=3", 12, 2, 11, "user10"},
		{"startIndex=13&count=3", 12, 0, 13, ""},
		{"sortBy=userName&startIndex=0&count=2", 12, 2, 1, "user00"},
		{"sortBy=userName&startIndex=-5&count=2", 12, 2, 1, "user00"},
		{"sortBy=userName&count=100", 12, 5, 1, "user00"},
		{"count=0", 12, 0, 1, ""},
		{"count=-1", 12, 0, 1, ""},
		{"sortBy=userName&sortOrder=descending&count=2", 12, 2, 1, "user11"},
		{"sortBy=USERNAME&sortOrder=Descending&count=2&startIndex=3", 12, 2, 3, "user09"},
		{"sortBy=userName&filter=" + url.QueryEscape(`userName sw "user1"`) + "&count=1", 2, 1, 1, "user10"},
		// The lookup by userName (one user or none).
		{"filter=" + url.QueryEscape(`userName eq "USER03"`), 1, 1, 1, "user03"},
		{"filter=" + url.QueryEscape(`userName eq "user03"`) + "&sortBy=userName&sortOrder=descending", 1, 1, 1, "user03"},
		{"filter=" + url.QueryEscape(`userName eq "user03"`) + "&startIndex=2", 1, 0, 2, ""},
		{"filter=" + url.QueryEscape(`userName eq "user03"`) + "&count=0", 1, 0, 1, ""},
		{"filter=" + url.QueryEscape(`userName eq "user03"`) + "&count=1&attributes=displayName", 1, 1, 1, ""},
		{"filter=" + url.QueryEscape(`userName eq "nobody"`), 0, 0, 1, ""},
		{"filter=" + url.QueryEscape(`userName eq "user03"`) + "&startIndex=5", 1, 0, 5, ""},
	}
	for _, tt := range tests {
		r := e.must(200, "GET", "/Users?"+tt.query, "")
		m := r.json(t)
		res, _ := m["Resources"].([]any)
		if m["totalResults"] != float64(tt.total) || m["itemsPerPage"] != float64(tt.items) || m["startIndex"] != float64(tt.start) || len(res) != tt.items {
			t.Errorf("GET /Users?%s\n got total %v items %v start %v (%d resources)\nwant %d %d %d", tt.query, m["totalResults"], m["itemsPerPage"], m["startIndex"], len(res), tt.total, tt.items, tt.start)
		}
		if tt.first != "" && at(res, 0, "userName") != tt.first {
			t.Errorf("GET /Users?%s: first = %v, want %s", tt.query, at(res, 0, "userName"), tt.first)
		}
	}
	// Walking the pages (in the default order, by id) sees every user
	// once.
	var seen []string
	for start := 1; ; start += 5 {
		m := e.must(200, "GET", fmt.Sprintf("/Users?startIndex=%d&count=5&attributes=userName", start), "").json(t)
		res, _ := m["Resources"].([]any)
		if len(res) == 0 {
			break
		}
		for _, r := range res {
			seen = append(seen, r.(map[string]any)["userName"].(string))
		}
	}
	slices.Sort(seen)
	if !slices.Equal(seen, names) {
		t.Errorf("pages = %v, want %v", seen, names)
	}
	for _, q := range []string{"startIndex=x", "count=1.5", "sortOrder=sideways", "sortBy=nope", "sortBy=name"} {
		checkErrorBody(t, e.do("GET", "/Users?"+q, ""), 400, "invalidValue")
	}
}

func TestSortBy(t *testing.T) {
	e := newEnv(t)
	for _, b := range []string{
		`{"userName":"c","name":{"familyName":"Alpha"},"emails":[{"value":"z@x.com"}]}`,
		`{"userName":"a","name":{"familyName":"Charlie"},"emails":[{"value":"y@x.com"}]}`,
		`{"userName":"b","name":{"familyName":"bravo"},"emails":[{"value":"x@x.com","primary":true}]}`,
	} {
		e.must(201, "POST", "/Users", `{`+userSchema+`,`+b[1:])
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"sortBy=userName", []string{"a", "b", "c"}},
		{"sortBy=name.familyName", []string{"c", "b", "a"}},
		{"sortBy=name.familyName&sortOrder=descending", []string{"a", "b", "c"}},
		{"sortBy=emails", []string{"b", "a", "c"}},
		{"sortBy=emails.value&sortOrder=descending", []string{"c", "a", "b"}},
	} {
		m := e.must(200, "GET", "/Users?attributes=userName&"+tt.query, "").json(t)
		var got []string
		for _, r := range m["Resources"].([]any) {
			got = append(got, r.(map[string]any)["userName"].(string))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.query, got, tt.want)
		}
	}
}

func TestProjection(t *testing.T) {
	e := newEnv(t)
	r := e.must(201, "POST", "/Users", fullUser)
	id := r.json(t)["id"].(string)
	gid := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"`+id+`"}]}`).json(t)["id"].(string)
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	const ros = "urn:ietf:params:scim:schemas:extension:roster:2.0:User"
	tests := []struct {
		query string
		keys  []string // top-level keys of the user
		check func(m map[string]any) string
	}{
		{"attributes=userName", []string{"id", "schemas", "userName"}, nil},
		{"attributes=USERNAME,displayName", []string{"displayName", "id", "schemas", "userName"}, nil},
		{"attributes=name.givenName,emails.value", []string{"emails", "id", "name", "schemas"}, func(m map[string]any) string {
			if !reflect.DeepEqual(m["name"], map[string]any{"givenName": "Barbara"}) {
				return fmt.Sprint("name = ", m["name"])
			}
			if !reflect.DeepEqual(m["emails"], []any{map[string]any{"value": "bjensen@example.com"}, map[string]any{"value": "babs@jensen.org"}}) {
				return fmt.Sprint("emails = ", m["emails"])
			}
			return ""
		}},
		{"attributes=" + ent + ":department", []string{ent, "id", "schemas"}, func(m map[string]any) string {
			if !reflect.DeepEqual(m[ent], map[string]any{"department": "Tour Operations"}) {
				return fmt.Sprint(m[ent])
			}
			return ""
		}},
		{"attributes=" + ros, []string{ros, "id", "schemas"}, nil},
		{"attributes=meta.version,groups", []string{"groups", "id", "meta", "schemas"}, func(m map[string]any) string {
			if !reflect.DeepEqual(m["meta"], map[string]any{"version": `W/"1"`}) {
				return fmt.Sprint("meta = ", m["meta"])
			}
			if at(m, "groups", 0, "value") != gid || at(m, "groups", 0, "display") != "G" || at(m, "groups", 0, "$ref") != testBase+"/Groups/"+gid {
				return fmt.Sprint("groups = ", m["groups"])
			}
			return ""
		}},
		{"attributes=urn:ietf:params:scim:schemas:core:2.0:User:userName", []string{"id", "schemas", "userName"}, nil},
		{"attributes=nope,userName", []string{"id", "schemas", "userName"}, nil},
		{"excludedAttributes=emails,name,meta,addresses,phoneNumbers,ims,photos,entitlements,roles,x509Certificates," + ent + "," + ros,
			[]string{"active", "displayName", "externalId", "id", "locale", "nickName", "preferredLanguage", "profileUrl", "schemas", "timezone", "title", "userName", "userType"}, nil},
		{"excludedAttributes=id,schemas,userName", nil, func(m map[string]any) string {
			if m["id"] == nil || m["schemas"] == nil || m["userName"] != nil {
				return "id and schemas are always returned; userName may be excluded"
			}
			return ""
		}},
		{"excludedAttributes=name.givenName", nil, func(m map[string]any) string {
			if !reflect.DeepEqual(m["name"].(map[string]any)["givenName"], nil) || m["name"].(map[string]any)["familyName"] != "Jensen" {
				return fmt.Sprint("name = ", m["name"])
			}
			return ""
		}},
		{"attributes=userName&excludedAttributes=userName", []string{"id", "schemas", "userName"}, nil},
	}
	for _, tt := range tests {
		for _, path := range []string{"/Users/" + id + "?" + tt.query, "/Users?" + tt.query} {
			m := e.must(200, "GET", path, "").json(t)
			if strings.HasPrefix(path, "/Users?") {
				m = at(m, "Resources", 0).(map[string]any)
			}
			if tt.keys != nil {
				sort.Strings(tt.keys)
				var keys []string
				for k := range m {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				if !slices.Equal(keys, tt.keys) {
					t.Errorf("GET %s\n got keys %v\nwant %v", path, keys, tt.keys)
				}
			}
			if tt.check != nil {
				if msg := tt.check(m); msg != "" {
					t.Errorf("GET %s: %s", path, msg)
				}
			}
		}
	}
	// POST/PUT/PATCH answer with the projection asked for, too.
	m := e.must(200, "PATCH", "/Users/"+id+"?attributes=title", `{"Operations":[{"op":"replace","path":"title","value":"T"}]}`).json(t)
	if len(m) != 3 || m["title"] != "T" {
		t.Errorf("PATCH ?attributes=title: %v", m)
	}
	m = e.must(200, "GET", "/Groups/"+gid+"?attributes=members.display", "").json(t)
	if !reflect.DeepEqual(m["members"], []any{map[string]any{"display": "bjensen@example.com"}}) {
		t.Errorf("members.display: %v", m)
	}
}

func TestSearch(t *testing.T) {
	e := newEnv(t)
	seedFilterUsers(e)
	e.createGroup("alpha")
	e.createGroup("beta")
	tests := []struct {
		path, body string
		total      int
		kinds      []string // resourceType of each result
	}{
		{"/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName sw \"a\"","attributes":["userName"]}`, 1, []string{"User"}},
		{"/Users/.search", `{"sortBy":"userName","sortOrder":"descending","startIndex":2,"count":1}`, 3, []string{"User"}},
		{"/Groups/.search", `{"filter":"displayName eq \"beta\""}`, 1, []string{"Group"}},
		{"/.search", `{}`, 5, []string{"User", "User", "User", "Group", "Group"}},
		{"/.search", `{"count":2,"startIndex":3}`, 5, []string{"User", "Group"}},
		{"/.search", `{"count":0}`, 5, nil},
		// displayName is an attribute of both; userName only of users.
		{"/.search", `{"filter":"displayName sw \"a\""}`, 2, []string{"User", "Group"}},
		{"/.search", `{"filter":"userName eq \"bob\""}`, 1, []string{"User"}},
		{"/.search", `{"filter":"displayName eq \"beta\"","attributes":["meta.resourceType"]}`, 1, []string{"Group"}},
	}
	for _, tt := range tests {
		m := e.must(200, "POST", tt.path, tt.body).json(t)
		var kinds []string
		res, _ := m["Resources"].([]any)
		for _, r := range res {
			kind, _ := at(r, "meta", "resourceType").(string)
			if kind == "" && at(r, "userName") != nil {
				kind = "User"
			}
			kinds = append(kinds, kind)
		}
		if m["totalResults"] != float64(tt.total) || !slices.Equal(kinds, tt.kinds) {
			t.Errorf("POST %s %s\n got total %v kinds %v\nwant %d %v", tt.path, tt.body, m["totalResults"], kinds, tt.total, tt.kinds)
		}
	}
	checkErrorBody(t, e.do("POST", "/.search", `{"filter":"nope eq \"x\""}`), 400, "invalidFilter")
	checkErrorBody(t, e.do("POST", "/.search", `{"filter":""}`), 400, "invalidFilter")
	checkErrorBody(t, e.do("POST", "/Users/.search", `{"count":"x"}`), 400, "invalidSyntax")
	checkErrorBody(t, e.do("POST", "/Users/.search", `nope`), 400, "invalidSyntax")
}
