package admin

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

// opTenantsData is the operators' list of tenants.
type opTenantsData struct {
	Rows      []opTenantRow
	CreateURL string
	NewName   string
	Error     string
}

type opTenantRow struct {
	T                   *store.Tenant
	Users, Pools        int
	UpdateURL, PoolsURL string
	UsersURL            string
}

func (s *server) opTenantsData(c *rc) (*opTenantsData, error) {
	ts, err := s.st.ListTenants(c.ctx())
	if err != nil {
		return nil, err
	}
	sortTenants(ts)
	d := &opTenantsData{CreateURL: s.base + "/op/tenants"}
	for _, t := range ts {
		page, err := s.st.ListUsers(c.ctx(), t.ID, store.Query{Limit: 0})
		if err != nil {
			return nil, err
		}
		pools, err := s.st.ListPools(c.ctx(), t.ID)
		if err != nil {
			return nil, err
		}
		d.Rows = append(d.Rows, opTenantRow{T: t, Users: page.Total, Pools: len(pools),
			UpdateURL: s.base + "/op/tenants/" + t.ID, PoolsURL: s.base + "/op/tenants/" + t.ID + "/pools",
			UsersURL: s.base + "/t/" + t.ID + "/users"})
	}
	return d, nil
}

func (s *server) opTenantsPage(c *rc) error {
	d, err := s.opTenantsData(c)
	if err != nil {
		return err
	}
	return c.show("op_tenants", "Tenants", "op-tenants", d)
}

func (s *server) opTenantCreate(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	name := c.val("name")
	fail := func(msg string, status int) error {
		d, err := s.opTenantsData(c)
		if err != nil {
			return err
		}
		d.NewName, d.Error = name, msg
		return c.showStatus(status, "op_tenants", "Tenants", "op-tenants", d)
	}
	if name == "" || len(name) > 100 {
		return fail("Enter the organisation's name (1 to 100 characters).", 422)
	}
	t := &store.Tenant{Name: name}
	if err := s.st.CreateTenant(c.ctx(), t); err != nil {
		if _, ok := store.IsConflict(err); ok {
			return fail("An organisation with this name already exists.", 409)
		}
		return err
	}
	c.tenant = t
	s.audit(c, "tenant.create", "tenant", t.ID, "", `{"name":`+jsonString(name)+`}`, "")
	return c.redirect(s.base+"/op/tenants/"+t.ID+"/pools", name+" was created. Give it seat pools next.")
}

func (s *server) opTenantUpdate(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	back := s.base + "/op/tenants"
	for range 5 {
		t, err := s.st.GetTenant(c.ctx(), c.r.PathValue("id"))
		if err != nil {
			return err
		}
		c.tenant = t
		var action, msg string
		switch c.r.FormValue("action") {
		case "rename":
			name := c.val("name")
			if name == "" || len(name) > 100 {
				return c.back(back, invalid("Enter the organisation's name (1 to 100 characters)."), "")
			}
			action, msg = "tenant.update", t.Name+" is now called "+name+"."
			t.Name = name
		case "suspend":
			action, msg = "tenant.suspend", t.Name+" is suspended: its admins cannot sign in and its SCIM tokens are refused."
			t.Suspended = true
		case "unsuspend":
			action, msg = "tenant.unsuspend", t.Name+" is active again."
			t.Suspended = false
		default:
			return invalid("unknown action")
		}
		err = s.st.UpdateTenant(c.ctx(), t)
		if errors.Is(err, store.ErrPrecondition) {
			continue
		}
		if err == nil {
			s.audit(c, action, "tenant", t.ID, "", `{"name":`+jsonString(t.Name)+`,"suspended":`+strconv.FormatBool(t.Suspended)+`}`, "")
		}
		return c.back(back, err, msg)
	}
	return store.ErrPrecondition
}

// opPoolsData is a tenant's pools as operators manage them.
type opPoolsData struct {
	Tenant    *store.Tenant
	Pools     []opPoolRow
	Products  []productOption // products the tenant has no pool of yet
	CreateURL string
	Form      poolForm
	Error     string
}

type opPoolRow struct {
	P         *store.Pool
	Product   string
	UpdateURL string
	Ended     bool
}

// poolForm is the create form's values.
type poolForm struct {
	Product, Total, Starts, Ends, Devices, Policy string
	AutoAssign                                    bool
}

