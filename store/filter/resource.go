package filter

import (
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

// MatchUser reports whether u satisfies e (a nil e matches everything).
func MatchUser(e store.Expr, u *store.User) bool { return eval(e, userRes{u}) }

// MatchGroup reports whether g satisfies e. Members are not part of the
// record, so membership conditions (members.value eq X, members[value eq X])
// ask isMember; other operators on members are false.
func MatchGroup(e store.Expr, g *store.Group, isMember func(memberID string) bool) bool {
	return eval(e, groupRes{g, isMember})
}

// UserValues returns the values of u at p (what filters and sorting see).
func UserValues(u *store.User, p store.AttrPath) []any { return userRes{u}.values(normPath(p)) }

type userRes struct{ u *store.User }

func (r userRes) values(p store.AttrPath) []any {
	u := r.u
	if p.URN == RosterUserURN {
		switch p.Name {
		case "notes":
			return one(u.Notes)
		case "permissions":
			out := make([]any, len(u.Permissions))
			for i, s := range u.Permissions {
				out[i] = s
			}
			return out
		case "accountAdmin":
			return []any{u.AccountAdmin}
		case "customerCode":
			return one(u.CustomerCode)
		case "udid":
			return one(u.UDID)
		}
		return extraValues(u.Extra, p)
	}
	if p.URN != "" {
		return extraValues(u.Extra, p)
	}
	switch p.Name {
	case "id":
		return one(u.ID)
	case "externalId":
		return one(u.ExternalID)
	case "userName":
		return one(u.UserName)
	case "displayName":
		return one(u.DisplayName)
	case "nickName":
		return one(u.NickName)
	case "profileUrl":
		return one(u.ProfileURL)
	case "title":
		return one(u.Title)
	case "userType":
		return one(u.UserType)
	case "preferredLanguage":
		return one(u.PreferredLanguage)
	case "locale":
		return one(u.Locale)
	case "timezone":
		return one(u.Timezone)
	case "active":
		return []any{u.Active}
	case "name":
		return nameValues(u.Name, p.Sub)
	case "emails":
		return multiValues(u.Emails, p.Sub)
	case "phoneNumbers":
		return multiValues(u.PhoneNumbers, p.Sub)
	case "meta":
		return metaValues(u.CreatedAt, u.UpdatedAt, p.Sub)
	case "password":
		return nil // write-only: never matchable
	}
	return extraValues(u.Extra, p)
}

func (r userRes) elements(p store.AttrPath) []element {
	if p.URN == "" {
		switch p.Name {
		case "emails":
			return multiElements(r.u.Emails)
		case "phoneNumbers":
			return multiElements(r.u.PhoneNumbers)
		}
	}
	return extraElements(r.u.Extra, p)
}

type groupRes struct {
	g        *store.Group
	isMember func(string) bool
}

func (r groupRes) values(p store.AttrPath) []any {
	g := r.g
	if p.URN != "" {
		return extraValues(g.Extra, p)
	}
	switch p.Name {
	case "id":
		return one(g.ID)
	case "externalId":
		return one(g.ExternalID)
	case "displayName":
		return one(g.DisplayName)
	case "meta":
		return metaValues(g.CreatedAt, g.UpdatedAt, p.Sub)
	case "members":
		return nil // answered by compare through memberValue below
	}
	return extraValues(g.Extra, p)
}

func (r groupRes) elements(p store.AttrPath) []element {
	if p.URN == "" && p.Name == "members" {
		return nil
	}
	return extraElements(r.g.Extra, p)
}

// evalGroup special-cases membership: the evaluator cannot enumerate the
// members of a group, only test one.
func evalGroup(e store.Expr, r groupRes) (bool, bool) {
	switch x := e.(type) {
	case store.Compare:
		if x.Attr.URN == "" && x.Attr.Name == "members" && (x.Attr.Sub == "" || x.Attr.Sub == "value") {
			id, ok := x.Value.(string)
			switch {
			case x.Op == store.OpEq && ok:
				return r.isMember != nil && r.isMember(id), true
			case x.Op == store.OpNe && ok:
				return r.isMember == nil || !r.isMember(id), true
			}
			return false, true
		}
	case store.ValuePath:
		if x.Attr.URN == "" && x.Attr.Name == "members" {
			if c, ok := x.Filter.(store.Compare); ok && c.Attr.Name == "value" {
				return evalGroup(store.Compare{Attr: store.AttrPath{Name: "members", Sub: "value"}, Op: c.Op, Value: c.Value}, r)
			}
			return false, true
		}
	}
	return false, false
}

func one(s string) []any {
	if s == "" {
		return nil
	}
	return []any{s}
}

func nameValues(n store.Name, sub string) []any {
	switch sub {
	case "formatted":
		return one(n.Formatted)
	case "familyName":
		return one(n.FamilyName)
	case "givenName":
		return one(n.GivenName)
	case "middleName":
		return one(n.MiddleName)
	case "honorificPrefix":
		return one(n.HonorificPrefix)
	case "honorificSuffix":
		return one(n.HonorificSuffix)
	case "":
		var out []any
		for _, s := range []string{n.Formatted, n.FamilyName, n.GivenName, n.MiddleName, n.HonorificPrefix, n.HonorificSuffix} {
			out = append(out, one(s)...)
		}
		return out
	}
	return nil
}

func multiValues(mv []store.MultiValue, sub string) []any {
	var out []any
	for i := range mv {
		out = append(out, multiField(&mv[i], sub)...)
	}
	return out
}

func multiField(m *store.MultiValue, sub string) []any {
	switch sub {
	case "value", "":
		return one(m.Value)
	case "type":
		return one(m.Type)
	case "display":
		return one(m.Display)
	case "primary":
		return []any{m.Primary}
	}
	return nil
}

func multiElements(mv []store.MultiValue) []element {
	out := make([]element, len(mv))
	for i := range mv {
		m := &mv[i]
		out[i] = func(sub string) []any { return multiField(m, sub) }
	}
	return out
}

func metaValues(created, modified time.Time, sub string) []any {
	switch sub {
	case "created":
		return []any{created}
	case "lastModified":
		return []any{modified}
	}
	return nil
}

// lookup finds key in m, exactly first and then ignoring case, because
// SCIM attribute names are case-insensitive.
func lookup(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func extraAttr(extra map[string]any, p store.AttrPath) (any, bool) {
	m := extra
	if p.URN != "" {
		ext, ok := lookup(extra, p.URN)
		if !ok {
			return nil, false
		}
		if m, ok = ext.(map[string]any); !ok {
			return nil, false
		}
	}
	return lookup(m, p.Name)
}

func extraValues(extra map[string]any, p store.AttrPath) []any {
	v, ok := extraAttr(extra, p)
	if !ok {
		return nil
	}
	return subValues(v, p.Sub)
}

func subValues(v any, sub string) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		var out []any
		for _, el := range x {
			out = append(out, subValues(el, sub)...)
		}
		return out
	case map[string]any:
		if sub == "" {
			sub = "value"
		}
		sv, ok := lookup(x, sub)
		if !ok {
			return nil
		}
		return subValues(sv, "")
	default:
		if sub != "" {
			return nil
		}
		return []any{x}
	}
}

