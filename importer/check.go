package importer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

// catalog resolves the names a file uses (group display names, product
// codes) to records of the tenant, caching what it looked up. Submit and
// Run each build their own, so a group created between the two is found.
type catalog struct {
	st       store.Store
	tenantID string
	now      time.Time

	groups   map[string]*store.Group // NormDisplayName -> group; nil: none
	products map[string]*product     // lower-cased code
	// ruled maps a group id to the pools its members get a seat of
	// through rules on it or on a group above it.
	ruled map[string][]string
	rules map[string][]string // group id -> pools of rules naming it
}

type product struct {
	code string
	prod *store.Product
	pool *store.Pool // nil: the tenant has no pool of it
}

func newCatalog(ctx context.Context, st store.Store, tenantID string, now time.Time) (*catalog, error) {
	c := &catalog{st: st, tenantID: tenantID, now: now, groups: map[string]*store.Group{},
		products: map[string]*product{}, ruled: map[string][]string{}, rules: map[string][]string{}}
	prods, err := st.ListProducts(ctx)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	pools, err := st.ListPools(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list pools: %w", err)
	}
	byProduct := map[string]*store.Pool{}
	for _, p := range pools {
		byProduct[p.ProductID] = p
	}
	for _, p := range prods {
		c.products[strings.ToLower(p.Code)] = &product{code: p.Code, prod: p, pool: byProduct[p.ID]}
	}
	rules, err := st.ListRules(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	for _, r := range rules {
		c.rules[r.GroupID] = append(c.rules[r.GroupID], r.PoolID)
	}
	return c, nil
}

// group finds a group by display name, case-insensitively.
func (c *catalog) group(ctx context.Context, name string) (*store.Group, error) {
	k := store.NormDisplayName(name)
	if g, ok := c.groups[k]; ok {
		return g, nil
	}
	page, err := c.st.ListGroups(ctx, c.tenantID, store.Query{
		Filter: store.Compare{Attr: store.AttrPath{Name: "displayName"}, Op: store.OpEq, Value: name},
		Limit:  2,
	})
	if err != nil {
		return nil, fmt.Errorf("look up group %q: %w", name, err)
	}
	var g *store.Group
	for _, x := range page.Groups {
		if store.NormDisplayName(x.DisplayName) == k {
			g = x
			break
		}
	}
	c.groups[k] = g
	return g, nil
}

func (c *catalog) product(code string) *product { return c.products[strings.ToLower(code)] }

// ruledPools lists the pools whose rules cover a member of groupID,
// through nesting too (the engine walks the same way).
func (c *catalog) ruledPools(ctx context.Context, groupID string) ([]string, error) {
	if p, ok := c.ruled[groupID]; ok {
		return p, nil
	}
	var pools []string
	if len(c.rules) > 0 {
		seen := map[string]bool{groupID: true}
		frontier := []string{groupID}
		for depth := 0; len(frontier) > 0 && depth < 32; depth++ {
			var next []string
			for _, id := range frontier {
				for _, p := range c.rules[id] {
					if !slices.Contains(pools, p) {
						pools = append(pools, p)
					}
				}
				refs, err := c.st.GroupsOf(ctx, c.tenantID, id)
				if err != nil {
					return nil, fmt.Errorf("list parent groups: %w", err)
				}
				for _, r := range refs {
					if !seen[r.ID] {
						seen[r.ID] = true
						next = append(next, r.ID)
					}
				}
			}
			frontier = next
		}
	}
	c.ruled[groupID] = pools
	return pools, nil
}

// checker holds what validating a file row by row must remember: the
// logins already seen, the seats already promised to earlier rows, the
// demand that will have to wait.
type checker struct {
	*catalog
	// seen maps a folded login to the first row that used it.
	seen map[string]seenRow
	// dups lists first occurrences to flag once a later row repeats them.
	dups map[int]int // N of the first row -> line of the repeat
	// free is what is left of each deny pool's unassigned seats after the
	// rows checked so far; allow-over pools are absent (never full).
	free map[string]int
	// waiting counts, per pool, users a group rule will put on the
	// waiting list because earlier rows took the free seats.
	waiting map[string]int
	poolOf  map[string]*product // pool id -> product
	// known holds the tenant's logins (folded) when the tenant was small
	// enough to list up front, sparing a lookup per row; nil means look
	// each login up.
	known map[string]known
}

// known is what the check needs of an existing user.
type known struct {
	id, userName string
	active       bool
}

// preloadMax is the largest tenant whose logins are listed up front; a
// first bulk load into an empty tenant, the common case, costs no lookup
// at all.
var preloadMax = 20_000

// loadKnown lists the tenant's users when there are few enough of them.
func (c *checker) loadKnown(ctx context.Context) error {
	page, err := c.st.ListUsers(ctx, c.tenantID, store.Query{})
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	if page.Total > preloadMax {
		return nil
	}
	m := make(map[string]known, page.Total)
	for offset := 0; offset < page.Total; offset += 1000 {
		p, err := c.st.ListUsers(ctx, c.tenantID, store.Query{Offset: offset, Limit: 1000})
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		for _, u := range p.Users {
			m[store.NormUserName(u.UserName)] = known{id: u.ID, userName: u.UserName, active: u.Active}
		}
		if len(p.Users) < 1000 {
			break
		}
	}
	c.known = m
	return nil
}

// lookup finds the user who has a login.
func (c *checker) lookup(ctx context.Context, login string) (*known, error) {
	if c.known != nil {
		if k, ok := c.known[store.NormUserName(login)]; ok {
			return &k, nil
		}
		return nil, nil
	}
	u, err := c.st.GetUserByUserName(ctx, c.tenantID, login)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up user %s: %w", login, err)
	}
	return &known{id: u.ID, userName: u.UserName, active: u.Active}, nil
}

