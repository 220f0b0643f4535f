package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/filter"
)

// Filters are answered in two parts (filter.Split): the conjuncts on
// indexed attributes become SQL, the rest is evaluated in Go by the
// reference evaluator over the rows the SQL part selected. The SQL below
// reproduces the evaluator's semantics exactly (the conformance suite
// compares the two); the rules it relies on:
//
//   - A string column holds '' for an absent value, and every comparison
//     but pr, eq null and ne requires a non-empty value.
//   - Folded columns hold store.NormUserName of the value, and the filter
//     value is folded the same way, so SQLite's byte-wise BINARY
//     collation orders them exactly as Go's strings.Compare.
//   - ne is NOT eq; no expression can yield NULL, so NOT is safe.
//   - A comparison the evaluator calls false (wrong value type, an
//     unparsable instant, co on a dateTime) is the constant 0.

// defaultMaxScan bounds a Go-side scan when Query.MaxScan is 0.
const defaultMaxScan = 10000

// column kinds.
const (
	kString = iota
	kBool
	kTime
	kEmails  // users: the user_emails side table
	kMembers // groups: the memberships table
)

type column struct {
	kind  int
	name  string // SQL column (for kString, kBool, kTime)
	exact bool   // kString: compared without folding
}

// resource describes how one table answers filters and sorts.
type resource struct {
	alias   string // table alias in queries
	columns func(p store.AttrPath) (column, bool)
	unique  map[string]bool // columns unique per tenant (when not empty)
}

var users = resource{alias: "u", unique: map[string]bool{"u.id": true, "u.external_id": true, "u.user_name_norm": true}, columns: func(p store.AttrPath) (column, bool) {
	if p.URN != "" {
		return column{}, false
	}
	switch p.Name + "." + p.Sub {
	case "id.":
		return column{kind: kString, name: "u.id", exact: true}, true
	case "externalId.":
		return column{kind: kString, name: "u.external_id", exact: true}, true
	case "userName.":
		return column{kind: kString, name: "u.user_name_norm"}, true
	case "displayName.":
		return column{kind: kString, name: "u.display_name_norm"}, true
	case "active.":
		return column{kind: kBool, name: "u.active"}, true
	case "meta.created":
		return column{kind: kTime, name: "u.created"}, true
	case "meta.lastModified":
		return column{kind: kTime, name: "u.updated"}, true
	case "emails.", "emails.value":
		return column{kind: kEmails}, true
	}
	return column{}, false
}}

var groups = resource{alias: "g", unique: map[string]bool{"g.id": true, "g.external_id": true, "g.display_name_norm": true}, columns: func(p store.AttrPath) (column, bool) {
	if p.URN != "" {
		return column{}, false
	}
	switch p.Name + "." + p.Sub {
	case "id.":
		return column{kind: kString, name: "g.id", exact: true}, true
	case "externalId.":
		return column{kind: kString, name: "g.external_id", exact: true}, true
	case "displayName.":
		return column{kind: kString, name: "g.display_name_norm"}, true
	case "meta.created":
		return column{kind: kTime, name: "g.created"}, true
	case "meta.lastModified":
		return column{kind: kTime, name: "g.updated"}, true
	case "members.", "members.value":
		return column{kind: kMembers}, true
	}
	return column{}, false
}}

// where collects SQL conditions and their arguments.
type where struct {
	res      resource
	tenantID string
	args     []any
}

func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "?"
}

// expr translates e; it fails only on an attribute the resource does not
// index, which filter.Split never hands over.
func (w *where) expr(e store.Expr) (string, error) {
	switch x := e.(type) {
	case nil:
		return "1", nil
	case store.And:
		return w.binary(x.L, x.R, "AND")
	case store.Or:
		return w.binary(x.L, x.R, "OR")
	case store.Not:
		s, err := w.expr(x.X)
		return "(NOT " + s + ")", err
	case store.Compare:
		return w.compare(x)
	case store.ValuePath:
		return w.valuePath(x)
	}
	return "0", nil // the evaluator calls anything else false
}

func (w *where) binary(l, r store.Expr, op string) (string, error) {
	ls, err := w.expr(l)
	if err != nil {
		return "", err
	}
	rs, err := w.expr(r)
	if err != nil {
		return "", err
	}
	return "(" + ls + " " + op + " " + rs + ")", nil
}

