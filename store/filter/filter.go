// Package filter is the one definition of what a SCIM filter means in
// Roster. Backends answer the indexed part of a filter with their own query
// language and the rest with the reference evaluator here; the conformance
// suite checks every backend's answers against this evaluator, so there is
// exactly one semantics whichever store is behind a node.
//
// The semantics, which backends must reproduce for the attributes they
// index:
//
//   - Attribute paths arrive canonical (the scim package resolved their
//     spelling). A multi-valued complex attribute without a sub-attribute
//     ("emails") means its "value" sub-attribute.
//   - Strings compare after store.NormUserName folding, except
//     case-exact attributes (CaseExact: id, externalId, meta.*, members.value,
//     groups.value, $ref). gt/ge/lt/le compare folded strings byte-wise.
//   - meta.created and meta.lastModified compare as instants; the filter
//     value must be an RFC 3339 string, else the comparison is false;
//     co/sw/ew on them are false.
//   - Booleans support eq and ne only; numbers compare numerically.
//   - A value of the wrong type (a string compared with a boolean) makes the
//     comparison false.
//   - pr: the attribute has a non-empty value. A boolean is always present.
//   - ne is exactly "not eq": an absent attribute is ne anything.
//   - Multi-valued: some element matches. attr[filter]: one element
//     satisfies the whole inner filter.
//   - eq null is "not present", ne null is "present".
package filter

import (
	"math"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

// RosterUserURN is the schema URN of Roster's User extension.
const RosterUserURN = "urn:ietf:params:scim:schemas:extension:roster:2.0:User"

// CaseExact reports whether string values of p compare exactly rather than
// case-insensitively.
func CaseExact(p store.AttrPath) bool {
	if p.URN != "" {
		return false
	}
	switch p.Name {
	case "id", "externalId", "meta":
		return true
	case "members", "groups":
		return p.Sub == "" || p.Sub == "value" || p.Sub == "$ref"
	}
	return p.Sub == "$ref"
}

// IsDateTime reports whether p is one of the dateTime attributes compared
// as instants.
func IsDateTime(p store.AttrPath) bool {
	return p.URN == "" && p.Name == "meta" && (p.Sub == "created" || p.Sub == "lastModified")
}

// UserIndexed reports whether backends answer p on users with an index.
func UserIndexed(p store.AttrPath) bool {
	if p.URN != "" {
		return false
	}
	switch p.Name {
	case "id", "externalId", "userName", "displayName", "active":
		return p.Sub == ""
	case "emails":
		return p.Sub == "" || p.Sub == "value"
	case "meta":
		return IsDateTime(p)
	}
	return false
}

// GroupIndexed reports whether backends answer p on groups with an index.
func GroupIndexed(p store.AttrPath) bool {
	if p.URN != "" {
		return false
	}
	switch p.Name {
	case "id", "externalId", "displayName":
		return p.Sub == ""
	case "members":
		return p.Sub == "" || p.Sub == "value"
	case "meta":
		return IsDateTime(p)
	}
	return false
}

// Split separates e into the top-level conjuncts whose every attribute is
// indexed (idx) and the rest (rest); either may be nil. idx AND rest is
// equivalent to e.
func Split(e store.Expr, indexed func(store.AttrPath) bool) (idx, rest store.Expr) {
	for _, c := range conjuncts(e, nil) {
		if allIndexed(c, indexed) {
			idx = and(idx, c)
		} else {
			rest = and(rest, c)
		}
	}
	return idx, rest
}

func conjuncts(e store.Expr, out []store.Expr) []store.Expr {
	switch x := e.(type) {
	case nil:
		return out
	case store.And:
		return conjuncts(x.R, conjuncts(x.L, out))
	case *store.And:
		return conjuncts(x.R, conjuncts(x.L, out))
	}
	return append(out, e)
}

func and(a, b store.Expr) store.Expr {
	if a == nil {
		return b
	}
	return store.And{L: a, R: b}
}

func allIndexed(e store.Expr, indexed func(store.AttrPath) bool) bool {
	switch x := e.(type) {
	case store.And:
		return allIndexed(x.L, indexed) && allIndexed(x.R, indexed)
	case store.Or:
		return allIndexed(x.L, indexed) && allIndexed(x.R, indexed)
	case store.Not:
		return allIndexed(x.X, indexed)
	case store.Compare:
		return indexed(x.Attr)
	case store.ValuePath:
		ok := true
		walkCompares(x.Filter, func(c store.Compare) {
			if !indexed(store.AttrPath{URN: x.Attr.URN, Name: x.Attr.Name, Sub: c.Attr.Name}) {
				ok = false
			}
		})
		return ok
	}
	return false
}

// walkCompares calls fn for every comparison in e.
func walkCompares(e store.Expr, fn func(store.Compare)) {
	switch x := e.(type) {
	case store.And:
		walkCompares(x.L, fn)
		walkCompares(x.R, fn)
	case store.Or:
		walkCompares(x.L, fn)
		walkCompares(x.R, fn)
	case store.Not:
		walkCompares(x.X, fn)
	case store.Compare:
		fn(x)
	case store.ValuePath:
		walkCompares(x.Filter, fn)
	}
}

// Attributes lists every attribute path e mentions; a value path's inner
// comparisons are reported as sub-attributes of it.
func Attributes(e store.Expr) []store.AttrPath {
	var out []store.AttrPath
	var walk func(e store.Expr)
	walk = func(e store.Expr) {
		switch x := e.(type) {
		case store.And:
			walk(x.L)
			walk(x.R)
		case store.Or:
			walk(x.L)
			walk(x.R)
		case store.Not:
			walk(x.X)
		case store.Compare:
			out = append(out, x.Attr)
		case store.ValuePath:
			walkCompares(x.Filter, func(c store.Compare) {
				out = append(out, store.AttrPath{URN: x.Attr.URN, Name: x.Attr.Name, Sub: c.Attr.Name})
			})
		}
	}
	walk(e)
	return out
}

// resource is what the evaluator needs of a record: the values at a path
// and the elements of a multi-valued attribute (for value paths).
type resource interface {
	values(p store.AttrPath) []any
	elements(p store.AttrPath) []element
}

// element is one entry of a multi-valued complex attribute.
type element func(sub string) []any

func eval(e store.Expr, r resource) bool {
	switch x := e.(type) {
	case nil:
		return true
	case store.And:
		return eval(x.L, r) && eval(x.R, r)
	case store.Or:
		return eval(x.L, r) || eval(x.R, r)
	case store.Not:
		return !eval(x.X, r)
	case store.Compare:
		if g, ok := r.(groupRes); ok {
			if v, handled := evalGroup(x, g); handled {
				return v
			}
		}
		p := normPath(x.Attr)
		return compare(x, p, r.values(p))
	case store.ValuePath:
		if g, ok := r.(groupRes); ok {
			if v, handled := evalGroup(x, g); handled {
				return v
			}
		}
		for _, el := range r.elements(x.Attr) {
			if evalElement(x.Filter, x.Attr, el) {
				return true
			}
		}
		return false
	}
	return false
}

func evalElement(e store.Expr, parent store.AttrPath, el element) bool {
	switch x := e.(type) {
	case store.And:
		return evalElement(x.L, parent, el) && evalElement(x.R, parent, el)
	case store.Or:
		return evalElement(x.L, parent, el) || evalElement(x.R, parent, el)
	case store.Not:
		return !evalElement(x.X, parent, el)
	case store.Compare:
		p := store.AttrPath{URN: parent.URN, Name: parent.Name, Sub: x.Attr.Name}
		return compare(x, p, el(x.Attr.Name))
	}
	return false
}

// normPath applies "a multi-valued complex attribute without a
// sub-attribute means its value".
func normPath(p store.AttrPath) store.AttrPath {
	if p.Sub == "" && p.URN == "" {
		switch p.Name {
		case "emails", "phoneNumbers", "ims", "photos", "entitlements", "roles", "x509Certificates", "members", "groups":
			p.Sub = "value"
		}
	}
	return p
}

func compare(c store.Compare, p store.AttrPath, vals []any) bool {
	switch c.Op {
	case store.OpPr:
		return present(vals)
	case store.OpNe:
		return !compare(store.Compare{Attr: c.Attr, Op: store.OpEq, Value: c.Value}, p, vals)
	}
	if c.Value == nil {
		return c.Op == store.OpEq && !present(vals)
	}
	exact, date := CaseExact(p), IsDateTime(p)
	for _, v := range vals {
		if match(v, c.Op, c.Value, exact, date) {
			return true
		}
	}
	return false
}

func present(vals []any) bool {
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
		case string:
			if x != "" {
				return true
			}
		case time.Time:
			if !x.IsZero() {
				return true
			}
		case map[string]any:
			if len(x) > 0 {
				return true
			}
		case []any:
			if len(x) > 0 {
				return true
			}
		default:
			return true
		}
	}
	return false
}