func extraElements(extra map[string]any, p store.AttrPath) []element {
	v, ok := extraAttr(extra, p)
	if !ok {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	out := make([]element, 0, len(list))
	for _, el := range list {
		el := el
		out = append(out, func(sub string) []any { return subValues(el, sub) })
	}
	return out
}

// CompareUsers orders a and b by the attribute by (its primary or first
// value), ascending: absent values first, strings folded unless case-exact,
// false before true, instants and numbers by value. It returns 0 for
// equal keys; callers break ties by id.
func CompareUsers(a, b *store.User, by store.AttrPath) int {
	by = normPath(by)
	return compareKeys(sortKey(userRes{a}.values(by), userRes{a}, by), sortKey(userRes{b}.values(by), userRes{b}, by), CaseExact(by))
}

// CompareGroups is CompareUsers for groups.
func CompareGroups(a, b *store.Group, by store.AttrPath) int {
	by = normPath(by)
	ra, rb := groupRes{g: a}, groupRes{g: b}
	return compareKeys(sortKey(ra.values(by), ra, by), sortKey(rb.values(by), rb, by), CaseExact(by))
}

// sortKey picks the value a multi-valued attribute sorts by: the primary
// element's, else the first (RFC 7644 §3.4.2.3).
func sortKey(vals []any, r resource, by store.AttrPath) any {
	for _, el := range r.elements(store.AttrPath{URN: by.URN, Name: by.Name}) {
		if p := el("primary"); len(p) == 1 && p[0] == true {
			if v := el(by.Sub); len(v) > 0 {
				return v[0]
			}
		}
	}
	if len(vals) == 0 {
		return nil
	}
	return vals[0]
}

func compareKeys(a, b any, exact bool) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra - rb
	}
	switch x := a.(type) {
	case string:
		y := b.(string)
		if !exact {
			x, y = store.NormUserName(x), store.NormUserName(y)
		}
		return strings.Compare(x, y)
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case time.Time:
		return x.Compare(b.(time.Time))
	}
	fa, _ := number(a)
	fb, _ := number(b)
	switch {
	case fa < fb:
		return -1
	case fa > fb:
		return 1
	}
	return 0
}

// rank orders values of different kinds so the comparison is total.
func rank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case float64, int, int64:
		return 2
	case time.Time:
		return 3
	case string:
		return 4
	}
	return 5
}
