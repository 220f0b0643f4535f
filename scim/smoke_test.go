package scim

import "testing"

func TestSmoke(t *testing.T) {
	e := newEnv(t)
	r := e.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"emails":[{"value":"b@example.com","type":"work","primary":true}],"active":"True","password":"secret","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`)
	t.Logf("%d %v %s", r.code, r.header, r.body)
	id := r.json(t)["id"].(string)
	r = e.must(200, "GET", "/Users/"+id, "")
	t.Logf("%s", r.body)
	r = e.must(200, "GET", `/Users?filter=userName+eq+%22BJENSEN%22`, "")
	t.Logf("%s", r.body)
	r = e.must(200, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@example.com"},{"op":"replace","value":{"active":"False","name.givenName":"Babs","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Eng"}}]}`)
	t.Logf("%s", r.body)
	g := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng","members":[{"value":"`+id+`"}]}`)
	t.Logf("%s", g.body)
	gid := g.json(t)["id"].(string)
	r = e.must(204, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"`+id+`"}]}]}`)
	t.Logf("%v", r.header)
	r = e.must(200, "GET", "/Groups/"+gid, "")
	t.Logf("%s", r.body)
	r = e.must(200, "GET", "/Users?attributes=userName,groups", "")
	t.Logf("%s", r.body)
	r = e.must(200, "GET", "/ServiceProviderConfig", "")
	t.Logf("%s", r.body)
}
