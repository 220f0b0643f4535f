package scim

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func bulkBody(failOnErrors string, ops ...string) string {
	f := ""
	if failOnErrors != "" {
		f = `"failOnErrors":` + failOnErrors + `,`
	}
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],` + f + `"Operations":[` + strings.Join(ops, ",") + `]}`
}

func bulkUser(bulkID, userName string) string {
	return `{"method":"POST","path":"/Users","bulkId":"` + bulkID + `","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + userName + `"}}`
}

// bulkStatuses returns "bulkId or method path: status" of each result.
func bulkStatuses(m map[string]any) []string {
	var out []string
	for _, op := range asList(m["Operations"]) {
		o := op.(map[string]any)
		name, _ := o["bulkId"].(string)
		if name == "" {
			name = o["method"].(string)
		}
		out = append(out, fmt.Sprintf("%s:%v", name, o["status"]))
	}
	return out
}

func TestBulk(t *testing.T) {
	e := newEnv(t)
	// The group comes first but names users created later in the request.
	r := e.must(200, "POST", "/Bulk", bulkBody("",
		`{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Bulk","members":[{"value":"bulkId:u1"},{"value":"bulkId:u2","type":"User"}]}}`,
		bulkUser("u1", "bulk1"),
		`{"method":"POST","path":"/Users","bulkId":"u2","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bulk2","password":"hunter2-hunter2",
		  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"bulkId:u1"}}}}`,
		`{"method":"PATCH","path":"/Users/bulkId:u1","bulkId":"p","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Bulked"}]}}`,
	))
	m := r.json(t)
	if got, want := bulkStatuses(m), []string{"g:201", "u1:201", "u2:201", "p:200"}; !slices.Equal(got, want) {
		t.Fatalf("statuses = %v, want %v\n%s", got, want, r.body)
	}
	if strings.Contains(r.body, "hunter2") || strings.Contains(strings.ToLower(r.body), "password") {
		t.Errorf("bulk response reveals a password: %s", r.body)
	}
	loc := func(i int) string { return at(m, "Operations", i, "location").(string) }
	id := func(i int) string { return loc(i)[strings.LastIndexByte(loc(i), '/')+1:] }
	if !strings.HasPrefix(loc(0), testBase+"/Groups/") || !strings.HasPrefix(loc(1), testBase+"/Users/") {
		t.Errorf("locations: %s", r.body)
	}
	if at(m, "Operations", 1, "version") != `W/"1"` || at(m, "Operations", 3, "version") != `W/"2"` {
		t.Errorf("versions: %s", r.body)
	}
	g := e.must(200, "GET", "/Groups/"+id(0), "").json(t)
	var members []string
	for _, x := range asList(g["members"]) {
		members = append(members, x.(map[string]any)["value"].(string))
	}
	slices.Sort(members)
	want := []string{id(1), id(2)}
	slices.Sort(want)
	if !slices.Equal(members, want) {
		t.Errorf("group members = %v, want %v", members, want)
	}
	u2 := e.must(200, "GET", "/Users/"+id(2), "").json(t)
	if at(u2, entURN, "manager", "value") != id(1) {
		t.Errorf("manager bulkId not resolved: %v", u2)
	}
	if e.must(200, "GET", "/Users/"+id(1), "").json(t)["title"] != "Bulked" {
		t.Errorf("PATCH by bulkId path did not land")
	}

	// version is If-Match; DELETE answers 204.
	r = e.must(200, "POST", "/Bulk", bulkBody("",
		`{"method":"PUT","path":"/Users/`+id(1)+`","version":"W/\"9\"","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bulk1"}}`,
		`{"method":"DELETE","path":"/Users/`+id(1)+`","version":"W/\"2\""}`,
		`{"method":"delete","path":"/Groups/`+id(0)+`"}`,
	))
	if got, want := bulkStatuses(r.json(t)), []string{"PUT:412", "DELETE:204", "DELETE:204"}; !slices.Equal(got, want) {
		t.Errorf("statuses = %v, want %v\n%s", got, want, r.body)
	}
	if at(r.json(t), "Operations", 0, "response", "status") != "412" {
		t.Errorf("a failed operation carries its SCIM error: %s", r.body)
	}
}

