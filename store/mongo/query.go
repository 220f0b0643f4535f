package mongo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/filter"
)

// Filters are answered in two parts (filter.Split): the conjuncts on
// indexed attributes become a MongoDB query, the rest is evaluated in Go
// by the reference evaluator over the documents the query selected,
// reading at most Query.MaxScan of them. The translation reproduces the
// evaluator exactly (the conformance suite compares the two); the rules
// it relies on:
//
//   - Optional strings are stored only when non-empty (omitempty), so
//     "present" is $exists and every other comparison needs the field.
//   - Folded fields hold store.NormUserName of the value and the filter
//     value is folded the same way; without a collation MongoDB compares
//     strings byte-wise, exactly as Go's strings.Compare, and $gt and
//     friends compare only values of the same type (type bracketing).
//   - eq is equality on the field (never an unanchored $regex), sw an
//     anchored $regex, co a $regex of the quoted value; ew ends in
//     "(?!\n)$", because "$" alone also matches before a final newline.
//   - ne and not are $nor, the exact complement, also on arrays.
//   - A comparison the evaluator calls false (wrong value type, an
//     unparsable instant, co on a dateTime) is a constant, folded away.
//   - A value path over e-mails is $elemMatch on emailsNorm, whose
//     elements stand one for one for the user's e-mails.
//   - Group membership (members eq "id") is answered from the
//     memberships collection, as the evaluator asks isMember.

// defaultMaxScan bounds a Go-side scan when Query.MaxScan is 0.
const defaultMaxScan = 10000

// field kinds.
const (
	kString = iota
	kBool
	kTime
	kEmails  // users: emailsNorm (array of {v})
	kMembers // groups: the memberships collection
)

type field struct {
	kind  int
	name  string
	exact bool // kString: compared without folding
}

// resource describes how one collection answers filters and sorts.
type resource struct {
	fields func(p store.AttrPath) (field, bool)
	// sortField is the field a sort on p uses, when one exists.
	sortField func(p store.AttrPath) (string, bool)
}

var userRes = resource{
	fields: func(p store.AttrPath) (field, bool) {
		if p.URN != "" {
			return field{}, false
		}
		switch p.Name + "." + p.Sub {
		case "id.":
			return field{kind: kString, name: "_id", exact: true}, true
		case "externalId.":
			return field{kind: kString, name: "externalId", exact: true}, true
		case "userName.":
			return field{kind: kString, name: "userNameNorm"}, true
		case "displayName.":
			return field{kind: kString, name: "displayNameNorm"}, true
		case "active.":
			return field{kind: kBool, name: "active"}, true
		case "meta.created":
			return field{kind: kTime, name: "createdAt"}, true
		case "meta.lastModified":
			return field{kind: kTime, name: "updatedAt"}, true
		case "emails.", "emails.value":
			return field{kind: kEmails, name: "emailsNorm"}, true
		}
		return field{}, false
	},
	sortField: func(p store.AttrPath) (string, bool) {
		if p.URN != "" {
			return "", false
		}
		switch p.Name + "." + p.Sub {
		case ".", "id.":
			return "_id", true
		case "externalId.":
			return "externalId", true
		case "userName.":
			return "userNameNorm", true
		case "displayName.":
			return "displayNameNorm", true
		case "active.":
			return "active", true
		case "meta.created":
			return "createdAt", true
		case "meta.lastModified":
			return "updatedAt", true
		case "emails.", "emails.value":
			return "emailSort", true
		}
		return "", false
	},
}

var groupRes = resource{
	fields: func(p store.AttrPath) (field, bool) {
		if p.URN != "" {
			return field{}, false
		}
		switch p.Name + "." + p.Sub {
		case "id.":
			return field{kind: kString, name: "_id", exact: true}, true
		case "externalId.":
			return field{kind: kString, name: "externalId", exact: true}, true
		case "displayName.":
			return field{kind: kString, name: "displayNameNorm"}, true
		case "meta.created":
			return field{kind: kTime, name: "createdAt"}, true
		case "meta.lastModified":
			return field{kind: kTime, name: "updatedAt"}, true
		case "members.", "members.value":
			return field{kind: kMembers}, true
		}
		return field{}, false
	},
	sortField: func(p store.AttrPath) (string, bool) {
		if p.URN != "" {
			return "", false
		}
		switch p.Name + "." + p.Sub {
		case ".", "id.":
			return "_id", true
		case "externalId.":
			return "externalId", true
		case "displayName.":
			return "displayNameNorm", true
		case "meta.created":
			return "createdAt", true
		case "meta.lastModified":
			return "updatedAt", true
		}
		return "", false
	},
}

