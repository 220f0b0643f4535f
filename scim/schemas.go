package scim

import (
	"slices"
	"strings"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/roster-scim/roster/store/filter"
)

// Schema and message URNs.
const (
	uriUser           = schema.UserSchema
	uriGroup          = schema.GroupSchema
	uriEnterprise     = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	uriRoster         = filter.RosterUserURN
	uriListResponse   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	uriPatchOp        = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	uriSearchRequest  = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	uriBulkRequest    = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	uriBulkResponse   = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
	uriError          = "urn:ietf:params:scim:api:messages:2.0:Error"
	uriSPConfig       = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	uriResourceType   = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	uriSchemaResource = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// RosterUserSchema is Roster's User extension
// (urn:ietf:params:scim:schemas:extension:roster:2.0:User): the fields
// the admin portal edits, writable by an IdP, and the user's licenses and
// devices, which only Roster changes.
func RosterUserSchema() schema.Schema {
	str := func(name, desc string) schema.SimpleParams {
		return schema.SimpleStringParams(schema.StringParams{Name: name, Description: optional.NewString(desc)})
	}
	readOnlyStr := func(name, desc string) schema.SimpleParams {
		return schema.SimpleStringParams(schema.StringParams{Name: name, Description: optional.NewString(desc), Mutability: schema.AttributeMutabilityReadOnly()})
	}
	return schema.Schema{
		ID:          uriRoster,
		Name:        optional.NewString("Roster User"),
		Description: optional.NewString("Roster licensing attributes of a User"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(str("notes", "A free-text note an administrator keeps about the user.")),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				Name:        "permissions",
				MultiValued: true,
				Description: optional.NewString("Application permissions granted to the user."),
			})),
			schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{
				Name:        "accountAdmin",
				Description: optional.NewString("Whether the user administers the enterprise account in the Roster portal."),
			})),
			schema.SimpleCoreAttribute(str("customerCode", "The customer code the user belongs to.")),
			schema.SimpleCoreAttribute(str("udid", "A device identifier recorded for the user.")),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name:        "licenses",
				MultiValued: true,
				Mutability:  schema.AttributeMutabilityReadOnly(),
				// Loaded from the licensing engine: returned when asked for.
				Returned:    schema.AttributeReturnedRequest(),
				Description: optional.NewString("The user's license seats, assigned directly or through groups."),
				SubAttributes: []schema.SimpleParams{
					readOnlyStr("value", "The product code of the license."),
					readOnlyStr("display", "The product name."),
					readOnlyStr("state", "active, waiting or suspended."),
				},
			}),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name:        "devices",
				MultiValued: true,
				Mutability:  schema.AttributeMutabilityReadOnly(),
				Returned:    schema.AttributeReturnedRequest(),
				Description: optional.NewString("Devices bound to the user's licenses."),
				SubAttributes: []schema.SimpleParams{
					readOnlyStr("value", "The device code."),
					readOnlyStr("display", "The device name."),
					readOnlyStr("state", "active or blocked."),
				},
			}),
		},
	}
}

// attrDef is an attribute definition in the shape this package walks:
// built once from the schema package's definitions.
type attrDef struct {
	name      string // canonical spelling
	key       string // name as a JSON key, `"name":` (jsonKey)
	typ       string // string, boolean, decimal, integer, dateTime, reference, complex, binary
	multi     bool
	mut       string // readWrite, readOnly, immutable, writeOnly
	returned  string // always, default, request, never
	caseExact bool
	subs      []*attrDef
}

func (a *attrDef) sub(name string) *attrDef {
	for _, s := range a.subs {
		if s.name == name {
			return s
		}
	}
	for _, s := range a.subs {
		if strings.EqualFold(s.name, name) {
			return s
		}
	}
	return nil
}

func (a *attrDef) complex() bool { return a.typ == "complex" }

func newAttrDef(ca schema.CoreAttribute) *attrDef {
	d := &attrDef{
		name:      ca.Name(),
		key:       jsonKey(ca.Name()),
		typ:       ca.AttributeType(),
		multi:     ca.MultiValued(),
		mut:       ca.Mutability(),
		returned:  ca.Returned(),
		caseExact: ca.CaseExact(),
	}
	for _, s := range ca.SubAttributes() {
		d.subs = append(d.subs, newAttrDef(s))
	}
	return d
}

