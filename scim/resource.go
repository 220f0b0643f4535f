package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
	"github.com/roster-scim/roster/store"
)

// decodeObject parses a request body that must be one JSON object.
// Numbers stay json.Number so values kept verbatim are not rounded.
func decodeObject(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	// Into an interface, not a map: encoding/json then builds the maps and
	// slices itself instead of through reflection, two to three times
	// faster, with the same values (TestDecodeObjectAsIntoMap).
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, badRequest(typeInvalidSyntax, "request body is not a JSON object")
	}
	m, _ := v.(map[string]any)
	if m == nil {
		return nil, badRequest(typeInvalidSyntax, "request body is not a JSON object")
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, badRequest(typeInvalidSyntax, "unexpected data after the JSON object")
	}
	return m, nil
}

// doc is a resource as this package edits it: core and common attributes
// at the top level, each extension's attributes in an object under its
// schema URN. Client bodies become docs through splitBody; PATCH edits
// the doc of the stored record; validateDoc turns either into canonical,
// type-checked values.
type doc = map[string]any

// checkSchemas requires the "schemas" attribute RFC 7643 §3 makes
// mandatory, naming rt's core schema (ignoring case: some clients vary).
func checkSchemas(rt *resourceType, body map[string]any) error {
	v, ok := lookupKey(body, "schemas")
	if !ok {
		return badRequest(typeInvalidSyntax, "schemas is required and must include %s", rt.core.urn)
	}
	list, ok := v.([]any)
	if !ok {
		return badRequest(typeInvalidSyntax, "schemas must be an array of schema URNs")
	}
	for _, s := range list {
		if s, ok := s.(string); ok && strings.EqualFold(s, rt.core.urn) {
			return nil
		}
	}
	return badRequest(typeInvalidSyntax, "schemas must include %s", rt.core.urn)
}

// splitBody turns a client body into a doc: extension objects move under
// their canonical URN, and URN-qualified attribute keys
// ("urn:…:enterprise:2.0:User:department", as Entra writes them) move
// into their schema's object.
func splitBody(rt *resourceType, body map[string]any) (doc, error) {
	d := make(doc, len(body))
	for k, v := range body {
		if e := rt.ext(k); e != nil {
			m, ok := v.(map[string]any)
			if !ok {
				if v == nil {
					continue
				}
				return nil, badRequest(typeInvalidSyntax, "%s must be an object", e.urn)
			}
			target := extObject(d, e.urn)
			for sk, sv := range m {
				target[sk] = sv
			}
			continue
		}
		if urn, rest, ok := rt.splitURN(k); ok {
			if urn == "" {
				d[rest] = v
			} else {
				extObject(d, urn)[rest] = v
			}
			continue
		}
		d[k] = v
	}
	return d, nil
}

func extObject(d doc, urn string) map[string]any {
	if m, ok := d[urn].(map[string]any); ok {
		return m
	}
	m := map[string]any{}
	d[urn] = m
	return m
}

// validated is a doc after schema validation: canonical attribute names,
// values of the declared types (Entra's "True" is true), readOnly
// attributes dropped.
type validated struct {
	externalID string
	core       map[string]any
	exts       map[string]map[string]any
}

func validateDoc(rt *resourceType, d doc) (*validated, error) {
	v := &validated{exts: map[string]map[string]any{}}
	core := make(map[string]any, len(d))
	for k, val := range d {
		if e := rt.ext(k); e != nil {
			m, _ := val.(map[string]any)
			if len(m) == 0 {
				continue
			}
			wrapSingles(e, m)
			vm, serr := e.lib.ValidateExtension(m)
			if serr != nil {
				return nil, schemaError(e, m, serr)
			}
			if len(vm) > 0 {
				v.exts[e.urn] = vm
			}
			continue
		}
		if strings.EqualFold(k, "externalId") {
			switch x := val.(type) {
			case string:
				v.externalID = x
			case nil:
			default:
				return nil, badRequest(typeInvalidValue, "externalId must be a string")
			}
			continue
		}
		core[k] = val
	}
	wrapSingles(rt.core, core)
	vc, serr := rt.core.lib.ValidateExtension(core)
	if serr != nil {
		return nil, schemaError(rt.core, core, serr)
	}
	v.core = vc
	return v, nil
}

// schemaError turns the schema package's error, which does not say which
// attribute failed, into one that does, by validating attributes one at a
// time (only on this error path).
func schemaError(s *schemaDef, m map[string]any, serr *scimerrors.ScimError) error {
	scimType := string(serr.ScimType)
	if scimType == "" {
		scimType = typeInvalidValue
	}
	for _, ca := range s.lib.Attributes {
		one := schema.Schema{ID: s.urn, Attributes: []schema.CoreAttribute{ca}}
		sub := map[string]any{}
		for k, v := range m {
			if strings.EqualFold(k, ca.Name()) {
				sub[k] = v
			}
		}
		if _, err := one.ValidateExtension(sub); err != nil {
			name := ca.Name()
			if s.urn != userType.core.urn && s.urn != groupType.core.urn {
				name = s.urn + ":" + name
			}
			if ca.Required() && len(sub) == 0 {
				return badRequest(typeInvalidValue, "%s is required", name)
			}
			return badRequest(scimType, "invalid value for %s", name)
		}
	}
	return badRequest(scimType, "the resource does not conform to schema %s", s.urn)
}