// cond is a translated filter: a query, or a constant.
type cond struct {
	q     bson.D
	konst int // 0: use q; 1: true; -1: false
}

var (
	condTrue  = cond{konst: 1}
	condFalse = cond{konst: -1}
)

func query(q bson.D) cond { return cond{q: q} }

// doc renders c for a filter: true is {}, false matches nothing.
func (c cond) doc() bson.D {
	switch c.konst {
	case 1:
		return bson.D{}
	case -1:
		return bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{}}}}}
	}
	return c.q
}

func not(c cond) cond {
	if c.konst != 0 {
		return cond{konst: -c.konst}
	}
	return query(bson.D{{Key: "$nor", Value: bson.A{c.q}}})
}

func both(l, r cond) cond {
	switch {
	case l.konst == -1 || r.konst == -1:
		return condFalse
	case l.konst == 1:
		return r
	case r.konst == 1:
		return l
	}
	return query(bson.D{{Key: "$and", Value: bson.A{l.q, r.q}}})
}

func either(l, r cond) cond {
	switch {
	case l.konst == 1 || r.konst == 1:
		return condTrue
	case l.konst == -1:
		return r
	case r.konst == -1:
		return l
	}
	return query(bson.D{{Key: "$or", Value: bson.A{l.q, r.q}}})
}

func boolCond(b bool) cond {
	if b {
		return condTrue
	}
	return condFalse
}

// errUntranslatable marks a conjunct left to the evaluator.
var errUntranslatable = errors.New("untranslatable")

// translator turns an indexed filter into a query; members looks up the
// groups a member belongs to (groups only).
type translator struct {
	res     resource
	members func(memberID string) ([]string, error)
}

func (tr *translator) expr(e store.Expr) (cond, error) {
	switch x := e.(type) {
	case store.And:
		l, err := tr.expr(x.L)
		if err != nil {
			return cond{}, err
		}
		r, err := tr.expr(x.R)
		return both(l, r), err
	case store.Or:
		l, err := tr.expr(x.L)
		if err != nil {
			return cond{}, err
		}
		r, err := tr.expr(x.R)
		return either(l, r), err
	case store.Not:
		c, err := tr.expr(x.X)
		return not(c), err
	case store.Compare:
		return tr.compare(x)
	case store.ValuePath:
		return tr.valuePath(x)
	}
	return cond{}, errUntranslatable
}

func (tr *translator) compare(c store.Compare) (cond, error) {
	f, ok := tr.res.fields(c.Attr)
	if !ok {
		return cond{}, errUntranslatable
	}
	switch f.kind {
	case kString:
		return strCond(f.name, f.exact, c.Op, c.Value), nil
	case kEmails:
		return strCond(f.name+".v", false, c.Op, c.Value), nil
	case kBool:
		return boolField(f.name, c.Op, c.Value), nil
	case kTime:
		return timeCond(f.name, c.Op, c.Value), nil
	case kMembers:
		return tr.member(c.Op, c.Value)
	}
	return cond{}, errUntranslatable
}

// present matches documents where the (possibly array) field has a value.
func present(name string) cond {
	return query(bson.D{{Key: name, Value: bson.D{{Key: "$exists", Value: true}}}})
}

// strCond is the evaluator's string comparison on a field holding the
// value (folded unless exact), absent when the value is empty.
func strCond(name string, exact bool, op string, v any) cond {
	switch op {
	case store.OpPr:
		return present(name)
	case store.OpNe:
		return not(strCond(name, exact, store.OpEq, v))
	}
	if v == nil {
		if op == store.OpEq {
			return not(present(name))
		}
		return condFalse
	}
	w, ok := v.(string)
	if !ok {
		return condFalse
	}
	if !exact {
		w = store.NormUserName(w)
	}
	var val any
	switch op {
	case store.OpEq:
		return query(bson.D{{Key: name, Value: w}})
	case store.OpCo:
		val = bson.D{{Key: "$regex", Value: quoteRegex(w)}}
	case store.OpSw:
		val = bson.D{{Key: "$regex", Value: "^" + quoteRegex(w)}}
	case store.OpEw:
		val = bson.D{{Key: "$regex", Value: quoteRegex(w) + "(?!\n)$"}}
	case store.OpGt:
		val = bson.D{{Key: "$gt", Value: w}}
	case store.OpGe:
		val = bson.D{{Key: "$gte", Value: w}}
	case store.OpLt:
		val = bson.D{{Key: "$lt", Value: w}}
	case store.OpLe:
		val = bson.D{{Key: "$lte", Value: w}}
	default:
		return condFalse
	}
	return query(bson.D{{Key: name, Value: val}})
}