type seenRow struct{ n, line int }

func newChecker(cat *catalog) *checker {
	c := &checker{catalog: cat, seen: map[string]seenRow{}, dups: map[int]int{},
		free: map[string]int{}, waiting: map[string]int{}, poolOf: map[string]*product{}}
	for _, p := range cat.products {
		if p.pool == nil {
			continue
		}
		c.poolOf[p.pool.ID] = p
		if p.pool.Policy != store.PolicyAllowOver {
			c.free[p.pool.ID] = max(0, p.pool.Unassigned())
		}
	}
	return c
}

// check validates a row against the tenant and the rows before it. It
// returns the row's problems and the id of the user the login already
// belongs to (the row is then an update). Only store failures are errors.
func (c *checker) check(ctx context.Context, in *rowInput, n, line int, errs []string) ([]string, string, error) {
	var existing *known
	if in.username != "" {
		k := store.NormUserName(in.username)
		if first, dup := c.seen[k]; dup {
			errs = append(errs, fmt.Sprintf("%s: %s is also on row %d; each login may appear only once", ColUsername, in.username, first.line))
			if _, flagged := c.dups[first.n]; !flagged {
				c.dups[first.n] = line
			}
		} else {
			c.seen[k] = seenRow{n: n, line: line}
			var err error
			if existing, err = c.lookup(ctx, in.username); err != nil {
				return nil, "", err
			}
		}
	}
	var groupIDs []string
	var unknown []string
	for _, name := range in.groups {
		g, err := c.group(ctx, name)
		if err != nil {
			return nil, "", err
		}
		if g == nil {
			unknown = append(unknown, name)
			continue
		}
		groupIDs = append(groupIDs, g.ID)
	}
	if len(unknown) > 0 {
		msg := fmt.Sprintf("%s: no group named %s in this account; create it first or correct the name", ColGroups, quoteList(unknown))
		if strings.Contains(strings.Join(unknown, ""), ",") {
			msg += " (separate groups with semicolons)"
		}
		errs = append(errs, msg)
	}
	var direct []*product
	for _, code := range in.products {
		p := c.product(code)
		switch {
		case p == nil:
			errs = append(errs, fmt.Sprintf("%s: unknown product %q", ColProducts, code))
		case p.pool == nil:
			errs = append(errs, fmt.Sprintf("%s: this account has no %q licenses", ColProducts, p.code))
		case !p.pool.ActiveAt(c.now):
			if !p.pool.StartsAt.IsZero() && c.now.Before(p.pool.StartsAt) {
				errs = append(errs, fmt.Sprintf("%s: the %q licenses start on %s", ColProducts, p.code, p.pool.StartsAt.Format(time.DateOnly)))
			} else {
				errs = append(errs, fmt.Sprintf("%s: the %q licenses ended on %s", ColProducts, p.code, p.pool.EndsAt.Format(time.DateOnly)))
			}
		default:
			direct = append(direct, p)
		}
	}
	if existing != nil && !existing.active && len(direct) > 0 {
		errs = append(errs, fmt.Sprintf("%s: %s is deactivated; reactivate the user before giving them a license", ColProducts, existing.userName))
	}
	id := ""
	if existing != nil {
		id = existing.id
	}
	if len(errs) > 0 {
		return errs, id, nil
	}
	errs, err := c.reserve(ctx, existing, direct, groupIDs)
	return errs, id, err
}