func TestBulkErrors(t *testing.T) {
	e := newEnv(t, func(d *Deps) {
		d.Limits.BulkMaxOperations = 5
		d.Limits.BulkMaxPayloadBytes = 4000
	})
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"circular references", bulkBody("",
			`{"method":"POST","path":"/Groups","bulkId":"a","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"A","members":[{"value":"bulkId:b"}]}}`,
			`{"method":"POST","path":"/Groups","bulkId":"b","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"B","members":[{"value":"bulkId:a"}]}}`,
			bulkUser("c", "c1")),
			[]string{"a:409", "b:409", "c:201"}},
		{"self reference", bulkBody("",
			`{"method":"POST","path":"/Groups","bulkId":"s","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"S","members":[{"value":"bulkId:s"}]}}`),
			[]string{"s:409"}},
		{"undefined reference", bulkBody("",
			`{"method":"PATCH","path":"/Users/bulkId:nope","bulkId":"x","data":{"Operations":[{"op":"replace","path":"title","value":"t"}]}}`),
			[]string{"x:400"}},
		{"failed dependency", bulkBody("",
			bulkUser("dup1", "dup"), bulkUser("dup2", "dup"),
			`{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"bulkId:dup2"}]}}`),
			[]string{"dup1:201", "dup2:409", "g:409"}},
		{"failOnErrors stops", bulkBody("1",
			bulkUser("f1", "dup"), bulkUser("f2", "f2"), bulkUser("f3", "f3")),
			[]string{"f1:409"}},
		{"failOnErrors 2", bulkBody("2",
			bulkUser("h1", "dup"), bulkUser("h2", "h2"), bulkUser("h3", "dup"), bulkUser("h4", "h4")),
			[]string{"h1:409", "h2:201", "h3:409"}},
		{"duplicate bulkId", bulkBody("", bulkUser("d", "d1"), bulkUser("d", "d2")),
			[]string{"d:201", "d:400"}},
		{"bad method", bulkBody("", `{"method":"GET","path":"/Users","bulkId":"m"}`), []string{"m:400"}},
		{"bad path", bulkBody("", `{"method":"POST","path":"/Bulk","bulkId":"p","data":{}}`, `{"method":"POST","path":"Users","bulkId":"q","data":{}}`), []string{"p:400", "q:400"}},
		{"missing data", bulkBody("", `{"method":"POST","path":"/Users","bulkId":"n"}`), []string{"n:400"}},
		{"invalid resource", bulkBody("", `{"method":"POST","path":"/Users","bulkId":"i","data":{"userName":"x"}}`), []string{"i:400"}},
	}
	for _, tt := range tests {
		r := e.must(200, "POST", "/Bulk", tt.body)
		if got := bulkStatuses(r.json(t)); !slices.Equal(got, tt.want) {
			t.Errorf("%s\n got %v\nwant %v\n%s", tt.name, got, tt.want, r.body)
		}
	}
	var five []string
	for i := range 6 {
		five = append(five, bulkUser(fmt.Sprint(i), fmt.Sprint("many", i)))
	}
	checkErrorBody(t, e.must(413, "POST", "/Bulk", bulkBody("", five...)), 413, "")
	big := bulkBody("", `{"method":"POST","path":"/Users","bulkId":"big","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"big","title":"`+strings.Repeat("x", 4000)+`"}}`)
	r := e.must(413, "POST", "/Bulk", big)
	checkErrorBody(t, r, 413, "")
	if !strings.Contains(r.body, "maxPayloadSize") {
		t.Errorf("413 does not say which limit: %s", r.body)
	}
	checkErrorBody(t, e.must(400, "POST", "/Bulk", `{"schemas":["urn:x"],"Operations":[]}`), 400, "invalidSyntax")
	checkErrorBody(t, e.must(400, "POST", "/Bulk", bulkBody("")), 400, "invalidSyntax")
	checkErrorBody(t, e.must(400, "POST", "/Bulk", `{"Operations":{}}`), 400, "invalidSyntax")
}
