package scim

import (
	"reflect"
	"slices"
	"strings"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/filter"
	fp "github.com/scim2/filter-parser/v2"
)

// patchOp is one operation of a PatchOp request (RFC 7644 §3.5.2).
type patchOp struct {
	op    string // add, replace or remove
	path  string
	value any
}

// parsePatch reads a PatchOp body. Op names are case-insensitive
// (Entra writes "Replace"); the schemas attribute is not required, as
// some clients omit it, but when present must name PatchOp.
func parsePatch(b []byte) ([]patchOp, error) {
	body, err := decodeObject(b)
	if err != nil {
		return nil, err
	}
	if s, ok := lookupKey(body, "schemas"); ok {
		list, _ := s.([]any)
		found := false
		for _, u := range list {
			if u, ok := u.(string); ok && strings.EqualFold(u, uriPatchOp) {
				found = true
			}
		}
		if !found {
			return nil, badRequest(typeInvalidSyntax, "schemas must be [%q]", uriPatchOp)
		}
	}
	raw, _ := lookupKey(body, "Operations")
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		return nil, badRequest(typeInvalidSyntax, "Operations must be a non-empty list")
	}
	ops := make([]patchOp, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, badRequest(typeInvalidSyntax, "each operation must be an object")
		}
		var op patchOp
		o, _ := lookupKey(m, "op")
		os, _ := o.(string)
		op.op = strings.ToLower(os)
		switch op.op {
		case "add", "replace", "remove":
		default:
			return nil, badRequest(typeInvalidSyntax, "op must be add, replace or remove")
		}
		if p, ok := lookupKey(m, "path"); ok && p != nil {
			ps, ok := p.(string)
			if !ok {
				return nil, badRequest(typeInvalidPath, "path must be a string")
			}
			op.path = strings.TrimSpace(ps)
		}
		op.value, _ = lookupKey(m, "value")
		if op.op != "remove" && op.value == nil && op.path == "" {
			return nil, badRequest(typeInvalidValue, "%s without a path needs a value object", op.op)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// target is a resolved PATCH path: attr of schema (urn "" for core),
// optionally narrowed by a value filter and to a sub-attribute. attr nil
// names a whole extension.
type target struct {
	schema *schemaDef
	urn    string
	attr   *attrDef
	filter store.Expr
	sub    *attrDef
	// eqs is the element a filter of only `sub eq value` terms describes;
	// Entra adds emails[type eq "work"].value to a user without one and
	// expects it created.
	eqs map[string]any
}

func (t *target) String() string {
	if t.attr == nil {
		return t.urn
	}
	s := t.attr.name
	if t.urn != "" {
		s = t.urn + ":" + s
	}
	if t.filter != nil {
		s += "[…]"
	}
	if t.sub != nil {
		s += "." + t.sub.name
	}
	return s
}

// resolvePath resolves a PATCH path against rt. Plain paths are resolved
// by hand; paths with a value filter go through the parser, cached.
func (h *handler) resolvePath(rt *resourceType, path string) (*target, error) {
	if !strings.ContainsAny(path, "[]\" ") {
		return resolvePlainPath(rt, path)
	}
	// The remove an IdP sends for each member leaving a group names a
	// fresh id every time, so a cache would not help it: it skips the
	// parser.
	if t, ok := simpleValuePath(rt, path); ok {
		return t, nil
	}
	key := rt.name + "\x00" + path
	if e, ok := h.paths.get(key); ok {
		return e.val, e.err
	}
	t, err := resolveFilterPath(rt, path)
	h.paths.put(key, t, err)
	return t, err
}

func resolvePlainPath(rt *resourceType, path string) (*target, error) {
	if e := rt.ext(path); e != nil {
		return &target{schema: e, urn: e.urn}, nil
	}
	urn, rest, _ := rt.splitURN(path)
	name, sub, hasSub := strings.Cut(rest, ".")
	s, a := rt.lookup(urn, name)
	if a == nil {
		return nil, badRequest(typeInvalidPath, "unknown attribute %q", path)
	}
	t := &target{schema: s, urn: urn, attr: a}
	if hasSub {
		if t.sub = a.sub(sub); t.sub == nil {
			return nil, badRequest(typeInvalidPath, "unknown attribute %q", path)
		}
	}
	return t, nil
}

// simpleValuePath resolves `attr[sub eq "value"]` and
// `attr[sub eq "value"].sub2` (plain names, no escapes in the value) as
// resolveFilterPath does; anything else, and any path it would refuse,
// it leaves to resolveFilterPath (ok false).
func simpleValuePath(rt *resourceType, path string) (*target, bool) {
	open := strings.IndexByte(path, '[')
	end := strings.LastIndexByte(path, ']')
	if open <= 0 || end < open || !isPlainName(path[:open]) {
		return nil, false
	}
	after := path[end+1:]
	if after != "" && (after[0] != '.' || !isPlainName(after[1:])) {
		return nil, false
	}
	inner, value, ok := simpleEq(path[open+1 : end])
	if !ok || !isPlainName(inner) {
		return nil, false
	}
	t, err := resolvePlainPath(rt, path[:open])
	if err != nil || t.attr == nil || t.sub != nil || !t.attr.multi {
		return nil, false
	}
	leaf := innerAttr(t.attr, inner)
	if leaf == nil {
		return nil, false
	}
	c, err := compare(leaf, store.AttrPath{Name: leaf.name}, store.OpEq, value)
	if err != nil {
		return nil, false
	}
	t.filter = c
	t.eqs = eqTerms(c, nil)
	if after != "" {
		if !t.attr.complex() {
			return nil, false
		}
		if t.sub = t.attr.sub(after[1:]); t.sub == nil {
			return nil, false
		}
	}
	return t, true
}

// isPlainName reports whether s is an attribute name as the filter
// grammar spells one: a letter, then letters, digits, '-' or '_'.
func isPlainName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func resolveFilterPath(rt *resourceType, path string) (t *target, err error) {
	defer func() {
		if v := recover(); v != nil {
			t, err = nil, badRequest(typeInvalidPath, "the path could not be parsed")
		}
	}()
	p, perr := fp.ParsePath([]byte(path))
	if perr != nil {
		return nil, badRequest(typeInvalidPath, "the path could not be parsed")
	}
	t, err = resolvePlainPath(rt, p.AttributePath.String())
	if err != nil {
		return nil, err
	}
	if p.ValueExpression != nil {
		if t.attr == nil || t.sub != nil || !t.attr.multi {
			return nil, badRequest(typeInvalidPath, "%s is not multi-valued", p.AttributePath.String())
		}
		if t.filter, err = convertInner(t.attr, p.ValueExpression); err != nil {
			return nil, err
		}
		t.eqs = eqTerms(t.filter, nil)
	}
	if p.SubAttribute != nil {
		if t.attr == nil || !t.attr.complex() || t.sub != nil {
			return nil, badRequest(typeInvalidPath, "unknown attribute %q", path)
		}
		if t.sub = t.attr.sub(*p.SubAttribute); t.sub == nil {
			return nil, badRequest(typeInvalidPath, "unknown attribute %q", path)
		}
	}
	return t, nil
}

// eqTerms returns the sub-attribute values of a filter made only of
// `sub eq value` joined by and, or nil.
func eqTerms(e store.Expr, m map[string]any) map[string]any {
	switch x := e.(type) {
	case store.And:
		if m = eqTerms(x.L, m); m == nil {
			return nil
		}
		return eqTerms(x.R, m)
	case store.Compare:
		if x.Op != store.OpEq || x.Value == nil {
			return nil
		}
		if m == nil {
			m = map[string]any{}
		}
		m[x.Attr.Name] = x.Value
		return m
	}
	return nil
}

// ignoredKeys are common attributes clients echo in path-less values
// (Okta sends the id): not changes, so not errors.
func ignoredKey(k string) bool {
	return strings.EqualFold(k, "id") || strings.EqualFold(k, "schemas") || strings.EqualFold(k, "meta")
}

// applyOps applies ops to d in order.
func (h *handler) applyOps(rt *resourceType, d doc, ops []patchOp) error {
	for _, op := range ops {
		if err := h.applyOp(rt, d, op); err != nil {
			return err
		}
	}
	return nil
}

func (h *handler) applyOp(rt *resourceType, d doc, op patchOp) error {
	if op.path != "" {
		t, err := h.resolvePath(rt, op.path)
		if err != nil {
			return err
		}
		return applyTarget(d, op.op, t, op.value)
	}
	if op.op == "remove" {
		return badRequest(typeNoTarget, "remove needs a path")
	}
	m, ok := op.value.(map[string]any)
	if !ok {
		return badRequest(typeInvalidValue, "%s without a path needs a value object", op.op)
	}
	for _, k := range sortedKeys(m) {
		if ignoredKey(k) {
			continue
		}
		t, err := h.resolvePath(rt, k)
		if err != nil {
			// Unknown attributes are ignored, as in a POST or PUT body.
			continue
		}
		if err := applyTarget(d, op.op, t, m[k]); err != nil {
			return err
		}
	}
	return nil
}

func applyTarget(d doc, op string, t *target, v any) error {
	if t.attr == nil {
		return applyExtension(d, op, t, v)
	}
	container := d
	if t.urn != "" {
		if op == "remove" {
			m, ok := d[t.urn].(map[string]any)
			if !ok {
				return nil
			}
			container = m
		} else {
			container = extObject(d, t.urn)
		}
	}
	cur, exists := container[t.attr.name]
	if exists && isEmptyValue(cur) {
		exists = false
	}
	if err := checkMutability(op, t, exists); err != nil {
		return err
	}
	if v == nil && op != "remove" {
		// A null value clears the attribute (RFC 7644 §3.5.2.3 treats
		// null like unassigned).
		op = "remove"
	}
	switch {
	case t.filter != nil:
		return applyFiltered(container, op, t, v)
	case t.sub != nil:
		return applySub(container, op, t, v)
	case t.attr.multi:
		return applyMulti(container, op, t, v)
	case t.attr.complex():
		switch op {
		case "remove":
			delete(container, t.attr.name)
		default:
			m, _ := cur.(map[string]any)
			if m == nil {
				m = map[string]any{}
			}
			if err := mergeComplex(t.attr, m, v); err != nil {
				return err
			}
			container[t.attr.name] = m
		}
	default:
		if op == "remove" {
			delete(container, t.attr.name)
		} else {
			container[t.attr.name] = v
		}
	}
	return nil
}

func applyExtension(d doc, op string, t *target, v any) error {
	if op == "remove" {
		delete(d, t.urn)
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return badRequest(typeInvalidValue, "the value for %s must be an object", t.urn)
	}
	for _, k := range sortedKeys(m) {
		a := t.schema.attr(k)
		if a == nil {
			continue
		}
		if err := applyTarget(d, op, &target{schema: t.schema, urn: t.urn, attr: a}, m[k]); err != nil {
			return err
		}
	}
	return nil
}

func checkMutability(op string, t *target, exists bool) error {
	for _, a := range []*attrDef{t.attr, t.sub} {
		if a == nil {
			continue
		}
		switch a.mut {
		case "readOnly":
			return badRequest(typeMutability, "%s is read-only", t)
		case "immutable":
			if op != "add" || exists {
				return badRequest(typeMutability, "%s is immutable", t)
			}
		}
	}
	return nil
}

// mergeComplex sets the sub-attributes v gives on m, leaving the others
// (RFC 7644 §3.5.2.3: replacing a complex attribute keeps the
// sub-attributes the value does not name). A bare string is the "value"
// sub-attribute: Entra sends the enterprise manager that way.
func mergeComplex(a *attrDef, m map[string]any, v any) error {
	switch x := v.(type) {
	case map[string]any:
		for k, sv := range x {
			s := a.sub(k)
			if s == nil {
				continue
			}
			if s.mut == "readOnly" {
				continue
			}
			if sv == nil {
				delete(m, s.name)
			} else {
				m[s.name] = sv
			}
		}
		return nil
	case string:
		if s := a.sub("value"); s != nil {
			m[s.name] = x
			return nil
		}
	}
	return badRequest(typeInvalidValue, "the value for %s must be an object", a.name)
}

func applySub(container map[string]any, op string, t *target, v any) error {
	name, sub := t.attr.name, t.sub.name
	if !t.attr.multi {
		m, _ := container[name].(map[string]any)
		if op == "remove" {
			if m != nil {
				delete(m, sub)
			}
			return nil
		}
		if m == nil {
			m = map[string]any{}
			container[name] = m
		}
		m[sub] = v
		return nil
	}
	// emails.type without a filter addresses every element.
	list := asList(container[name])
	if len(list) == 0 && op != "remove" {
		container[name] = []any{map[string]any{sub: v}}
		return nil
	}
	for _, el := range list {
		if m, ok := el.(map[string]any); ok {
			if op == "remove" {
				delete(m, sub)
			} else {
				m[sub] = v
			}
		}
	}
	return nil
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

func applyMulti(container map[string]any, op string, t *target, v any) error {
	name := t.attr.name
	switch op {
	case "remove":
		if v == nil {
			delete(container, name)
			return nil
		}
		// A value list on remove names the elements to remove (Entra
		// removes group members this way, and may do so for others).
		list := asList(container[name])
		for _, want := range asList(v) {
			list = slices.DeleteFunc(list, func(el any) bool { return elementMatches(el, want) })
		}
		if len(list) == 0 {
			delete(container, name)
		} else {
			container[name] = list
		}
		return nil
	case "replace":
		vals := asList(v)
		container[name] = slices.Clone(vals)
		return nil
	}
	list := asList(container[name])
	for _, nv := range asList(v) {
		if slices.ContainsFunc(list, func(el any) bool { return reflect.DeepEqual(el, nv) }) {
			continue
		}
		if isPrimary(nv) {
			demotePrimaries(list)
		}
		list = append(list, nv)
	}
	container[name] = list
	return nil
}

// elementMatches reports whether el has every sub-attribute want names,
// with equal values (want may also be a bare value).
func elementMatches(el, want any) bool {
	wm, ok := want.(map[string]any)
	if !ok {
		em, isMap := el.(map[string]any)
		if isMap {
			v, _ := lookupKey(em, "value")
			return reflect.DeepEqual(v, want)
		}
		return reflect.DeepEqual(el, want)
	}
	em, ok := el.(map[string]any)
	if !ok {
		return false
	}
	for k, wv := range wm {
		if wv == nil {
			continue // Entra sends "$ref": null
		}
		ev, _ := lookupKey(em, k)
		if !reflect.DeepEqual(ev, wv) {
			return false
		}
	}
	return true
}

func isPrimary(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	p, _ := lookupKey(m, "primary")
	switch x := p.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

// demotePrimaries clears primary on every element: a new primary value
// takes over (RFC 7643 §2.4: primary true appears at most once).
func demotePrimaries(list []any) {
	for _, el := range list {
		if m, ok := el.(map[string]any); ok {
			for k := range m {
				if strings.EqualFold(k, "primary") {
					delete(m, k)
				}
			}
		}
	}
}

func applyFiltered(container map[string]any, op string, t *target, v any) error {
	name := t.attr.name
	list := asList(container[name])
	var matched []int
	for i, el := range list {
		if matchElement(t, el) {
			matched = append(matched, i)
		}
	}
	if op == "remove" {
		if t.sub != nil {
			for _, i := range matched {
				if m, ok := list[i].(map[string]any); ok {
					delete(m, t.sub.name)
				}
			}
			return nil
		}
		for i := len(matched) - 1; i >= 0; i-- {
			list = slices.Delete(list, matched[i], matched[i]+1)
		}
		if len(list) == 0 {
			delete(container, name)
		} else {
			container[name] = list
		}
		return nil
	}
	if len(matched) == 0 {
		if t.eqs == nil || !t.attr.complex() {
			return badRequest(typeNoTarget, "no value of %s matches the filter", name)
		}
		el := map[string]any{}
		for k, ev := range t.eqs {
			el[k] = ev
		}
		list = append(list, el)
		matched = append(matched, len(list)-1)
	}
	for _, i := range matched {
		switch {
		case t.sub != nil:
			m, ok := list[i].(map[string]any)
			if !ok {
				return badRequest(typeInvalidPath, "%s has no sub-attributes", name)
			}
			m[t.sub.name] = v
			if t.sub.name == "primary" && isPrimary(m) {
				for j, el := range list {
					if j != i {
						demotePrimaries([]any{el})
					}
				}
			}
		case op == "replace":
			list[i] = v
		default:
			m, ok := list[i].(map[string]any)
			if !ok {
				list[i] = v
				continue
			}
			if err := mergeComplex(t.attr, m, v); err != nil {
				return err
			}
		}
	}
	container[name] = list
	return nil
}

// matchElement evaluates the target's value filter on one element with
// the reference evaluator, by presenting the element as the only value of
// the attribute of an otherwise empty user.
func matchElement(t *target, el any) bool {
	item := el
	if !t.attr.complex() {
		item = map[string]any{"value": el}
	}
	var u store.User
	switch {
	case t.urn == "" && (t.attr.name == "emails" || t.attr.name == "phoneNumbers"):
		mvs := multiValues([]any{el})
		if len(mvs) == 0 {
			return false
		}
		if t.attr.name == "emails" {
			u.Emails = mvs
		} else {
			u.PhoneNumbers = mvs
		}
	case t.urn == "":
		u.Extra = map[string]any{t.attr.name: []any{item}}
	default:
		u.Extra = map[string]any{t.urn: map[string]any{t.attr.name: []any{item}}}
	}
	return filter.MatchUser(store.ValuePath{Attr: store.AttrPath{URN: t.urn, Name: t.attr.name}, Filter: t.filter}, &u)
}
