package scim

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/filter"
	fp "github.com/scim2/filter-parser/v2"
	"golang.org/x/text/unicode/norm"
)

// compileFilter turns a filter parameter into a store.Expr with canonical
// attribute paths. Every failure is 400 invalidFilter: an unknown
// attribute must never become an empty 200, which an IdP would read as
// "no such user" and create a duplicate.
func (h *handler) compileFilter(rt *resourceType, s string) (store.Expr, error) {
	if len(s) > h.limits.MaxFilterLength {
		return nil, badRequest(typeInvalidFilter, "filter is longer than %d characters", h.limits.MaxFilterLength)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, badRequest(typeInvalidFilter, "filter is empty")
	}
	// The lookup every IdP does before creating a user has a fresh value
	// each time, so a cache would not help it: it skips the parser.
	if name, value, ok := simpleEq(s); ok {
		e, err := compileCompare(rt, name, store.OpEq, value)
		if err == nil {
			err = checkSupported(e)
		}
		return e, err
	}
	key := rt.name + "\x00" + s
	if e, ok := h.filters.get(key); ok {
		return e.val, e.err
	}
	e, err := parseFilter(rt, s)
	h.filters.put(key, e, err)
	return e, err
}

func parseFilter(rt *resourceType, s string) (e store.Expr, err error) {
	defer func() {
		// The parser is a third-party grammar engine; a panic on some
		// input must be a 400, not a dropped connection.
		if v := recover(); v != nil {
			e, err = nil, badRequest(typeInvalidFilter, "the filter could not be parsed")
		}
	}()
	ast, perr := fp.ParseFilter([]byte(s))
	if perr != nil {
		return nil, badRequest(typeInvalidFilter, "the filter could not be parsed")
	}
	if e, err = convertExpr(rt, ast); err != nil {
		return nil, err
	}
	if err := checkSupported(e); err != nil {
		return nil, err
	}
	return e, nil
}

