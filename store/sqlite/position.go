package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"sync"

	"github.com/roster-scim/roster/store"
)

// An unfiltered list of users, the way an IdP or the portal pages through
// a tenant, would otherwise walk every user twice per page: COUNT(*) for
// totalResults, and OFFSET, which steps over every row before the page.
// Migration 0004 keeps, in user_runs, each tenant's count and its users
// cut in id order into runs of a few hundred with their counts, in the
// statement that inserts or deletes a user. So the total is
// one row, and the page at any position starts at the run holding that
// position, skipping less than one run: the cost no longer grows with the
// tenant. Readers keep the runs in memory for as long as the totals row's gen
// says they are current.

// maxRunTenants bounds the tenants whose runs are kept.
const maxRunTenants = 256

// runs is one tenant's runs (user_runs) at one gen.
type runs struct {
	gen int64
	los []string // first id of each run ("" for the first)
	cum []int    // cum[i]: users before run i; cum[len(los)]: all
}

// find returns the run holding position pos (0-based, ascending id).
func (r *runs) find(pos int) int {
	return sort.Search(len(r.los), func(i int) bool { return r.cum[i+1] > pos })
}

type runCache struct {
	mu sync.Mutex
	m  map[string]*runs
}

func (c *runCache) get(tenantID string, gen int64) *runs {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.m[tenantID]; r != nil && r.gen == gen {
		return r
	}
	return nil
}

func (c *runCache) put(tenantID string, r *runs) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*runs)
	}
	if _, ok := c.m[tenantID]; !ok && len(c.m) >= maxRunTenants {
		for k := range c.m { // any one: a tenant that lists again reloads
			delete(c.m, k)
			break
		}
	}
	c.m[tenantID] = r
}

// userRuns returns the tenant's runs as tx sees them, at gen.
func (s *Store) userRuns(ctx context.Context, tx *rtx, tenantID string, gen int64) (*runs, error) {
	if r := s.runs.get(tenantID, gen); r != nil {
		return r, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT lo, n FROM user_runs WHERE tenant_id = ? AND totals = 0 ORDER BY lo`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	r := &runs{gen: gen, cum: []int{0}}
	for rows.Next() {
		var lo string
		var n int
		if err := rows.Scan(&lo, &n); err != nil {
			return nil, err
		}
		r.los = append(r.los, lo)
		r.cum = append(r.cum, r.cum[len(r.cum)-1]+n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	s.runs.put(tenantID, r)
	return r, nil
}

// listAllUsers answers ListUsers without a filter, ordered in SQL.
func (s *Store) listAllUsers(ctx context.Context, tenantID string, p *listPlan) (*store.UserPage, error) {
	out := &store.UserPage{Users: []*store.User{}}
	err := s.read(ctx, func(tx *rtx) error {
		// Reading the totals and a page from a run takes microseconds,
		// whatever the tenant's size: no cancellation to watch (see
		// cdb.detach). OFFSET in another order can take longer and keeps
		// it.
		quick := context.WithoutCancel(ctx)
		var gen int64
		err := tx.QueryRowContext(quick, `SELECT n, gen FROM user_runs WHERE tenant_id = ? AND totals = 1 AND lo = ''`, tenantID).Scan(&out.Total, &gen)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // the tenant never had a user
		}
		if err != nil || p.q.Limit == 0 || p.q.Offset >= out.Total {
			return err
		}
		cols := `SELECT ` + userColsU + ` FROM users u WHERE u.tenant_id = ?`
		var users []*store.User
		if p.sortCol != "u.id" {
			users, err = list(ctx, tx.built(), scanUser, cols+p.orderBy("u")+` LIMIT ? OFFSET ?`, tenantID, p.q.Limit, p.q.Offset)
		} else {
			users, err = s.userPageByID(quick, tx, tenantID, gen, out.Total, p, cols)
		}
		if len(users) > 0 {
			out.Users = users
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// userPageByID reads the page of p ordered by id, starting from the run
// that holds its first position.
func (s *Store) userPageByID(ctx context.Context, tx *rtx, tenantID string, gen int64, total int, p *listPlan, cols string) ([]*store.User, error) {
	r, err := s.userRuns(ctx, tx, tenantID, gen)
	if err != nil {
		return nil, err
	}
	if len(r.los) == 0 || r.los[0] != "" || r.cum[len(r.los)] != total {
		// Never written so; should it be, OFFSET is slow but right.
		return list(ctx, tx, scanUser, cols+p.orderBy("u")+` LIMIT ? OFFSET ?`, tenantID, p.q.Limit, p.q.Offset)
	}
	if !p.q.Descending {
		i := r.find(p.q.Offset)
		return list(ctx, tx, scanUser, cols+` AND u.id >= ? ORDER BY u.id LIMIT ? OFFSET ?`,
			tenantID, r.los[i], p.q.Limit, p.q.Offset-r.cum[i])
	}
	// Descending: the page's first user is at ascending position pos;
	// skip from the end of its run.
	pos := total - 1 - p.q.Offset
	i := r.find(pos)
	skip := r.cum[i+1] - 1 - pos
	if i+1 == len(r.los) {
		return list(ctx, tx, scanUser, cols+` ORDER BY u.id DESC LIMIT ? OFFSET ?`, tenantID, p.q.Limit, skip)
	}
	return list(ctx, tx, scanUser, cols+` AND u.id < ? ORDER BY u.id DESC LIMIT ? OFFSET ?`,
		tenantID, r.los[i+1], p.q.Limit, skip)
}
