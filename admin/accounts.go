package admin

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/store"
)

// A person may be the account administrator of several tenants (a
// reseller's staff, a holding's IT team): the same verified e-mail or
// subject is an admin user in each. Their session names the tenant
// auth.Roles chose first; every other tenant is checked by the same rule
// (auth.Roles.Recheck) on each request for it, so rights taken away in
// one tenant end access there at once and nothing about the others is
// stored in the session.

// administers reports whether the signed-in tenant admin is an active
// account admin of tenantID, which must be active too.
func (s *server) administers(ctx context.Context, sess *store.Session, tenantID string) (bool, error) {
	if sess.Role != store.RoleTenantAdmin {
		return false, nil
	}
	if tenantID == sess.TenantID {
		return true, nil // session() rechecked it
	}
	if s.roles == nil || tenantID == "" {
		return false, nil
	}
	other := *sess
	other.TenantID = tenantID
	err := s.roles.Recheck(ctx, &other)
	if errors.Is(err, auth.ErrNotAdmin) || errors.Is(err, auth.ErrTenantSuspended) {
		return false, nil
	}
	return err == nil, err
}

// accountsTTL is how long a node trusts the list of a person's tenants
// it worked out, for the menu and the chooser; access itself is checked
// on every request.
const accountsTTL = time.Minute

// accountCache remembers, per session, the tenants its person
// administers: working them out asks the store about every tenant.
type accountCache struct {
	mu sync.Mutex
	m  map[string]accountEntry // session hash
}

type accountEntry struct {
	tenants []*store.Tenant
	at      time.Time
}

// adminTenants lists the active tenants the signed-in tenant admin
// administers, by name; the session's own tenant is always among them.
func (s *server) adminTenants(ctx context.Context, sess *store.Session) ([]*store.Tenant, error) {
	now := s.now()
	s.accounts.mu.Lock()
	e, ok := s.accounts.m[sess.Hash]
	s.accounts.mu.Unlock()
	if ok && now.Sub(e.at) < accountsTTL && now.Sub(e.at) >= 0 {
		return e.tenants, nil
	}
	all, err := s.st.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	var mine []*store.Tenant
	for _, t := range all {
		if t.Suspended {
			continue
		}
		if ok, err := s.administers(ctx, sess, t.ID); err != nil {
			return nil, err
		} else if ok {
			mine = append(mine, t)
		}
	}
	sortTenants(mine)
	s.accounts.mu.Lock()
	if s.accounts.m == nil || len(s.accounts.m) > 10000 {
		s.accounts.m = map[string]accountEntry{} // sessions come and go; start over rather than track them
	}
	s.accounts.m[sess.Hash] = accountEntry{tenants: mine, at: now}
	s.accounts.mu.Unlock()
	return mine, nil
}

// accountsData is the chooser shown after sign-in to a person who
// administers several tenants.
type accountsData struct {
	Accounts []accountChoice
}

type accountChoice struct {
	Name, URL string
	Current   bool
}

func (s *server) accountsPage(c *rc) error {
	if c.operator() {
		return c.redirect(s.base+"/op/tenants", "")
	}
	ts, err := s.adminTenants(c.ctx(), c.sess)
	if err != nil {
		return err
	}
	current := ""
	if ck, err := c.r.Cookie(lastTenantCookie); err == nil {
		current = ck.Value // only marks a choice; the list is the person's tenants
	}
	d := accountsData{}
	for _, t := range ts {
		d.Accounts = append(d.Accounts, accountChoice{Name: t.Name, URL: s.base + "/switch?tenant=" + urlQueryEscape(t.ID), Current: t.ID == current})
	}
	p := c.page("Choose an account", "", d)
	p.Tenants = nil // the page is the chooser
	s.render(c.w, c.r, http.StatusOK, "accounts", p)
	return nil
}

// lastTenant is the tenant a tenant admin last chose, when they still
// administer it, else their session's.
func (s *server) lastTenant(c *rc) string {
	if ck, err := c.r.Cookie(lastTenantCookie); err == nil && ck.Value != c.sess.TenantID {
		if ok, err := s.administers(c.ctx(), c.sess, ck.Value); err == nil && ok {
			return ck.Value
		}
	}
	return c.sess.TenantID
}