// wrapSingles turns a lone object given for a multi-valued attribute into
// a one-element list: the schema package would otherwise pass it through
// unvalidated.
func wrapSingles(s *schemaDef, m map[string]any) {
	for k, v := range m {
		if a := s.attr(k); a != nil && a.multi {
			if _, isList := v.([]any); !isList && v != nil {
				m[k] = []any{v}
			}
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func boolean(v any) bool {
	b, _ := v.(bool)
	return b
}

// setUser replaces every client-writable field of u with v (PUT
// semantics; PATCH builds v from the full patched document). Identity,
// version, password hash and activation are left to the caller.
func setUser(u *store.User, v *validated) error {
	c := v.core
	u.ExternalID = v.externalID
	// NFC: "é" typed as one code point or as e + combining accent is one
	// login, as a person reading it would expect.
	u.UserName = norm.NFC.String(str(c["userName"]))
	if strings.TrimSpace(u.UserName) == "" {
		return badRequest(typeInvalidValue, "userName is required")
	}
	if len(u.UserName) > maxUserName {
		return badRequest(typeInvalidValue, "userName is longer than %d bytes", maxUserName)
	}
	if strings.IndexFunc(u.UserName, unicode.IsControl) >= 0 {
		return badRequest(typeInvalidValue, "userName contains a control character")
	}
	n, _ := c["name"].(map[string]any)
	u.Name = store.Name{
		Formatted:       str(n["formatted"]),
		FamilyName:      str(n["familyName"]),
		GivenName:       str(n["givenName"]),
		MiddleName:      str(n["middleName"]),
		HonorificPrefix: str(n["honorificPrefix"]),
		HonorificSuffix: str(n["honorificSuffix"]),
	}
	u.DisplayName = str(c["displayName"])
	u.NickName = str(c["nickName"])
	u.ProfileURL = str(c["profileUrl"])
	u.Title = str(c["title"])
	u.UserType = str(c["userType"])
	u.PreferredLanguage = str(c["preferredLanguage"])
	u.Locale = str(c["locale"])
	u.Timezone = str(c["timezone"])
	// RFC 7643 leaves active's default to the provider; a user an IdP
	// creates without it is meant to be able to work.
	u.Active = true
	if a, ok := c["active"].(bool); ok {
		u.Active = a
	}
	u.Emails = multiValues(c["emails"])
	u.PhoneNumbers = multiValues(c["phoneNumbers"])

	u.Extra = nil
	for _, a := range userType.core.attrs {
		switch a.name {
		case "userName", "name", "displayName", "nickName", "profileUrl", "title", "userType",
			"preferredLanguage", "locale", "timezone", "active", "emails", "phoneNumbers", "password", "groups":
			continue
		}
		if val, ok := c[a.name]; ok && !isEmptyValue(val) {
			setExtra(&u.Extra, a.name, val)
		}
	}
	if ent := v.exts[uriEnterprise]; len(ent) > 0 {
		setExtra(&u.Extra, uriEnterprise, ent)
	}
	r := v.exts[uriRoster]
	u.Notes = str(r["notes"])
	u.Permissions = nil
	if list, ok := r["permissions"].([]any); ok {
		for _, p := range list {
			if s := str(p); s != "" {
				u.Permissions = append(u.Permissions, s)
			}
		}
	}
	u.AccountAdmin = boolean(r["accountAdmin"])
	u.CustomerCode = str(r["customerCode"])
	u.UDID = str(r["udid"])
	return nil
}

func setExtra(m *map[string]any, k string, v any) {
	if *m == nil {
		*m = map[string]any{}
	}
	(*m)[k] = v
}

func multiValues(v any) []store.MultiValue {
	list, _ := v.([]any)
	var out []store.MultiValue
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		mv := store.MultiValue{
			Value:   str(m["value"]),
			Display: str(m["display"]),
			Type:    str(m["type"]),
			Primary: boolean(m["primary"]),
		}
		if mv != (store.MultiValue{}) {
			out = append(out, mv)
		}
	}
	return out
}

// userDoc is the doc of a stored user, the starting point of a PATCH.
// Maps and slices are fresh, so the patch can edit them in place.
func userDoc(u *store.User) doc {
	d := doc{}
	if u.ExternalID != "" {
		d["externalId"] = u.ExternalID
	}
	d["userName"] = u.UserName
	if u.Name != (store.Name{}) {
		n := map[string]any{}
		putStr(n, "formatted", u.Name.Formatted)
		putStr(n, "familyName", u.Name.FamilyName)
		putStr(n, "givenName", u.Name.GivenName)
		putStr(n, "middleName", u.Name.MiddleName)
		putStr(n, "honorificPrefix", u.Name.HonorificPrefix)
		putStr(n, "honorificSuffix", u.Name.HonorificSuffix)
		d["name"] = n
	}
	putStr(d, "displayName", u.DisplayName)
	putStr(d, "nickName", u.NickName)
	putStr(d, "profileUrl", u.ProfileURL)
	putStr(d, "title", u.Title)
	putStr(d, "userType", u.UserType)
	putStr(d, "preferredLanguage", u.PreferredLanguage)
	putStr(d, "locale", u.Locale)
	putStr(d, "timezone", u.Timezone)
	d["active"] = u.Active
	if len(u.Emails) > 0 {
		d["emails"] = multiValueDocs(u.Emails)
	}
	if len(u.PhoneNumbers) > 0 {
		d["phoneNumbers"] = multiValueDocs(u.PhoneNumbers)
	}
	for k, v := range u.Extra {
		d[k] = deepCopy(v)
	}
	if userHasRoster(u) {
		r := map[string]any{}
		putStr(r, "notes", u.Notes)
		if len(u.Permissions) > 0 {
			perms := make([]any, len(u.Permissions))
			for i, p := range u.Permissions {
				perms[i] = p
			}
			r["permissions"] = perms
		}
		r["accountAdmin"] = u.AccountAdmin
		putStr(r, "customerCode", u.CustomerCode)
		putStr(r, "udid", u.UDID)
		d[uriRoster] = r
	}
	return d
}

func putStr(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func multiValueDocs(mvs []store.MultiValue) []any {
	out := make([]any, len(mvs))
	for i, mv := range mvs {
		m := map[string]any{}
		putStr(m, "value", mv.Value)
		putStr(m, "display", mv.Display)
		putStr(m, "type", mv.Type)
		if mv.Primary {
			m["primary"] = true
		}
		out[i] = m
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// setGroup replaces the client-writable fields of g with v and returns
// the member list v carries (nil when members was not given).
func setGroup(g *store.Group, v *validated) ([]store.Member, bool, error) {
	g.ExternalID = v.externalID
	g.DisplayName = str(v.core["displayName"])
	if strings.TrimSpace(g.DisplayName) == "" {
		return nil, false, badRequest(typeInvalidValue, "displayName is required")
	}
	raw, given := v.core["members"]
	if !given {
		return nil, false, nil
	}
	members, err := memberList(raw)
	return members, true, err
}

// memberList reads members values: [{"value": id, "type": "User"}, …].
// type may be absent (Okta sends none) and its case varies.
func memberList(raw any) ([]store.Member, error) {
	var list []any
	switch x := raw.(type) {
	case nil:
		return nil, nil
	case []any:
		list = x
	case map[string]any:
		list = []any{x}
	default:
		return nil, badRequest(typeInvalidValue, "members must be a list of objects with a value")
	}
	out := make([]store.Member, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, badRequest(typeInvalidValue, "members must be a list of objects with a value")
		}
		v, _ := lookupKey(m, "value")
		id, ok := v.(string)
		if !ok || id == "" {
			return nil, badRequest(typeInvalidValue, "a member needs a value (the member's id)")
		}
		t, _ := lookupKey(m, "type")
		typ, err := memberType(t)
		if err != nil {
			return nil, err
		}
		out = append(out, store.Member{MemberID: id, Type: typ})
	}
	return out, nil
}

func memberType(v any) (string, error) {
	s, _ := v.(string)
	switch {
	case s == "":
		return "", nil
	case strings.EqualFold(s, store.MemberUser):
		return store.MemberUser, nil
	case strings.EqualFold(s, store.MemberGroup):
		return store.MemberGroup, nil
	}
	return "", badRequest(typeInvalidValue, "member type must be User or Group")
}

// groupDoc is the doc of a stored group without its members, which are
// never loaded to be patched.
func groupDoc(g *store.Group) doc {
	d := doc{"displayName": g.DisplayName}
	if g.ExternalID != "" {
		d["externalId"] = g.ExternalID
	}
	for k, v := range g.Extra {
		d[k] = deepCopy(v)
	}
	return d
}

// readBody reads a request body of at most limit bytes; beyond it the
// error maps to 413.
// maxUserName bounds a login: an e-mail address is at most 254 bytes;
// room is left for other login styles, none for a megabyte.
const maxUserName = 512

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= limit {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, toAPIError(err)
		}
		return nil, badRequest(typeInvalidSyntax, "could not read the request body")
	}
	if !utf8.Valid(buf.Bytes()) {
		// JSON decoding would silently turn the bad bytes into U+FFFD.
		return nil, badRequest(typeInvalidSyntax, "the request body is not valid UTF-8")
	}
	return buf.Bytes(), nil
}

func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(mt)
	if strings.EqualFold(mt, "application/scim+json") || strings.EqualFold(mt, "application/json") {
		return nil
	}
	return newError(http.StatusUnsupportedMediaType, typeInvalidSyntax, "content type must be application/scim+json or application/json")
}