// quoteRegex quotes s for PCRE (the server) and Python's re (the test
// stand-in) alike; a NUL would end a BSON regex, so it is spelled \x00.
func quoteRegex(s string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(s), "\x00", `\x00`)
}

// boolField is the evaluator's boolean comparison: eq and ne on booleans;
// everything else on a boolean is false, and a boolean is always present.
func boolField(name, op string, v any) cond {
	switch op {
	case store.OpPr:
		return condTrue
	case store.OpNe:
		return not(boolField(name, store.OpEq, v))
	case store.OpEq:
		if b, ok := v.(bool); ok {
			return query(bson.D{{Key: name, Value: b}})
		}
	}
	return condFalse
}

// minTime is the earliest instant a document can hold on every server
// driver (and Python's datetime): year 1.
var minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// timeCond is the evaluator's instant comparison on a field stored at
// millisecond precision (always present): the filter value w may be finer,
// so for a stored s in whole milliseconds, s > w and s >= w are s >
// floor(w) and s < w, s <= w are s <= floor(w) when w has a fraction.
func timeCond(name, op string, v any) cond {
	switch op {
	case store.OpPr:
		return condTrue
	case store.OpNe:
		return not(timeCond(name, store.OpEq, v))
	}
	w, ok := filter.ParseTime(v)
	if !ok {
		return condFalse
	}
	w = w.UTC()
	if w.Before(minTime) {
		return boolCond(op == store.OpGt || op == store.OpGe)
	}
	floor := w.Truncate(time.Millisecond)
	frac := !floor.Equal(w)
	var val bson.D
	switch op {
	case store.OpEq:
		if frac {
			return condFalse
		}
		return query(bson.D{{Key: name, Value: w}})
	case store.OpGt:
		val = bson.D{{Key: "$gt", Value: floor}}
	case store.OpGe:
		if frac {
			val = bson.D{{Key: "$gt", Value: floor}}
		} else {
			val = bson.D{{Key: "$gte", Value: floor}}
		}
	case store.OpLt:
		if frac {
			val = bson.D{{Key: "$lte", Value: floor}}
		} else {
			val = bson.D{{Key: "$lt", Value: floor}}
		}
	case store.OpLe:
		val = bson.D{{Key: "$lte", Value: floor}}
	default:
		return condFalse // co, sw, ew on an instant
	}
	return query(bson.D{{Key: name, Value: val}})
}

// member answers members eq/ne "id" the way the evaluator's isMember
// does; every other operator on members is false.
func (tr *translator) member(op string, v any) (cond, error) {
	id, ok := v.(string)
	if !ok || (op != store.OpEq && op != store.OpNe) || tr.members == nil {
		return condFalse, nil
	}
	groups, err := tr.members(id)
	if err != nil {
		return cond{}, err
	}
	in := query(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: groups}}}})
	if op == store.OpNe {
		return not(in), nil
	}
	return in, nil
}

func (tr *translator) valuePath(vp store.ValuePath) (cond, error) {
	f, ok := tr.res.fields(store.AttrPath{URN: vp.Attr.URN, Name: vp.Attr.Name})
	if !ok {
		return cond{}, errUntranslatable
	}
	switch f.kind {
	case kMembers:
		// The evaluator answers only members[value op "id"].
		c, ok := vp.Filter.(store.Compare)
		if !ok || c.Attr.Name != "value" {
			return condFalse, nil
		}
		return tr.member(c.Op, c.Value)
	case kEmails:
		inner, err := elementCond(vp.Filter)
		if err != nil {
			return cond{}, err
		}
		switch inner.konst {
		case 1:
			return query(bson.D{{Key: f.name + ".0", Value: bson.D{{Key: "$exists", Value: true}}}}), nil
		case -1:
			return condFalse, nil
		}
		return query(bson.D{{Key: f.name, Value: bson.D{{Key: "$elemMatch", Value: inner.q}}}}), nil
	}
	return cond{}, errUntranslatable
}