// schemaDef is one schema (core or extension) with its attributes indexed
// by exact and by lower-cased name.
type schemaDef struct {
	urn   string
	lib   schema.Schema
	attrs []*attrDef
	exact map[string]*attrDef
	lower map[string]*attrDef
}

func newSchemaDef(s schema.Schema) *schemaDef {
	d := &schemaDef{urn: s.ID, lib: s, exact: map[string]*attrDef{}, lower: map[string]*attrDef{}}
	for _, ca := range s.Attributes {
		a := newAttrDef(ca)
		d.attrs = append(d.attrs, a)
		d.exact[a.name] = a
		d.lower[strings.ToLower(a.name)] = a
	}
	return d
}

func (s *schemaDef) attr(name string) *attrDef {
	if a := s.exact[name]; a != nil {
		return a
	}
	return s.lower[strings.ToLower(name)]
}

// resourceType is User or Group: its core schema, extensions and the
// common attributes (id, externalId, meta) every resource has.
type resourceType struct {
	name     string // "User"
	endpoint string // "/Users"
	core     *schemaDef
	exts     []*schemaDef
	common   *schemaDef
}

// ext finds an extension schema by URN, ignoring case.
func (rt *resourceType) ext(urn string) *schemaDef {
	for _, e := range rt.exts {
		if e.urn == urn { // the constants this package passes
			return e
		}
	}
	for _, e := range rt.exts {
		if strings.EqualFold(e.urn, urn) {
			return e
		}
	}
	return nil
}

// schemaFor returns the schema a URN names ("" is the core schema).
func (rt *resourceType) schemaFor(urn string) *schemaDef {
	if urn == "" || strings.EqualFold(urn, rt.core.urn) {
		return rt.core
	}
	return rt.ext(urn)
}

// lookup resolves an attribute of the schema urn names (core when "");
// the common attributes belong to the core schema.
func (rt *resourceType) lookup(urn, name string) (*schemaDef, *attrDef) {
	s := rt.schemaFor(urn)
	if s == nil {
		return nil, nil
	}
	if s == rt.core {
		if a := rt.common.attr(name); a != nil {
			return s, a
		}
	}
	if a := s.attr(name); a != nil {
		return s, a
	}
	return nil, nil
}

// splitURN splits "urn:…:User:name.sub" into the schema URN and the rest
// when it starts with one of rt's schema URNs followed by ':'.
func (rt *resourceType) splitURN(s string) (urn, rest string, ok bool) {
	if len(s) < 4 || !strings.EqualFold(s[:4], "urn:") {
		return "", s, false
	}
	for _, d := range append([]*schemaDef{rt.core}, rt.exts...) {
		if len(s) > len(d.urn) && s[len(d.urn)] == ':' && strings.EqualFold(s[:len(d.urn)], d.urn) {
			if d == rt.core {
				return "", s[len(d.urn)+1:], true
			}
			return d.urn, s[len(d.urn)+1:], true
		}
	}
	return "", s, false
}

var (
	userType  *resourceType
	groupType *resourceType
)

func init() {
	// Entra sends booleans as "True"/"False"; the schema package converts
	// them when this is on. It is process-wide, and every SCIM door in
	// Roster wants it.
	schema.SetAllowStringValues(true)

	common := newSchemaDef(schema.Schema{ID: "common", Attributes: schema.CommonAttributes()[1:]})

	coreUser := schema.CoreUserSchema()
	for i, a := range coreUser.Attributes {
		if a.Name() == "groups" {
			// Computing a user's groups costs a query per user; it is
			// returned when asked for, and /Schemas says so.
			coreUser.Attributes[i] = a.WithReturned(schema.AttributeReturnedRequest())
		}
	}
	userType = &resourceType{
		name:     "User",
		endpoint: "/Users",
		core:     newSchemaDef(coreUser),
		exts:     []*schemaDef{newSchemaDef(schema.ExtensionEnterpriseUser()), newSchemaDef(RosterUserSchema())},
		common:   common,
	}
	groupType = &resourceType{
		name:     "Group",
		endpoint: "/Groups",
		core:     newSchemaDef(schema.CoreGroupSchema()),
		common:   common,
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