func (w *where) compare(c store.Compare) (string, error) {
	col, ok := w.res.columns(c.Attr)
	if !ok {
		return "", fmt.Errorf("sqlite: filter attribute %s is not indexed", c.Attr)
	}
	switch col.kind {
	case kString:
		return w.str(col.name, col.exact, c.Op, c.Value), nil
	case kBool:
		return w.boolean(col.name, c.Op, c.Value), nil
	case kTime:
		return w.instant(col.name, c.Op, c.Value), nil
	case kEmails:
		return w.emails(c), nil
	case kMembers:
		return w.member(c.Op, c.Value), nil
	}
	return "0", nil
}

// str compares a single-valued string column holding ” when absent.
func (w *where) str(col string, exact bool, op string, v any) string {
	switch op {
	case store.OpPr:
		return "(" + col + " <> '')"
	case store.OpNe:
		return "(NOT " + w.str(col, exact, store.OpEq, v) + ")"
	}
	if v == nil {
		if op == store.OpEq {
			return "(" + col + " = '')"
		}
		return "0"
	}
	s, ok := v.(string)
	if !ok {
		return "0"
	}
	if !exact {
		s = store.NormUserName(s)
	}
	switch op {
	case store.OpEq:
		if s == "" {
			return "0"
		}
		// The redundant "<> ''" lets SQLite use the partial externalId
		// index, whose condition it is.
		return "(" + col + " <> '' AND " + col + " = " + w.arg(s) + ")"
	case store.OpCo, store.OpSw, store.OpEw:
		if s == "" {
			return "(" + col + " <> '')" // every present string contains ""
		}
	}
	switch op {
	case store.OpCo:
		return "(instr(CAST(" + col + " AS BLOB), CAST(" + w.arg(s) + " AS BLOB)) > 0)"
	case store.OpSw:
		// A range keeps the prefix search on the index.
		if hi, ok := prefixEnd(s); ok {
			return "(" + col + " >= " + w.arg(s) + " AND " + col + " < " + w.arg(hi) + ")"
		}
		return "(" + col + " >= " + w.arg(s) + ")"
	case store.OpEw:
		n := w.arg(len(s))
		return "(length(CAST(" + col + " AS BLOB)) >= " + n + " AND substr(CAST(" + col + " AS BLOB), -" + w.arg(len(s)) +
			") = CAST(" + w.arg(s) + " AS BLOB))"
	case store.OpGt:
		return "(" + col + " > " + w.arg(s) + ")"
	case store.OpGe:
		return "(" + col + " <> '' AND " + col + " >= " + w.arg(s) + ")"
	case store.OpLt:
		return "(" + col + " <> '' AND " + col + " < " + w.arg(s) + ")"
	case store.OpLe:
		return "(" + col + " <> '' AND " + col + " <= " + w.arg(s) + ")"
	}
	return "0"
}

// prefixEnd is the smallest string greater than every string starting
// with p, if there is one.
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// boolean compares a boolean column: always present, eq and ne only.
func (w *where) boolean(col, op string, v any) string {
	switch op {
	case store.OpPr:
		return "1"
	case store.OpNe:
		return "(NOT " + w.boolean(col, store.OpEq, v) + ")"
	case store.OpEq:
		if b, ok := v.(bool); ok {
			return "(" + col + " = " + w.arg(boolInt(b)) + ")"
		}
	}
	return "0"
}

// instant compares a unix-millisecond column with an RFC 3339 value that
// may carry more precision than the column: "> 12:00:00.0005" is "> .000"
// in milliseconds, and nothing equals it.
func (w *where) instant(col, op string, v any) string {
	switch op {
	case store.OpPr:
		return "1"
	case store.OpNe:
		return "(NOT " + w.instant(col, store.OpEq, v) + ")"
	}
	t, ok := filter.ParseTime(v)
	if !ok {
		return "0"
	}
	floor := t.UnixMilli()
	exact := t.Nanosecond()%1e6 == 0
	switch op {
	case store.OpEq:
		if !exact {
			return "0"
		}
		return "(" + col + " = " + w.arg(floor) + ")"
	case store.OpGt:
		return "(" + col + " > " + w.arg(floor) + ")"
	case store.OpGe:
		if exact {
			return "(" + col + " >= " + w.arg(floor) + ")"
		}
		return "(" + col + " > " + w.arg(floor) + ")"
	case store.OpLt:
		if exact {
			return "(" + col + " < " + w.arg(floor) + ")"
		}
		return "(" + col + " <= " + w.arg(floor) + ")"
	case store.OpLe:
		return "(" + col + " <= " + w.arg(floor) + ")"
	}
	return "0"
}