func match(v any, op string, want any, exact, date bool) bool {
	if date {
		return matchTime(v, op, want)
	}
	switch x := v.(type) {
	case string:
		w, ok := want.(string)
		if !ok {
			return false
		}
		if !exact {
			x, w = store.NormUserName(x), store.NormUserName(w)
		}
		switch op {
		case store.OpEq:
			return x == w
		case store.OpCo:
			return strings.Contains(x, w)
		case store.OpSw:
			return strings.HasPrefix(x, w)
		case store.OpEw:
			return strings.HasSuffix(x, w)
		}
		return ordered(strings.Compare(x, w), op)
	case bool:
		w, ok := want.(bool)
		return ok && op == store.OpEq && x == w
	case float64:
		w, ok := number(want)
		if !ok {
			return false
		}
		if op == store.OpEq {
			return x == w
		}
		switch {
		case x < w:
			return ordered(-1, op)
		case x > w:
			return ordered(1, op)
		}
		return ordered(0, op)
	case int:
		return match(float64(x), op, want, exact, date)
	case int64:
		return match(float64(x), op, want, exact, date)
	}
	return false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

// ordered answers an ordering operator from a three-way comparison.
func ordered(c int, op string) bool {
	switch op {
	case store.OpGt:
		return c > 0
	case store.OpGe:
		return c >= 0
	case store.OpLt:
		return c < 0
	case store.OpLe:
		return c <= 0
	}
	return false
}

func matchTime(v any, op string, want any) bool {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case string:
		pt, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return false
		}
		t = pt
	default:
		return false
	}
	ws, ok := want.(string)
	if !ok {
		return false
	}
	w, err := time.Parse(time.RFC3339Nano, ws)
	if err != nil {
		return false
	}
	if op == store.OpEq {
		return t.Equal(w)
	}
	return ordered(t.Compare(w), op)
}

// ParseTime parses a filter's dateTime value the way the evaluator does,
// for backends that compare instants in their own query language.
func ParseTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}
