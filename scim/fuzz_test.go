package scim

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzFilter sends arbitrary filters to list and search endpoints: any
// input must be answered, and never with a 5xx (the library's evaluator
// panics on some; ours must not).
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen"`,
		`emails co "x"`,
		`emails[type eq "work" and value ew "@x.com"]`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`,
		`not (active eq true) or title pr`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`,
		`members[value eq "x"]`,
		`name.familyName sw "J"`,
		`userName eq "a\"b"`,
		`((((userName pr))))`,
		`x[y[z eq 1]]`,
		`active gt true`,
		"userName eq \"\xff\"",
	} {
		f.Add(s)
	}
	e := newEnv(f)
	seedFilterUsers(e)
	e.createGroup("fuzz group")
	f.Fuzz(func(t *testing.T, filter string) {
		e := e.with(t)
		q := url.QueryEscape(filter)
		for _, r := range []resp{
			e.do("GET", "/Users?filter="+q, ""),
			e.do("GET", "/Groups?filter="+q+"&sortBy="+q, ""),
			e.do("POST", "/.search", `{"filter":`+jsonString(filter)+`,"attributes":[`+jsonString(filter)+`]}`),
			e.do("PATCH", "/Users/none", `{"Operations":[{"op":"remove","path":`+jsonString(filter)+`}]}`),
		} {
			if r.code >= 500 || r.code == 0 {
				t.Fatalf("filter %q: %d %s", filter, r.code, r.body)
			}
			if r.code >= 400 && !strings.Contains(r.body, `"status"`) {
				t.Fatalf("filter %q: error without a SCIM body: %d %s", filter, r.code, r.body)
			}
		}
	})
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// FuzzPatch sends arbitrary PATCH bodies to a user and a group: any input
// must be answered, never with a 5xx, and a user PATCH that succeeds must
// leave a user that reads back.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		ops(`{"op":"replace","path":"title","value":"x"}`),
		ops(`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@x.com"}`),
		ops(`{"op":"add","path":"emails","value":[{"value":"a@b.c","primary":"True"}]}`),
		ops(`{"op":"remove","path":"emails[type eq \"home\"]"}`),
		ops(`{"op":"replace","value":{"active":"False","name.givenName":"G","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"D"}}`),
		ops(`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m"}`),
		ops(`{"op":"Remove","path":"members","value":[{"value":"x"}]}`),
		ops(`{"op":"add","path":"members","value":[{"value":"x"}]}`),
		ops(`{"op":"remove","path":"members[value eq \"x\" or value eq \"y\"]"}`),
		ops(`{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:roster:2.0:User:permissions","value":["a",1]}`),
		ops(`{"op":"add","path":"addresses[type eq \"work\"].locality","value":{"deep":[[[]]]}}`),
		ops(`{"op":"replace","path":"name","value":"x"}`),
		`{"Operations":[{"op":"add","value":{"emails":{"value":5}}}]}`,
		`{"Operations":null}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f)
	ids := seedFilterUsers(e)
	user := ids["alice"]
	group := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"fuzz","members":[{"value":"`+ids["bob"]+`"}]}`).json(f)["id"].(string)
	f.Fuzz(func(t *testing.T, body []byte) {
		e := e.with(t)
		for _, path := range []string{"/Users/" + user, "/Groups/" + group, "/Groups/" + group + "?attributes=displayName"} {
			r := e.do("PATCH", path, string(body))
			if r.code >= 500 || r.code == 0 {
				t.Fatalf("PATCH %s %q: %d %s", path, body, r.code, r.body)
			}
			if r.code >= 400 && !strings.Contains(r.body, `"status"`) {
				t.Fatalf("PATCH %s %q: error without a SCIM body: %d %s", path, body, r.code, r.body)
			}
		}
		if r := e.do("GET", "/Users/"+user, ""); r.code != 200 {
			t.Fatalf("after PATCH %q the user does not read back: %d %s", body, r.code, r.body)
		}
	})
}