// emailsWhere selects the users with an e-mail row satisfying cond. The
// subquery does not depend on the outer row, so SQLite runs it once, from
// the (tenant_id, value_norm) key, and probes users by id: the cost
// follows the matching e-mails, not the tenant's size.
// cond is called after the tenant's placeholder is written, so the
// arguments stay in the order of their placeholders.
func (w *where) emailsWhere(cond func() string) string {
	head := "(u.id IN (SELECT e.user_id FROM user_emails e WHERE e.tenant_id = " + w.arg(w.tenantID) + " AND "
	return head + cond() + "))"
}

// emails compares the multi-valued emails.value: true when some non-empty
// value matches (ne: when none equals).
func (w *where) emails(c store.Compare) string {
	switch c.Op {
	case store.OpNe:
		return "(NOT " + w.emails(store.Compare{Attr: c.Attr, Op: store.OpEq, Value: c.Value}) + ")"
	case store.OpPr:
		return w.emailsWhere(func() string { return "e.value_norm <> ''" })
	}
	if c.Value == nil {
		if c.Op == store.OpEq {
			return "(NOT " + w.emailsWhere(func() string { return "e.value_norm <> ''" }) + ")"
		}
		return "0"
	}
	if _, ok := c.Value.(string); !ok {
		return "0"
	}
	return w.emailsWhere(func() string { return w.str("e.value_norm", false, c.Op, c.Value) })
}

// member answers members.value the way the evaluator can: eq and ne of a
// member id; every other operator is false. Like emailsWhere, the
// subquery runs once from the (tenant_id, member_id) index.
func (w *where) member(op string, v any) string {
	id, ok := v.(string)
	if !ok || op != store.OpEq && op != store.OpNe {
		return "0" // before any placeholder: a "0" must not leave arguments behind
	}
	q := "(g.id IN (SELECT m.group_id FROM memberships m WHERE m.tenant_id = " + w.arg(w.tenantID) + " AND m.member_id = " + w.arg(id) + "))"
	switch op {
	case store.OpEq:
		return q
	case store.OpNe:
		return "(NOT " + q + ")"
	}
	return "0"
}

func (w *where) valuePath(vp store.ValuePath) (string, error) {
	col, ok := w.res.columns(store.AttrPath{URN: vp.Attr.URN, Name: vp.Attr.Name})
	if !ok {
		return "", fmt.Errorf("sqlite: filter attribute %s is not indexed", vp.Attr)
	}
	switch col.kind {
	case kEmails:
		var err error
		s := w.emailsWhere(func() string {
			var inner string
			inner, err = w.element(vp.Filter)
			return inner
		})
		return s, err
	case kMembers:
		// The evaluator answers only members[value op "id"].
		if c, ok := vp.Filter.(store.Compare); ok && c.Attr.Name == "value" {
			return w.member(c.Op, c.Value), nil
		}
		return "0", nil
	}
	return "", fmt.Errorf("sqlite: %s is not multi-valued", vp.Attr)
}

// element translates the filter inside emails[...] for one e-mail row.
func (w *where) element(e store.Expr) (string, error) {
	switch x := e.(type) {
	case store.And:
		l, err := w.element(x.L)
		if err != nil {
			return "", err
		}
		r, err := w.element(x.R)
		return "(" + l + " AND " + r + ")", err
	case store.Or:
		l, err := w.element(x.L)
		if err != nil {
			return "", err
		}
		r, err := w.element(x.R)
		return "(" + l + " OR " + r + ")", err
	case store.Not:
		s, err := w.element(x.X)
		return "(NOT " + s + ")", err
	case store.Compare:
		if x.Attr.Name != "value" || x.Attr.Sub != "" || x.Attr.URN != "" {
			return "", fmt.Errorf("sqlite: filter attribute emails.%s is not indexed", x.Attr.Name)
		}
		return w.str("e.value_norm", false, x.Op, x.Value), nil
	}
	return "0", nil
}

// sortColumn is the SQL column a sort attribute orders by, if it has one.
func sortColumn(res resource, p store.AttrPath) (string, bool) {
	if p == (store.AttrPath{}) {
		return res.alias + ".id", true
	}
	col, ok := res.columns(p)
	if !ok || col.kind == kEmails || col.kind == kMembers {
		return "", false
	}
	return col.name, true
}

// listPlan is what ListUsers and ListGroups share.
type listPlan struct {
	where   string // SQL condition on the table alias
	args    []any
	rest    store.Expr // evaluated in Go, nil when SQL answers all
	sortCol string     // "" when the sort needs Go
	q       store.Query
	// one: the SQL part pins at most one row (a conjunct is eq on a key
	// unique per tenant), so the page query takes microseconds.
	one bool
}