func (s *server) opPoolsData(c *rc) (*opPoolsData, error) {
	t, err := s.st.GetTenant(c.ctx(), c.r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	c.tenant = t
	k, err := s.catalog(c.ctx(), t.ID)
	if err != nil {
		return nil, err
	}
	d := &opPoolsData{Tenant: t, CreateURL: s.base + "/op/tenants/" + t.ID + "/pools", Form: poolForm{Policy: store.PolicyDeny, Total: "10"}}
	now := s.now()
	for _, p := range k.Pools {
		d.Pools = append(d.Pools, opPoolRow{P: p, Product: k.ProductName(p.ProductID), Ended: !p.EndsAt.IsZero() && !now.Before(p.EndsAt),
			UpdateURL: s.base + "/op/tenants/" + t.ID + "/pools/" + p.ID})
	}
	for _, p := range k.Products {
		if k.PoolOfProduct(p.ID) == nil {
			d.Products = append(d.Products, productOption{ID: p.ID, Name: p.Name})
		}
	}
	return d, nil
}

func (s *server) opPoolsPage(c *rc) error {
	d, err := s.opPoolsData(c)
	if err != nil {
		return err
	}
	return c.show("op_pools", "Pools of "+d.Tenant.Name, "op-tenants", d)
}

// parseDate reads a yyyy-mm-dd date input (UTC midnight); "" is zero.
func parseDate(v string) (time.Time, bool) {
	if v == "" {
		return time.Time{}, true
	}
	t, err := time.Parse("2006-01-02", v)
	return t, err == nil
}

func (s *server) opPoolCreate(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	d, err := s.opPoolsData(c)
	if err != nil {
		return err
	}
	f := poolForm{Product: c.r.FormValue("product"), Total: c.val("total"), Starts: c.val("starts"), Ends: c.val("ends"),
		Devices: c.val("devices"), Policy: c.r.FormValue("policy"), AutoAssign: c.checked("autoAssign")}
	d.Form = f
	fail := func(msg string) error {
		d.Error = msg
		return c.showStatus(422, "op_pools", "Pools of "+d.Tenant.Name, "op-tenants", d)
	}
	total, err := strconv.Atoi(f.Total)
	if err != nil || total < 0 {
		return fail("Total seats: enter 0 or more.")
	}
	devices := 0
	if f.Devices != "" {
		if devices, err = strconv.Atoi(f.Devices); err != nil || devices < 0 {
			return fail("Devices per seat: enter 0 (unlimited) or more.")
		}
	}
	starts, ok1 := parseDate(f.Starts)
	ends, ok2 := parseDate(f.Ends)
	if !ok1 || !ok2 {
		return fail("Dates look like 2026-01-31.")
	}
	if !ends.IsZero() && !starts.IsZero() && !ends.After(starts) {
		return fail("The end date must be after the start date.")
	}
	if f.Policy != store.PolicyDeny && f.Policy != store.PolicyAllowOver {
		return fail("Choose what happens when every seat is taken.")
	}
	if !slices.ContainsFunc(d.Products, func(p productOption) bool { return p.ID == f.Product }) {
		return fail("Choose a product this organisation has no pool of yet.")
	}
	p := &store.Pool{TenantID: d.Tenant.ID, ProductID: f.Product, Total: total, StartsAt: starts, EndsAt: ends,
		MaxDevicesPerSeat: devices, Policy: f.Policy, AutoAssign: f.AutoAssign}
	if err := s.st.CreatePool(c.ctx(), p); err != nil {
		if ue := asUserError(err); ue != nil {
			return fail(ue.Msg)
		}
		return err
	}
	s.audit(c, "pool.create", "pool", p.ID, "", fmt.Sprintf(`{"total":%d,"policy":%q}`, total, f.Policy), "")
	return c.redirect(d.CreateURL, fmt.Sprintf("A pool of %d seats was created.", total))
}

func (s *server) opPoolUpdate(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	t, err := s.st.GetTenant(c.ctx(), c.r.PathValue("id"))
	if err != nil {
		return err
	}
	c.tenant = t
	back := s.base + "/op/tenants/" + t.ID + "/pools"
	poolID := c.r.PathValue("pool")
	action := c.r.FormValue("action")
	if action == "resize" {
		n, err := strconv.Atoi(c.val("total"))
		if err != nil || n < 0 {
			return c.back(back, invalid("Enter the new total number of seats (0 or more)."), "")
		}
		return c.back(back, s.eng.Resize(c.ctx(), t.ID, poolID, n, c.actor()), fmt.Sprintf("The pool now has %d seats.", n))
	}
	for range 5 {
		p, err := s.st.GetPool(c.ctx(), t.ID, poolID)
		if err != nil {
			return err
		}
		var msg, audit string
		switch action {
		case "end":
			p.EndsAt = store.Timestamp(s.now())
			msg, audit = "The pool has ended: it grants no new seats and leases stop renewing.", "pool.end"
		case "update":
			starts, ok1 := parseDate(c.val("starts"))
			ends, ok2 := parseDate(c.val("ends"))
			if !ok1 || !ok2 {
				return c.back(back, invalid("Dates look like 2026-01-31."), "")
			}
			devices, err := strconv.Atoi(c.val("devices"))
			if err != nil || devices < 0 {
				return c.back(back, invalid("Devices per seat: enter 0 (unlimited) or more."), "")
			}
			policy := c.r.FormValue("policy")
			if policy != store.PolicyDeny && policy != store.PolicyAllowOver {
				return c.back(back, invalid("Choose what happens when every seat is taken."), "")
			}
			p.StartsAt, p.EndsAt, p.MaxDevicesPerSeat, p.Policy, p.AutoAssign = starts, ends, devices, policy, c.checked("autoAssign")
			msg, audit = "The pool's terms were saved.", "pool.update"
		default:
			return invalid("unknown action")
		}
		err = s.st.UpdatePool(c.ctx(), p)
		if errors.Is(err, store.ErrPrecondition) {
			continue
		}
		if err == nil {
			s.audit(c, audit, "pool", p.ID, "", fmt.Sprintf(`{"endsAt":%q,"policy":%q,"maxDevicesPerSeat":%d,"autoAssign":%t}`,
				p.EndsAt.Format(time.RFC3339), p.Policy, p.MaxDevicesPerSeat, p.AutoAssign), "")
		}
		return c.back(back, err, msg)
	}
	return store.ErrPrecondition
}

// opProductsData is the product catalogue.
type opProductsData struct {
	Products  []opProductRow
	CreateURL string
	Code      string
	Name      string
	Error     string
}

type opProductRow struct {
	P         *store.Product
	UpdateURL string
}

func (s *server) opProductsData(c *rc) (*opProductsData, error) {
	ps, err := s.st.ListProducts(c.ctx())
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ps, func(a, b *store.Product) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	d := &opProductsData{CreateURL: s.base + "/op/products"}
	for _, p := range ps {
		d.Products = append(d.Products, opProductRow{P: p, UpdateURL: s.base + "/op/products/" + p.ID})
	}
	return d, nil
}

func (s *server) opProductsPage(c *rc) error {
	d, err := s.opProductsData(c)
	if err != nil {
		return err
	}
	return c.show("op_products", "Products", "op-products", d)
}

// validCode: product codes are what apps send at device sign-in, so they
// stay simple: lower-case letters, digits, dots and dashes.
func validCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

func (s *server) opProductCreate(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	code, name := c.val("code"), c.val("name")
	fail := func(status int, msg string) error {
		d, err := s.opProductsData(c)
		if err != nil {
			return err
		}
		d.Code, d.Name, d.Error = code, name, msg
		return c.showStatus(status, "op_products", "Products", "op-products", d)
	}
	if !validCode(code) {
		return fail(422, "Code: lower-case letters, digits, dots, dashes and underscores, up to 64 (apps send it at sign-in), e.g. countthings-pro.")
	}
	if name == "" || len(name) > 100 {
		return fail(422, "Enter the product's name as admins know it (1 to 100 characters).")
	}
	p := &store.Product{Code: code, Name: name}
	if err := s.st.CreateProduct(c.ctx(), p); err != nil {
		if _, ok := store.IsConflict(err); ok {
			return fail(409, "A product with this code already exists.")
		}
		return err
	}
	s.audit(c, "product.create", "product", p.ID, "", `{"code":`+jsonString(code)+`,"name":`+jsonString(name)+`}`, "")
	return c.redirect(s.base+"/op/products", name+" was added to the catalogue.")
}

func (s *server) opProductUpdate(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	back := s.base + "/op/products"
	name := c.val("name")
	if name == "" || len(name) > 100 {
		return c.back(back, invalid("Enter the product's name (1 to 100 characters)."), "")
	}
	for range 5 {
		p, err := s.st.GetProduct(c.ctx(), c.r.PathValue("id"))
		if err != nil {
			return err
		}
		p.Name = name
		err = s.st.UpdateProduct(c.ctx(), p)
		if errors.Is(err, store.ErrPrecondition) {
			continue
		}
		if err == nil {
			s.audit(c, "product.update", "product", p.ID, "", `{"name":`+jsonString(name)+`}`, "")
		}
		return c.back(back, err, "The product is now called "+name+".")
	}
	return store.ErrPrecondition
}

// opRequestsData is the queue of seat requests.
type opRequestsData struct {
	Pending []opRequestRow
	Decided []opRequestRow
}

type opRequestRow struct {
	R                 *store.SeatRequest
	Tenant, Product   string
	Total             int
	DecideURL         string
	TenantLicensesURL string
}

func (s *server) opRequestsPage(c *rc) error {
	d := &opRequestsData{}
	{
		rs, err := s.st.ListSeatRequests(c.ctx(), "", "")
		if err != nil {
			return err
		}
		tenants := map[string]*store.Tenant{}
		cats := map[string]*catalog{}
		for _, r := range rs {
			t, ok := tenants[r.TenantID]
			if !ok {
				t, _ = s.st.GetTenant(c.ctx(), r.TenantID)
				tenants[r.TenantID] = t
			}
			k, ok := cats[r.TenantID]
			if !ok {
				if k, err = s.catalog(c.ctx(), r.TenantID); err != nil {
					return err
				}
				cats[r.TenantID] = k
			}
			row := opRequestRow{R: r, Tenant: "Removed account", Product: k.PoolName(r.PoolID),
				DecideURL: s.base + "/op/requests/" + r.TenantID + "/" + r.ID, TenantLicensesURL: s.base + "/t/" + r.TenantID + "/licenses"}
			if t != nil {
				row.Tenant = t.Name
			}
			if p := k.Pool(r.PoolID); p != nil {
				row.Total = p.Total
			}
			if r.State == store.RequestPending {
				d.Pending = append(d.Pending, row)
			} else if len(d.Decided) < 50 {
				d.Decided = append(d.Decided, row)
			}
		}
	}
	return c.show("op_requests", "Seat requests", "op-requests", d)
}

// opRequestDecide approves (the pool grows by the seats asked for, through
// the engine, which serves the waiting list) or rejects a request. The
// decision is claimed by a compare-and-set first, so two operators
// clicking at once cannot grow the pool twice.
func (s *server) opRequestDecide(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	back := s.base + "/op/requests"
	t, err := s.st.GetTenant(c.ctx(), c.r.PathValue("tenant"))
	if err != nil {
		return err
	}
	c.tenant = t
	r, err := s.st.GetSeatRequest(c.ctx(), t.ID, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	if r.State != store.RequestPending {
		return c.back(back, invalid("This request was already %s.", r.State), "")
	}
	approve := c.r.FormValue("decision") == "approve"
	r.State, r.DecidedBy, r.DecidedAt = store.RequestRejected, c.sess.Subject, store.Timestamp(s.now())
	if approve {
		r.State = store.RequestApproved
	}
	if err := s.st.UpdateSeatRequest(c.ctx(), r); err != nil {
		if errors.Is(err, store.ErrPrecondition) {
			return c.back(back, invalid("Another operator decided this request meanwhile."), "")
		}
		return err
	}
	product := s.poolLabel(c, r.PoolID)
	var msg string
	if approve {
		pool, err := s.st.GetPool(c.ctx(), t.ID, r.PoolID)
		if err == nil {
			err = s.eng.Resize(c.ctx(), t.ID, r.PoolID, pool.Total+r.Seats, c.actor())
		}
		if err != nil {
			// Give the decision back so it can be retried.
			r.State, r.DecidedBy, r.DecidedAt = store.RequestPending, "", time.Time{}
			if uerr := s.st.UpdateSeatRequest(c.ctx(), r); uerr != nil {
				s.log.ErrorContext(c.ctx(), "admin: reopen seat request", "err", uerr)
			}
			return c.back(back, err, "")
		}
		s.audit(c, "seat-request.approve", "pool", r.PoolID, "", fmt.Sprintf(`{"seats":%d,"total":%d}`, r.Seats, pool.Total+r.Seats), r.ID)
		msg = fmt.Sprintf("Approved: %s now has %d seats of %s.", t.Name, pool.Total+r.Seats, product)
	} else {
		s.audit(c, "seat-request.reject", "pool", r.PoolID, "", fmt.Sprintf(`{"seats":%d}`, r.Seats), r.ID)
		msg = "The request was rejected."
	}
	if isEmail(r.RequestedBy) {
		text := fmt.Sprintf("Your request for %d more seats of %s was approved.", r.Seats, product)
		if !approve {
			text = fmt.Sprintf("Your request for %d more seats of %s was not approved. Contact your Roster operator to discuss it.", r.Seats, product)
		}
		now := store.Timestamp(s.now())
		m := &store.OutboxMessage{TenantID: t.ID, ID: store.NewID(), Channel: "email", To: r.RequestedBy,
			Subject: "Your seat request for " + product, Text: text, State: store.OutboxQueued, NextAttemptAt: now, CreatedAt: now}
		if err := s.st.Enqueue(c.ctx(), m); err != nil {
			s.log.ErrorContext(c.ctx(), "admin: queue seat request answer", "err", err)
		}
	}
	return c.redirect(back, msg)
}
