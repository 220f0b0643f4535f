package store

// Expr is a SCIM filter (RFC 7644 §3.4.2.2) after parsing and after its
// attribute names were resolved to their canonical spelling. The scim
// package builds it from the parser's AST; store/filter plans and
// evaluates it; backends translate the indexed part to their query
// language.
type Expr interface{ expr() }

// Filter operators.
const (
	OpEq = "eq"
	OpNe = "ne"
	OpCo = "co"
	OpSw = "sw"
	OpEw = "ew"
	OpGt = "gt"
	OpGe = "ge"
	OpLt = "lt"
	OpLe = "le"
	OpPr = "pr"
)

// AttrPath names an attribute: URN is "" for core attributes, else the
// extension schema URN; Sub is the sub-attribute ("familyName" of "name",
// "value" of "emails") or "". "meta.lastModified" is {Name: "meta", Sub:
// "lastModified"}.
type AttrPath struct {
	URN  string
	Name string
	Sub  string
}

// String renders the path the way SCIM writes it.
func (p AttrPath) String() string {
	s := p.Name
	if p.Sub != "" {
		s += "." + p.Sub
	}
	if p.URN != "" {
		s = p.URN + ":" + s
	}
	return s
}

// And is a conjunction.
type And struct{ L, R Expr }

// Or is a disjunction.
type Or struct{ L, R Expr }

// Not negates X.
type Not struct{ X Expr }

// Compare is `attr op value`; for OpPr Value is nil. Value is a string,
// bool, float64 or nil (SCIM null). Date-time values stay strings and are
// compared as instants when the attribute is a dateTime.
type Compare struct {
	Attr  AttrPath
	Op    string
	Value any
}

// ValuePath is `attr[filter]`: some element of the multi-valued attribute
// Attr satisfies Filter, whose paths are sub-attributes of Attr (their
// Name is the sub-attribute, URN and Sub are empty).
type ValuePath struct {
	Attr   AttrPath
	Filter Expr
}

func (And) expr()       {}
func (Or) expr()        {}
func (Not) expr()       {}
func (Compare) expr()   {}
func (ValuePath) expr() {}

// Query is a list request: filter, order and page. Results are always in a
// stable order: by SortBy (when set) and then by id, so a client paging
// through never sees a record twice or misses one that did not change.
type Query struct {
	Filter     Expr
	SortBy     AttrPath // zero: by id (creation order)
	Descending bool
	Offset     int // 0-based
	Limit      int // maximum records returned; 0 returns only Total
	// MaxScan bounds the records a backend evaluates in Go for a filter
	// part its indexes cannot answer; beyond it the backend returns
	// ErrInvalid{Field: "filter"} rather than scan a whole tenant.
	MaxScan int
}

// UserPage is one page of users and the number of all matching users.
type UserPage struct {
	Users []*User
	Total int
}

// GroupPage is one page of groups and the number of all matching groups.
type GroupPage struct {
	Groups []*Group
	Total  int
}
