package scim

import (
	"reflect"
	"testing"
)

func TestServiceProviderConfig(t *testing.T) {
	e := newEnv(t, func(d *Deps) {
		d.Limits = Limits{MaxResults: 50, BulkMaxOperations: 7, BulkMaxPayloadBytes: 12345}
	})
	m := e.must(200, "GET", "/ServiceProviderConfig", "").json(t)
	for _, k := range []string{"patch", "changePassword", "sort", "etag", "filter", "bulk"} {
		if at(m, k, "supported") != true {
			t.Errorf("%s.supported = %v", k, at(m, k, "supported"))
		}
	}
	if at(m, "filter", "maxResults") != float64(50) || at(m, "bulk", "maxOperations") != float64(7) || at(m, "bulk", "maxPayloadSize") != float64(12345) {
		t.Errorf("limits not reported: %v", m)
	}
	if at(m, "authenticationSchemes", 0, "type") != "oauthbearertoken" {
		t.Errorf("authenticationSchemes = %v", m["authenticationSchemes"])
	}
	if !reflect.DeepEqual(m["schemas"], []any{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"}) {
		t.Errorf("schemas = %v", m["schemas"])
	}
}

func TestResourceTypesAndSchemas(t *testing.T) {
	e := newEnv(t)
	rts := e.must(200, "GET", "/ResourceTypes", "").json(t)
	if rts["totalResults"] != float64(2) {
		t.Fatalf("ResourceTypes = %v", rts)
	}
	user := e.must(200, "GET", "/ResourceTypes/User", "").json(t)
	if user["endpoint"] != "/Users" || user["schema"] != "urn:ietf:params:scim:schemas:core:2.0:User" {
		t.Errorf("User resource type = %v", user)
	}
	exts := map[any]bool{}
	for _, x := range asList(user["schemaExtensions"]) {
		exts[x.(map[string]any)["schema"]] = true
	}
	if !exts[entURN] || !exts[rosURN] {
		t.Errorf("schemaExtensions = %v", user["schemaExtensions"])
	}
	e.must(200, "GET", "/ResourceTypes/Group", "")
	e.must(404, "GET", "/ResourceTypes/Device", "")

	schemas := e.must(200, "GET", "/Schemas", "").json(t)
	if schemas["totalResults"] != float64(4) {
		t.Errorf("Schemas totalResults = %v", schemas["totalResults"])
	}
	roster := e.must(200, "GET", "/Schemas/"+rosURN, "").json(t)
	attrs := map[string]map[string]any{}
	for _, a := range asList(roster["attributes"]) {
		am := a.(map[string]any)
		attrs[am["name"].(string)] = am
	}
	for name, mut := range map[string]string{"notes": "readWrite", "permissions": "readWrite", "accountAdmin": "readWrite",
		"customerCode": "readWrite", "udid": "readWrite", "licenses": "readOnly", "devices": "readOnly"} {
		if attrs[name]["mutability"] != mut {
			t.Errorf("roster %s mutability = %v, want %s", name, attrs[name]["mutability"], mut)
		}
	}
	core := e.must(200, "GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", "").json(t)
	for _, a := range asList(core["attributes"]) {
		am := a.(map[string]any)
		switch am["name"] {
		case "password":
			if am["returned"] != "never" || am["mutability"] != "writeOnly" {
				t.Errorf("password = %v", am)
			}
		case "groups":
			if am["returned"] != "request" {
				t.Errorf("groups returned = %v, want request (it is computed only when asked for)", am["returned"])
			}
		}
	}
	e.must(200, "GET", "/Schemas/"+entURN, "")
	e.must(200, "GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", "")
	e.must(404, "GET", "/Schemas/urn:nope", "")
}