// reserve counts the seats the row will take, in row order, against the
// free seats of deny pools. A product named in the row that finds no seat
// is the row's error (Engine.Assign would refuse it); a seat that only a
// group rule asks for waits, which is the rule's normal outcome, and is
// reported as a warning of the whole job.
func (c *checker) reserve(ctx context.Context, existing *known, direct []*product, groupIDs []string) ([]string, error) {
	holds := func(poolID string) (bool, error) {
		if existing == nil {
			return false, nil
		}
		a, err := c.st.GetAssignment(ctx, c.tenantID, poolID, existing.id)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read assignment: %w", err)
		}
		return a.State == store.AssignActive, nil
	}
	var errs []string
	var taken []string
	handled := map[string]bool{}
	for _, p := range direct {
		handled[p.pool.ID] = true
		has, err := holds(p.pool.ID)
		if err != nil {
			return nil, err
		}
		left, limited := c.free[p.pool.ID]
		switch {
		case has || !limited:
		case left > 0:
			c.free[p.pool.ID]--
			taken = append(taken, p.pool.ID)
		default:
			errs = append(errs, fmt.Sprintf("%s: no free %q seat left for this row (the account has %d unassigned and earlier rows take them); add seats or remove the product from some rows",
				ColProducts, p.code, max(0, p.pool.Unassigned())))
		}
	}
	if len(errs) > 0 {
		for _, id := range taken { // the row will not be applied
			c.free[id]++
		}
		return errs, nil
	}
	if !c.ruledAny() {
		return nil, nil
	}
	for _, g := range groupIDs {
		pools, err := c.ruledPools(ctx, g)
		if err != nil {
			return nil, err
		}
		for _, id := range pools {
			if handled[id] {
				continue
			}
			handled[id] = true
			has, err := holds(id)
			if err != nil {
				return nil, err
			}
			left, limited := c.free[id]
			switch {
			case has || !limited:
			case left > 0:
				c.free[id]--
			default:
				c.waiting[id]++
			}
		}
	}
	return nil, nil
}

func (c *checker) ruledAny() bool { return len(c.rules) > 0 }

// warnings describes what the file will do that is not an error.
func (c *checker) warnings() []string {
	var out []string
	ids := make([]string, 0, len(c.waiting))
	for id := range c.waiting {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		code := id
		if p := c.poolOf[id]; p != nil {
			code = p.code
		}
		out = append(out, fmt.Sprintf("%d users join groups that give a %q seat, but no seat will be free for them: they will wait for one (the pool does not allow overage). Add seats to license them now",
			c.waiting[id], code))
	}
	return out
}