// elementCond translates the filter of an e-mail value path against one
// element of emailsNorm ({v: folded value}).
func elementCond(e store.Expr) (cond, error) {
	switch x := e.(type) {
	case store.And:
		l, err := elementCond(x.L)
		if err != nil {
			return cond{}, err
		}
		r, err := elementCond(x.R)
		return both(l, r), err
	case store.Or:
		l, err := elementCond(x.L)
		if err != nil {
			return cond{}, err
		}
		r, err := elementCond(x.R)
		return either(l, r), err
	case store.Not:
		c, err := elementCond(x.X)
		return not(c), err
	case store.Compare:
		if x.Attr.Name != "value" || x.Attr.Sub != "" || x.Attr.URN != "" {
			return cond{}, errUntranslatable
		}
		return strCond("v", false, x.Op, x.Value), nil
	}
	return cond{}, errUntranslatable
}

// conjuncts flattens the top-level ands of e.
func conjuncts(e store.Expr, out []store.Expr) []store.Expr {
	switch x := e.(type) {
	case nil:
		return out
	case store.And:
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

// listPlan is how a list request runs.
type listPlan struct {
	filter  bson.D     // the indexed part, with the tenant
	rest    store.Expr // evaluated in Go
	sort    string     // MongoDB sort field, "" when the sort is done in Go
	maxScan int
}

func (p *listPlan) inMongo() bool { return p.rest == nil && p.sort != "" }

func (p *listPlan) scanLimitErr() error {
	reason := "matches more records than can be scanned for its unindexed part"
	if p.rest == nil {
		reason = "sorting by an unindexed attribute needs a narrower filter"
	}
	return &store.ErrInvalid{Field: "filter", Reason: fmt.Sprintf("%s (more than %d); add a condition on an indexed attribute", reason, p.maxScan)}
}

func plan(tr *translator, tenantID string, q store.Query, indexed func(store.AttrPath) bool) (*listPlan, error) {
	idx, rest := filter.Split(q.Filter, indexed)
	c := query(bson.D{{Key: "tenantId", Value: tenantID}})
	for _, conj := range conjuncts(idx, nil) {
		tc, err := tr.expr(conj)
		if errors.Is(err, errUntranslatable) {
			rest = and(rest, conj)
			continue
		}
		if err != nil {
			return nil, err
		}
		c = both(c, tc)
	}
	p := &listPlan{filter: c.doc(), rest: rest, maxScan: q.MaxScan}
	if p.maxScan <= 0 {
		p.maxScan = defaultMaxScan
	}
	p.sort, _ = tr.res.sortField(q.SortBy)
	return p, nil
}

// findOpts sorts by the plan's field and then _id, both in the query's
// direction (descending reverses the whole order, ties included).
func (p *listPlan) findOpts(q store.Query) *options.FindOptionsBuilder {
	dir := 1
	if q.Descending {
		dir = -1
	}
	s := sortBy("_id", dir)
	if p.sort != "_id" {
		s = sortBy(p.sort, dir, "_id", dir)
	}
	return options.Find().SetSort(s)
}

// page cuts the requested page out of a sorted match list.
func page[T any](all []T, q store.Query) []T {
	if q.Offset >= len(all) || q.Limit <= 0 {
		return []T{}
	}
	end := min(len(all), q.Offset+q.Limit)
	return all[max(q.Offset, 0):end]
}

// sortMatches orders matches as the query asks: by its attribute (absent
// first), ties by id, descending reversing both.
func sortMatches[T any](xs []T, q store.Query, cmp func(a, b T) int, id func(T) string) {
	slices.SortStableFunc(xs, func(a, b T) int {
		c := 0
		if q.SortBy != (store.AttrPath{}) {
			c = cmp(a, b)
		}
		if c == 0 {
			c = strings.Compare(id(a), id(b))
		}
		if q.Descending {
			c = -c
		}
		return c
	})
}

// ListUsers lists a tenant's users matching q, in q's order.
func (s *Store) ListUsers(ctx context.Context, tenantID string, q store.Query) (*store.UserPage, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	p, err := plan(&translator{res: userRes}, tenantID, q, filter.UserIndexed)
	if err != nil {
		return nil, err
	}
	if p.inMongo() {
		docs, total, err := s.pageInMongo(ctx, p, q, s.c.users.Name())
		if err != nil {
			return nil, err
		}
		out := &store.UserPage{Users: make([]*store.User, 0, len(docs)), Total: total}
		for _, raw := range docs {
			var d userDoc
			if err := bson.Unmarshal(raw, &d); err != nil {
				return nil, err
			}
			u, err := d.record()
			if err != nil {
				return nil, err
			}
			out.Users = append(out.Users, u)
		}
		return out, nil
	}
	docs, err := scan[userDoc](ctx, s, p, collUsers, store.MemberUser, q)
	if err != nil {
		return nil, err
	}
	var matches []*store.User
	for i := range docs {
		u, err := docs[i].record()
		if err != nil {
			return nil, err
		}
		if filter.MatchUser(p.rest, u) {
			matches = append(matches, u)
		}
	}
	sortMatches(matches, q, func(a, b *store.User) int { return filter.CompareUsers(a, b, q.SortBy) }, func(u *store.User) string { return u.ID })
	return &store.UserPage{Users: page(matches, q), Total: len(matches)}, nil
}

// pageInMongo runs a plan that needs no Go-side work: the count and the
// page, skipping the count when the page itself tells it.
func (s *Store) pageInMongo(ctx context.Context, p *listPlan, q store.Query, coll string) ([]bson.Raw, int, error) {
	c := s.db.Collection(coll)
	var docs []bson.Raw
	if q.Limit > 0 {
		opts := p.findOpts(q).SetLimit(int64(q.Limit))
		if q.Offset > 0 {
			opts.SetSkip(int64(q.Offset))
		}
		cur, err := c.Find(ctx, p.filter, opts)
		if err != nil {
			return nil, 0, mapErr(err, coll)
		}
		if err := cur.All(ctx, &docs); err != nil {
			return nil, 0, mapErr(err, coll)
		}
		if len(docs) < q.Limit && (len(docs) > 0 || q.Offset == 0) {
			return docs, q.Offset + len(docs), nil
		}
	}
	n, err := c.CountDocuments(ctx, p.filter)
	if err != nil {
		return nil, 0, mapErr(err, coll)
	}
	return docs, int(n), nil
}

// scan reads the documents a plan's indexed part selects, refusing more
// than its MaxScan: the Go side would otherwise read a whole tenant. A
// filter with an unindexed part is reported to the scan observer.
func scan[T any](ctx context.Context, s *Store, p *listPlan, coll, resource string, q store.Query) ([]T, error) {
	docs, err := findAll[T](ctx, s.db.Collection(coll), p.filter, options.Find().SetLimit(int64(p.maxScan)+1).SetBatchSize(1000))
	if err != nil {
		return nil, err
	}
	filter.Report(ctx, s.scans, resource, q, p.rest, len(docs), len(docs) > p.maxScan)
	if len(docs) > p.maxScan {
		return nil, p.scanLimitErr()
	}
	return docs, nil
}

// ListGroups lists a tenant's groups matching q, in q's order.
func (s *Store) ListGroups(ctx context.Context, tenantID string, q store.Query) (*store.GroupPage, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	groupsOf := map[string][]string{}
	memberOf := func(memberID string) ([]string, error) {
		if gs, ok := groupsOf[memberID]; ok {
			return gs, nil
		}
		gs, err := s.distinctStrings(ctx, s.c.members, "groupId", bson.D{{Key: "tenantId", Value: tenantID}, {Key: "memberId", Value: memberID}})
		if err != nil {
			return nil, err
		}
		if gs == nil {
			gs = []string{}
		}
		groupsOf[memberID] = gs
		return gs, nil
	}
	p, err := plan(&translator{res: groupRes, members: memberOf}, tenantID, q, filter.GroupIndexed)
	if err != nil {
		return nil, err
	}
	if p.inMongo() {
		docs, total, err := s.pageInMongo(ctx, p, q, collGroups)
		if err != nil {
			return nil, err
		}
		out := &store.GroupPage{Groups: make([]*store.Group, 0, len(docs)), Total: total}
		for _, raw := range docs {
			var d groupDoc
			if err := bson.Unmarshal(raw, &d); err != nil {
				return nil, err
			}
			g, err := d.record()
			if err != nil {
				return nil, err
			}
			out.Groups = append(out.Groups, g)
		}
		return out, nil
	}
	docs, err := scan[groupDoc](ctx, s, p, collGroups, store.MemberGroup, q)
	if err != nil {
		return nil, err
	}
	var matches []*store.Group
	var lookupErr error
	for i := range docs {
		g, err := docs[i].record()
		if err != nil {
			return nil, err
		}
		isMember := func(id string) bool {
			gs, err := memberOf(id)
			if err != nil {
				lookupErr = err
				return false
			}
			return slices.Contains(gs, g.ID)
		}
		if filter.MatchGroup(p.rest, g, isMember) {
			matches = append(matches, g)
		}
	}
	if lookupErr != nil {
		return nil, lookupErr
	}
	sortMatches(matches, q, func(a, b *store.Group) int { return filter.CompareGroups(a, b, q.SortBy) }, func(g *store.Group) string { return g.ID })
	return &store.GroupPage{Groups: page(matches, q), Total: len(matches)}, nil
}