// simpleEq recognises `attrPath eq "value"` with no escapes in the value.
func simpleEq(s string) (name, value string, ok bool) {
	i := 0
	for i < len(s) && isPathChar(s[i]) {
		i++
	}
	if i == 0 || !isAlpha(s[0]) {
		return "", "", false
	}
	name = s[:i]
	j := i
	for j < len(s) && s[j] == ' ' {
		j++
	}
	if j == i || j+3 > len(s) || (s[j]|0x20) != 'e' || (s[j+1]|0x20) != 'q' || s[j+2] != ' ' {
		return "", "", false
	}
	j += 3
	for j < len(s) && s[j] == ' ' {
		j++
	}
	if j >= len(s) || s[j] != '"' || s[len(s)-1] != '"' || len(s)-j < 2 {
		return "", "", false
	}
	value = s[j+1 : len(s)-1]
	for k := 0; k < len(value); k++ {
		if c := value[k]; c == '"' || c == '\\' || c < 0x20 {
			return "", "", false
		}
	}
	return name, value, true
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isPathChar(c byte) bool {
	return isAlpha(c) || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '$' || c == '.' || c == ':'
}

func convertExpr(rt *resourceType, e fp.Expression) (store.Expr, error) {
	switch x := e.(type) {
	case *fp.LogicalExpression:
		l, err := convertExpr(rt, x.Left)
		if err != nil {
			return nil, err
		}
		r, err := convertExpr(rt, x.Right)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(string(x.Operator), "or") {
			return store.Or{L: l, R: r}, nil
		}
		return store.And{L: l, R: r}, nil
	case *fp.NotExpression:
		inner, err := convertExpr(rt, x.Expression)
		if err != nil {
			return nil, err
		}
		return store.Not{X: inner}, nil
	case *fp.AttributeExpression:
		value, err := unescapeValue(x.CompareValue)
		if err != nil {
			return nil, err
		}
		return compileCompare(rt, x.AttributePath.String(), string(x.Operator), value)
	case *fp.ValuePath:
		_, attrPath, a, err := resolveFilterAttr(rt, x.AttributePath.String())
		if err != nil {
			return nil, err
		}
		if attrPath.Sub != "" || !a.multi && !a.complex() {
			return nil, badRequest(typeInvalidFilter, "%s does not have values to filter", x.AttributePath.String())
		}
		inner, err := convertInner(a, x.ValueFilter)
		if err != nil {
			return nil, err
		}
		return store.ValuePath{Attr: attrPath, Filter: inner}, nil
	}
	return nil, badRequest(typeInvalidFilter, "unsupported filter expression")
}

// convertInner converts the filter inside attr[...]: its attribute names
// are sub-attributes of a ("value" for a multi-valued simple attribute).
func convertInner(a *attrDef, e fp.Expression) (store.Expr, error) {
	switch x := e.(type) {
	case *fp.LogicalExpression:
		l, err := convertInner(a, x.Left)
		if err != nil {
			return nil, err
		}
		r, err := convertInner(a, x.Right)
		if err != nil {
			return nil, err
		}
		if strings.EqualFold(string(x.Operator), "or") {
			return store.Or{L: l, R: r}, nil
		}
		return store.And{L: l, R: r}, nil
	case *fp.NotExpression:
		inner, err := convertInner(a, x.Expression)
		if err != nil {
			return nil, err
		}
		return store.Not{X: inner}, nil
	case *fp.AttributeExpression:
		p := x.AttributePath
		if p.URIPrefix != nil || p.SubAttribute != nil {
			return nil, badRequest(typeInvalidFilter, "%s is not a sub-attribute of %s", p.String(), a.name)
		}
		leaf := innerAttr(a, p.AttributeName)
		if leaf == nil {
			return nil, badRequest(typeInvalidFilter, "%s is not a sub-attribute of %s", p.AttributeName, a.name)
		}
		value, err := unescapeValue(x.CompareValue)
		if err != nil {
			return nil, err
		}
		c, err := compare(leaf, store.AttrPath{Name: leaf.name}, string(x.Operator), value)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, badRequest(typeInvalidFilter, "unsupported expression inside [ ]")
}

// simpleValue stands for the elements of a multi-valued attribute without
// sub-attributes (permissions[value eq "x"]).
func innerAttr(a *attrDef, name string) *attrDef {
	if a.complex() {
		return a.sub(name)
	}
	if strings.EqualFold(name, "value") {
		return &attrDef{name: "value", typ: a.typ, mut: a.mut, returned: a.returned, caseExact: a.caseExact}
	}
	return nil
}

// resolveFilterAttr resolves an attribute path as filters and sortBy use
// it: canonical names, and a complex attribute without a sub-attribute
// meaning its "value" (emails eq "x" is emails.value eq "x").
func resolveFilterAttr(rt *resourceType, path string) (*attrDef, store.AttrPath, *attrDef, error) {
	urn, rest, _ := rt.splitURN(path)
	name, sub, hasSub := strings.Cut(rest, ".")
	_, a := rt.lookup(urn, name)
	if a == nil || a.returned == "never" {
		return nil, store.AttrPath{}, nil, badRequest(typeInvalidFilter, "unknown attribute %q", path)
	}
	if derived(urn, a) {
		return nil, store.AttrPath{}, nil, badRequest(typeInvalidFilter, "filtering on %s is not supported", path)
	}
	p := store.AttrPath{URN: urn, Name: a.name}
	leaf := a
	if hasSub {
		s := a.sub(sub)
		if s == nil {
			return nil, store.AttrPath{}, nil, badRequest(typeInvalidFilter, "unknown attribute %q", path)
		}
		p.Sub, leaf = s.name, s
	}
	return leaf, p, a, nil
}

// derived reports whether a is computed from other records rather than
// stored with the user (groups from memberships, licenses and devices
// from the licensing engine): a filter on it would silently match nothing.
func derived(urn string, a *attrDef) bool {
	switch urn {
	case "":
		return a.name == "groups"
	case uriRoster:
		return a.name == "licenses" || a.name == "devices"
	}
	return false
}

// checkSupported refuses what the store cannot answer truthfully:
// meta sub-attributes other than the two instants (they are not stored),
// and membership conditions other than `members eq/ne "id"` (members are
// tested one id at a time, never enumerated).
func checkSupported(e store.Expr) error {
	switch x := e.(type) {
	case store.And:
		if err := checkSupported(x.L); err != nil {
			return err
		}
		return checkSupported(x.R)
	case store.Or:
		if err := checkSupported(x.L); err != nil {
			return err
		}
		return checkSupported(x.R)
	case store.Not:
		return checkSupported(x.X)
	case store.Compare:
		if x.Attr.URN != "" {
			return nil
		}
		switch x.Attr.Name {
		case "meta":
			if !filter.IsDateTime(x.Attr) {
				return badRequest(typeInvalidFilter, "filtering on %s is not supported", x.Attr)
			}
		case "members":
			if !memberTest(x.Attr.Sub, x.Op, x.Value) {
				return badRequest(typeInvalidFilter, `members can only be filtered as members eq "id" or members ne "id"`)
			}
		}
	case store.ValuePath:
		if x.Attr.URN == "" && x.Attr.Name == "members" {
			c, ok := x.Filter.(store.Compare)
			if !ok || !memberTest(c.Attr.Name, c.Op, c.Value) {
				return badRequest(typeInvalidFilter, `members can only be filtered as members[value eq "id"] or members[value ne "id"]`)
			}
		}
	}
	return nil
}

func memberTest(sub, op string, v any) bool {
	_, isString := v.(string)
	return (sub == "value" || sub == "") && (op == store.OpEq || op == store.OpNe) && isString
}

func compileCompare(rt *resourceType, path, op string, value any) (store.Expr, error) {
	leaf, p, a, err := resolveFilterAttr(rt, path)
	if err != nil {
		return nil, err
	}
	if p.Sub == "" && a.complex() {
		if v := a.sub("value"); v != nil {
			p.Sub, leaf = v.name, v
		} else if op != store.OpPr {
			return nil, badRequest(typeInvalidFilter, "%s is complex: filter on one of its sub-attributes", path)
		}
	}
	return compare(leaf, p, op, value)
}

// compare checks op and value against the attribute's type.
func compare(leaf *attrDef, p store.AttrPath, op string, value any) (store.Expr, error) {
	op = strings.ToLower(op)
	switch op {
	case store.OpEq, store.OpNe, store.OpCo, store.OpSw, store.OpEw, store.OpGt, store.OpGe, store.OpLt, store.OpLe:
	case store.OpPr:
		return store.Compare{Attr: p, Op: op}, nil
	default:
		return nil, badRequest(typeInvalidFilter, "unknown operator %q", op)
	}
	if value == nil {
		if op != store.OpEq && op != store.OpNe {
			return nil, badRequest(typeInvalidFilter, "%s cannot compare with null", op)
		}
		return store.Compare{Attr: p, Op: op}, nil
	}
	ordering := op == store.OpGt || op == store.OpGe || op == store.OpLt || op == store.OpLe
	substring := op == store.OpCo || op == store.OpSw || op == store.OpEw
	switch leaf.typ {
	case "boolean":
		if ordering || substring {
			return nil, badRequest(typeInvalidFilter, "%s is not supported on boolean %s", op, p)
		}
		switch v := value.(type) {
		case bool:
		case string:
			// Entra's "True"/"False", accepted in bodies, too.
			switch {
			case strings.EqualFold(v, "true"):
				value = true
			case strings.EqualFold(v, "false"):
				value = false
			default:
				return nil, badRequest(typeInvalidFilter, "%s is boolean: compare it with true or false", p)
			}
		default:
			return nil, badRequest(typeInvalidFilter, "%s is boolean: compare it with true or false", p)
		}
	case "dateTime":
		if substring {
			return nil, badRequest(typeInvalidFilter, "%s is not supported on dateTime %s", op, p)
		}
		if _, ok := filter.ParseTime(value); !ok {
			return nil, badRequest(typeInvalidFilter, "%s is a dateTime: compare it with an RFC 3339 string", p)
		}
	case "decimal", "integer":
		if substring {
			return nil, badRequest(typeInvalidFilter, "%s is not supported on number %s", op, p)
		}
		switch v := value.(type) {
		case int:
			value = float64(v)
		case float64:
		default:
			return nil, badRequest(typeInvalidFilter, "%s is a number", p)
		}
	case "binary":
		if ordering || substring {
			return nil, badRequest(typeInvalidFilter, "%s is not supported on binary %s", op, p)
		}
		if _, ok := value.(string); !ok {
			return nil, badRequest(typeInvalidFilter, "%s is a string", p)
		}
	case "complex":
		return nil, badRequest(typeInvalidFilter, "%s is complex: filter on one of its sub-attributes", p)
	default: // string, reference
		s, ok := value.(string)
		if !ok {
			return nil, badRequest(typeInvalidFilter, "%s is a string: quote the value", p)
		}
		if p == userNamePath {
			// userName is stored in NFC (see setUser): a value with a
			// decomposed accent must find the same login. Already-NFC
			// values (ASCII among them) come back as they are.
			value = norm.NFC.String(s)
		}
	}
	return store.Compare{Attr: p, Op: op, Value: value}, nil
}

// userNamePath is the User's userName, stored and so filtered in NFC.
var userNamePath = store.AttrPath{Name: "userName"}

// unescapeValue undoes the JSON escapes the parser leaves in strings.
func unescapeValue(v any) (any, error) {
	s, ok := v.(string)
	if !ok || !strings.Contains(s, `\`) {
		return v, nil
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		return nil, badRequest(typeInvalidFilter, "invalid escape in %s", fmt.Sprintf("%q", s))
	}
	return out, nil
}