// pinsOne reports whether e, as SQL, matches at most one row of res: it
// is, or is a conjunction with, eq of a non-empty string on a column
// unique per tenant.
func pinsOne(res resource, e store.Expr) bool {
	switch x := e.(type) {
	case store.And:
		return pinsOne(res, x.L) || pinsOne(res, x.R)
	case store.Compare:
		s, ok := x.Value.(string)
		if x.Op != store.OpEq || !ok || s == "" {
			return false
		}
		col, ok := res.columns(x.Attr)
		return ok && col.kind == kString && res.unique[col.name]
	}
	return false
}

func plan(res resource, tenantID string, q store.Query, indexed func(store.AttrPath) bool) (*listPlan, error) {
	idx, rest := filter.Split(q.Filter, indexed)
	w := &where{res: res, tenantID: tenantID}
	cond := res.alias + ".tenant_id = " + w.arg(tenantID)
	if idx != nil {
		s, err := w.expr(idx)
		if err != nil {
			return nil, err
		}
		cond += " AND " + s
	}
	p := &listPlan{where: cond, args: w.args, rest: rest, q: q, one: pinsOne(res, idx)}
	if col, ok := sortColumn(res, q.SortBy); ok {
		p.sortCol = col
	}
	if p.q.Offset < 0 {
		p.q.Offset = 0
	}
	if p.q.Limit < 0 {
		p.q.Limit = 0
	}
	if p.q.MaxScan <= 0 {
		p.q.MaxScan = defaultMaxScan
	}
	return p, nil
}

func (p *listPlan) orderBy(alias string) string {
	dir := ""
	if p.q.Descending {
		dir = " DESC"
	}
	if p.sortCol == alias+".id" {
		return " ORDER BY " + alias + ".id" + dir
	}
	if p.sortCol != "" {
		return " ORDER BY " + p.sortCol + dir + ", " + alias + ".id" + dir
	}
	return " ORDER BY " + alias + ".id"
}

// inSQL reports whether SQL answers the whole query (filter and order).
func (p *listPlan) inSQL() bool { return p.rest == nil && p.sortCol != "" }

// scanLimitErr explains why a query needing a Go-side pass was refused.
func (p *listPlan) scanLimitErr() error {
	if p.rest != nil {
		return &store.ErrInvalid{Field: "filter", Reason: "too many candidates for an unindexed filter; narrow it with an indexed attribute"}
	}
	return &store.ErrInvalid{Field: "sortBy", Reason: "too many candidates to sort by an unindexed attribute; narrow the filter"}
}

// page cuts the requested page out of all matches.
func page[T any](all []T, q store.Query) []T {
	if q.Offset >= len(all) || q.Limit == 0 {
		return []T{}
	}
	end := min(len(all), q.Offset+q.Limit)
	return all[q.Offset:end]
}

// sqlPage answers a query SQL answers whole (listPlan.inSQL): the page
// and the number of matches. A page that is not full tells that number
// itself (what it skipped plus what it holds), so the page alone, one
// statement and so one snapshot, answers the typical IdP lookup of one
// user by userName or externalId: no COUNT, no transaction. Otherwise
// the COUNT and the page run in one read transaction, so they agree.
// Statements built from a filter go through the bounded cache (built):
// their text depends on the filter's shape, not on its values.
func sqlPage[T any](ctx context.Context, s *Store, p *listPlan, from, alias, cols string, scan func(scanner) (*T, error)) ([]*T, int, error) {
	from = ` FROM ` + from + ` WHERE ` + p.where
	pageSQL := `SELECT ` + cols + from + p.orderBy(alias) + ` LIMIT ? OFFSET ?`
	pageArgs := append(slices.Clip(p.args), p.q.Limit, p.q.Offset)
	if p.q.Limit > 0 {
		pctx := ctx
		if p.one {
			// One row at most: no cancellation to watch (see cdb.detach).
			pctx = context.WithoutCancel(ctx)
		}
		items, err := list(pctx, s.rd.built(), scan, pageSQL, pageArgs...)
		if err != nil {
			return nil, 0, err
		}
		if n := len(items); n < p.q.Limit && (n > 0 || p.q.Offset == 0) {
			return items, p.q.Offset + n, nil
		}
	}
	var items []*T
	var total int
	err := s.read(ctx, func(tx *rtx) error {
		q := tx.built()
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*)`+from, p.args...).Scan(&total); err != nil {
			return err
		}
		if p.q.Limit == 0 || p.q.Offset >= total {
			return nil
		}
		var err error
		items, err = list(ctx, q, scan, pageSQL, pageArgs...)
		return err
	})
	return items, total, err
}

// ListUsers lists the tenant's users matching q.Filter, ordered and paged
// as q says, with Total counting every match.
func (s *Store) ListUsers(ctx context.Context, tenantID string, q store.Query) (*store.UserPage, error) {
	p, err := plan(users, tenantID, q, filter.UserIndexed)
	if err != nil {
		return nil, err
	}
	if q.Filter == nil && p.inSQL() {
		return s.listAllUsers(ctx, tenantID, p)
	}
	out := &store.UserPage{Users: []*store.User{}}
	if p.inSQL() {
		users, total, err := sqlPage(ctx, s, p, "users u", "u", userColsU, scanUser)
		if err != nil {
			return nil, err
		}
		if len(users) > 0 {
			out.Users = users
		}
		out.Total = total
		return out, nil
	}
	err = s.read(ctx, func(tx *rtx) error {
		from := ` FROM users u WHERE ` + p.where
		cands, err := list(ctx, tx.built(), scanUser, `SELECT `+userColsU+from+p.orderBy("u")+` LIMIT ?`,
			append(p.args, p.q.MaxScan+1)...)
		if err != nil {
			return err
		}
		filter.Report(ctx, s.scans, store.MemberUser, q, p.rest, len(cands), len(cands) > p.q.MaxScan)
		if len(cands) > p.q.MaxScan {
			return p.scanLimitErr()
		}
		matches := cands[:0]
		for _, u := range cands {
			if filter.MatchUser(p.rest, u) {
				matches = append(matches, u)
			}
		}
		if p.sortCol == "" {
			sortBy(matches, p.q, func(a, b *store.User) int { return filter.CompareUsers(a, b, p.q.SortBy) }, func(u *store.User) string { return u.ID })
		}
		out.Total = len(matches)
		out.Users = page(matches, p.q)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListGroups lists the tenant's groups matching q (see ListUsers).
func (s *Store) ListGroups(ctx context.Context, tenantID string, q store.Query) (*store.GroupPage, error) {
	p, err := plan(groups, tenantID, q, filter.GroupIndexed)
	if err != nil {
		return nil, err
	}
	out := &store.GroupPage{Groups: []*store.Group{}}
	if p.inSQL() {
		groups, total, err := sqlPage(ctx, s, p, "groups g", "g", groupColsG, scanGroup)
		if err != nil {
			return nil, err
		}
		if len(groups) > 0 {
			out.Groups = groups
		}
		out.Total = total
		return out, nil
	}
	err = s.read(ctx, func(tx *rtx) error {
		from := ` FROM groups g WHERE ` + p.where
		cands, err := list(ctx, tx.built(), scanGroup, `SELECT `+groupColsG+from+p.orderBy("g")+` LIMIT ?`,
			append(p.args, p.q.MaxScan+1)...)
		if err != nil {
			return err
		}
		filter.Report(ctx, s.scans, store.MemberGroup, q, p.rest, len(cands), len(cands) > p.q.MaxScan)
		if len(cands) > p.q.MaxScan {
			return p.scanLimitErr()
		}
		matches := cands[:0]
		if p.rest != nil {
			isMember, err := tx.prepare(ctx, `SELECT 1 FROM memberships WHERE tenant_id = ? AND group_id = ? AND member_id = ?`)
			if err != nil {
				return err
			}
			defer isMember.Close()
			var qerr error
			for _, g := range cands {
				member := func(id string) bool {
					var one int
					err := isMember.QueryRowContext(ctx, tenantID, g.ID, id).Scan(&one)
					if err != nil && !errors.Is(err, sql.ErrNoRows) && qerr == nil {
						qerr = err
					}
					return err == nil
				}
				if filter.MatchGroup(p.rest, g, member) {
					matches = append(matches, g)
				}
			}
			if qerr != nil {
				return qerr
			}
		} else {
			matches = cands
		}
		if p.sortCol == "" {
			sortBy(matches, p.q, func(a, b *store.Group) int { return filter.CompareGroups(a, b, p.q.SortBy) }, func(g *store.Group) string { return g.ID })
		}
		out.Total = len(matches)
		out.Groups = page(matches, p.q)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sortBy orders by cmp, then id; descending reverses the whole order, as
// ORDER BY col DESC, id DESC does.
func sortBy[T any](xs []T, q store.Query, cmp func(a, b T) int, id func(T) string) {
	sort.SliceStable(xs, func(i, j int) bool {
		c := cmp(xs[i], xs[j])
		if c == 0 {
			c = strings.Compare(id(xs[i]), id(xs[j]))
		}
		if q.Descending {
			return c > 0
		}
		return c < 0
	})
}

// The column lists qualified with the aliases list queries use.
var (
	userColsU  = prefixed("u", userCols)
	groupColsG = prefixed("g", groupCols)
)

// prefixed qualifies a column list with a table alias.
func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
