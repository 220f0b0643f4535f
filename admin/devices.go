package admin

import (
	"cmp"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

const devicesPerPage = 50

// devicesData is the seeds' Devices & Licenses screen: the pool summary
// on top, then one row per device (users appear once they signed in on a
// device) with the user's license status and the actions.
type devicesData struct {
	Product, Status string
	Products        []productOption
	Pools           []poolCard
	Rows            []devRow
	Total           int
	Page, Pages     int
	// More: the store pages devices without counting them (DevicePager),
	// so the pager says whether a next page exists, not how many.
	More       bool
	Counted    bool
	PrevURL    string
	NextURL    string
	Return     string // this page with its filters, for the actions to come back to
	LicenseURL string
	HasPools   bool
}

type productOption struct {
	ID, Name string
}

type devRow struct {
	DeviceID, Code, DeviceName    string
	UserID, UserName, Name, Email string
	UserURL                       string
	Product, PoolID               string
	License, LicenseClass         string
	DeviceState                   string
	LastSeen                      time.Time
	Note                          string
	UserActive                    bool
	CanAssign, CanRemove, CanMove bool
	CanFlag                       bool
	MoveURL, NoteURL, FlagURL     string
	MoveDeviceURL                 string
	BlockURL                      string
	GroupGranted                  bool
}

// licenseStatus names an assignment's state on this screen.
func licenseStatus(a *store.Assignment) (string, string) {
	if a == nil {
		return "No license", "muted"
	}
	switch a.State {
	case store.AssignActive:
		return "Licensed", "ok"
	case store.AssignWaiting:
		return "Waiting", "warn"
	case store.AssignSuspended:
		return "Suspended", "muted"
	}
	return "Pending", "warn"
}

func (s *server) devicesPage(c *rc) error {
	qv := c.r.URL.Query()
	d := &devicesData{Product: qv.Get("product"), Status: qv.Get("status"), LicenseURL: c.T("devices", "license")}
	switch d.Status {
	case "licensed", "unlicensed", "waiting", "blocked":
	default:
		d.Status = ""
	}
	d.Page, _ = strconv.Atoi(qv.Get("page"))
	d.Page = max(d.Page, 1)
	k, err := s.catalog(c.ctx(), c.tenant.ID)
	if err != nil {
		return err
	}
	d.HasPools = len(k.Pools) > 0
	now := s.now()
	for _, p := range k.Pools {
		d.Products = append(d.Products, productOption{ID: p.ProductID, Name: k.ProductName(p.ProductID)})
		if d.Product == "" || d.Product == p.ProductID {
			d.Pools = append(d.Pools, poolCard{ID: p.ID, Product: k.ProductName(p.ProductID), Total: p.Total, Assigned: p.Assigned,
				Free: max(0, p.Unassigned()), Overage: p.Overage, EndsAt: p.EndsAt, Ended: !p.EndsAt.IsZero() && !now.Before(p.EndsAt)})
		}
	}
	if d.Product != "" && k.PoolOfProduct(d.Product) == nil {
		d.Product = ""
	}
	listQuery := func(page int) string {
		v := url.Values{}
		if d.Product != "" {
			v.Set("product", d.Product)
		}
		if d.Status != "" {
			v.Set("status", d.Status)
		}
		if page > 1 {
			v.Set("page", strconv.Itoa(page))
		}
		if e := v.Encode(); e != "" {
			return "?" + e
		}
		return ""
	}
	d.Return = c.T("devices") + listQuery(d.Page)

	items, err := s.deviceItems(c, k, d)
	if err != nil {
		return err
	}
	if d.Page > 1 {
		d.PrevURL = c.T("devices") + listQuery(d.Page-1)
	}
	if d.Page < d.Pages || d.More {
		d.NextURL = c.T("devices") + listQuery(d.Page+1)
	}
	users := map[string]*store.User{}
	for _, it := range items {
		u, ok := users[it.d.UserID]
		if !ok {
			u, err = s.st.GetUser(c.ctx(), c.tenant.ID, it.d.UserID)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			users[it.d.UserID] = u
		}
		row := devRow{DeviceID: it.d.ID, Code: it.d.DeviceCode, DeviceName: it.d.Name, UserID: it.d.UserID,
			Product: k.ProductName(it.d.ProductID), DeviceState: it.d.State, LastSeen: it.d.LastSeenAt,
			BlockURL: c.T("devices", it.d.ID, "state")}
		row.License, row.LicenseClass = licenseStatus(it.a)
		if it.pool != nil {
			row.PoolID = it.pool.ID
		}
		if u != nil {
			row.UserName, row.Name, row.Email, row.Note, row.UserActive = u.UserName, fullName(u), u.PrimaryEmail(), u.Notes, u.Active
			row.UserURL = c.T("users", u.ID)
			row.NoteURL = c.T("users", u.ID, "note") + "?back=devices"
			row.FlagURL = c.T("users", u.ID, "inactive")
		}
		active := it.a != nil && it.a.State == store.AssignActive
		if it.a != nil {
			row.GroupGranted = slices.ContainsFunc(it.a.Sources, func(src string) bool { return strings.HasPrefix(src, "group:") })
		}
		row.CanAssign = u != nil && u.Active && !active && it.pool != nil
		row.CanRemove = active && !row.GroupGranted
		row.CanMove = active && !row.GroupGranted
		// The seeds allow flagging inactive only without a license.
		row.CanFlag = u != nil && u.Active && !active && !c.isSelf(u)
		if it.d.State != store.DeviceBlocked && it.pool != nil {
			row.MoveDeviceURL = c.T("devices", it.d.ID, "move") + "?" + url.Values{"return": {d.Return}}.Encode()
		}
		if row.CanMove {
			row.MoveURL = c.T("devices", "move") + "?" + url.Values{"pool": {row.PoolID}, "from": {u.ID}}.Encode()
		}
		d.Rows = append(d.Rows, row)
	}
	return c.show("devices", "Devices & Licenses", "devices", d)
}

// returnTo is where an action goes back to: the page the form came from,
// when it is a page of this tenant.
func (c *rc) returnTo(fallback string) string {
	ret := c.r.FormValue("return")
	if strings.HasPrefix(ret, c.T()) && !strings.ContainsAny(ret, "\\\r\n") && !strings.HasPrefix(ret, "//") {
		return ret
	}
	return fallback
}

// deviceLicense is the screen's Assign / Remove license.
func (s *server) deviceLicense(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	back := c.returnTo(c.T("devices"))
	userID, poolID := c.r.FormValue("user"), c.r.FormValue("pool")
	name := s.poolLabel(c, poolID)
	switch c.r.FormValue("action") {
	case "assign":
		return c.back(back, s.eng.Assign(c.ctx(), c.tenant.ID, poolID, userID, c.actor()), "A license of "+name+" was assigned.")
	case "remove":
		return c.back(back, s.eng.Unassign(c.ctx(), c.tenant.ID, poolID, userID, c.actor()), "The license of "+name+" was removed.")
	}
	return invalid("unknown license action")
}

// moveData is the Move license page: whom to give the seat to.
type moveData struct {
	From       *store.User
	FromName   string
	PoolID     string
	Product    string
	Candidates []moveCandidate
	Action     string
	Cancel     string
	UserName   string
	Error      string
}

type moveCandidate struct {
	ID, Name, UserName string
}

func (s *server) moveData(c *rc, poolID, fromID string) (*moveData, error) {
	from, err := s.st.GetUser(c.ctx(), c.tenant.ID, fromID)
	if err != nil {
		return nil, err
	}
	pool, err := s.st.GetPool(c.ctx(), c.tenant.ID, poolID)
	if err != nil {
		return nil, err
	}
	k, err := s.catalog(c.ctx(), c.tenant.ID)
	if err != nil {
		return nil, err
	}
	d := &moveData{From: from, FromName: fullName(from), PoolID: pool.ID, Product: k.ProductName(pool.ProductID),
		Action: c.T("devices", "move"), Cancel: c.T("devices")}
	// The seeds move a license to a user shown on the screen who has
	// none: device users of this product without an active seat.
	var devs []*store.Device
	pg, paged, err := devicePage(c, s.st, store.DeviceQuery{ProductID: pool.ProductID, License: store.LicenseNone, Limit: 400})
	switch {
	case err != nil:
		return nil, err
	case paged:
		devs = pg.Devices
	default:
		if devs, err = s.st.ListDevices(c.ctx(), c.tenant.ID, ""); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{from.ID: true}
	for _, dv := range devs {
		if dv.ProductID != pool.ProductID || seen[dv.UserID] || len(d.Candidates) >= 200 {
			continue
		}
		seen[dv.UserID] = true
		a, err := s.st.GetAssignment(c.ctx(), c.tenant.ID, pool.ID, dv.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if a != nil && a.State == store.AssignActive {
			continue
		}
		u, err := s.st.GetUser(c.ctx(), c.tenant.ID, dv.UserID)
		if err != nil || !u.Active {
			continue
		}
		d.Candidates = append(d.Candidates, moveCandidate{ID: u.ID, Name: fullName(u), UserName: u.UserName})
	}
	return d, nil
}

func (s *server) movePage(c *rc) error {
	d, err := s.moveData(c, c.r.URL.Query().Get("pool"), c.r.URL.Query().Get("from"))
	if err != nil {
		return err
	}
	return c.show("move", "Move license", "devices", d)
}

func (s *server) moveSeat(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	d, err := s.moveData(c, c.r.FormValue("pool"), c.r.FormValue("from"))
	if err != nil {
		return err
	}
	to, typed, problem, err := s.recipient(c, "license")
	if err != nil {
		return err
	}
	if problem != "" {
		d.UserName, d.Error = typed, problem
		return c.showStatus(422, "move", "Move license", "devices", d)
	}
	if err := s.eng.Move(c.ctx(), c.tenant.ID, d.PoolID, d.From.ID, to, c.actor()); err != nil {
		ue := asUserError(err)
		if ue == nil {
			return err
		}
		d.Error = ue.Msg
		return c.showStatus(ue.Status, "move", "Move license", "devices", d)
	}
	return c.redirect(c.T("devices"), "The license of "+d.Product+" moved from "+d.From.UserName+".")
}

// deviceState unbinds or blocks a device (the side panel's Devices tab and
// the Devices & Licenses screen).
func (s *server) deviceState(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	id := c.r.PathValue("id")
	dv, err := s.st.GetDevice(c.ctx(), c.tenant.ID, id)
	if err != nil {
		return err
	}
	back := c.returnTo(c.T("users", dv.UserID) + "?tab=devices#panel")
	switch c.r.FormValue("action") {
	case "unbind":
		return c.back(back, s.eng.UnbindDevice(c.ctx(), c.tenant.ID, id, c.actor()), "Device "+dv.DeviceCode+" was unbound; its seat slot is free.")
	case "block":
		return c.back(back, s.eng.BlockDevice(c.ctx(), c.tenant.ID, id, c.actor()), "Device "+dv.DeviceCode+" was blocked; its leases no longer renew.")
	}
	return invalid("unknown device action")
}

// devItem is a device with its product's pool and its user's seat there.
type devItem struct {
	d    *store.Device
	pool *store.Pool
	a    *store.Assignment
}

// deviceItems returns the page d asks for. A store that pages devices
// (store.DevicePager) reads that page with its seats in one query;
// otherwise every device and seat of the tenant is read and filtered
// here.
func (s *server) deviceItems(c *rc, k *catalog, d *devicesData) ([]devItem, error) {
	q := store.DeviceQuery{ProductID: d.Product, Offset: (d.Page - 1) * devicesPerPage, Limit: devicesPerPage}
	switch d.Status {
	case "licensed":
		q.License = store.LicenseActive
	case "unlicensed":
		q.License = store.LicenseNone
	case "waiting":
		q.License = store.LicenseWaiting
	case "blocked":
		q.State = store.DeviceBlocked
	}
	pg, paged, err := devicePage(c, s.st, q)
	if err != nil {
		return nil, err
	}
	if paged {
		d.More, d.Pages = pg.More, d.Page
		items := make([]devItem, 0, len(pg.Devices))
		for i, dv := range pg.Devices {
			items = append(items, devItem{d: dv, pool: k.PoolOfProduct(dv.ProductID), a: pg.Seats[i]})
		}
		return items, nil
	}

	devs, err := s.st.ListDevices(c.ctx(), c.tenant.ID, "")
	if err != nil {
		return nil, err
	}
	// One query per pool for every seat, rather than one per device.
	seats := map[string]*store.Assignment{} // pool/user
	for _, p := range k.Pools {
		as, err := s.st.ListAssignments(c.ctx(), c.tenant.ID, store.AssignmentQuery{PoolID: p.ID})
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			seats[p.ID+"/"+a.UserID] = a
		}
	}
	var items []devItem
	for _, dv := range devs {
		if d.Product != "" && dv.ProductID != d.Product {
			continue
		}
		it := devItem{d: dv, pool: k.PoolOfProduct(dv.ProductID)}
		if it.pool != nil {
			it.a = seats[it.pool.ID+"/"+dv.UserID]
		}
		active := it.a != nil && it.a.State == store.AssignActive
		switch d.Status {
		case "licensed":
			if !active {
				continue
			}
		case "unlicensed":
			if active {
				continue
			}
		case "waiting":
			if it.a == nil || it.a.State != store.AssignWaiting {
				continue
			}
		case "blocked":
			if dv.State != store.DeviceBlocked {
				continue
			}
		}
		items = append(items, it)
	}
	// The order DevicePager keeps: by product, then code.
	slices.SortFunc(items, func(a, b devItem) int {
		return cmp.Or(strings.Compare(a.d.ProductID, b.d.ProductID), strings.Compare(a.d.DeviceCode, b.d.DeviceCode))
	})
	d.Counted = true
	d.Total = len(items)
	d.Pages = max(1, (d.Total+devicesPerPage-1)/devicesPerPage)
	d.Page = min(d.Page, d.Pages)
	lo := (d.Page - 1) * devicesPerPage
	return items[lo:min(len(items), lo+devicesPerPage)], nil
}

// devicePage reads a page through the store's DevicePager; ok is false
// when the store has none. A wrapper around the store (roster serve's
// metrics) offers the method whatever its backend does, and answers
// errors.ErrUnsupported for a backend without it.
func devicePage(c *rc, st store.Store, q store.DeviceQuery) (pg *store.DevicePage, ok bool, err error) {
	pager, ok := st.(store.DevicePager)
	if !ok {
		return nil, false, nil
	}
	pg, err = pager.ListDevicesPage(c.ctx(), c.tenant.ID, q)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil, false, nil
	}
	return pg, true, err
}

// recipient reads whom a move form gives the device or seat (what) to:
// the user picked from the list, or the one whose user name was typed.
// problem, when set, is what to tell the admin; typed is the name they
// typed, to show again.
func (s *server) recipient(c *rc, what string) (to, typed, problem string, err error) {
	to = c.r.FormValue("to")
	if typed = c.val("toUserName"); typed != "" {
		u, err := s.st.GetUserByUserName(c.ctx(), c.tenant.ID, typed)
		if errors.Is(err, store.ErrNotFound) {
			return "", typed, "There is no user " + typed + " in this account.", nil
		}
		if err != nil {
			return "", typed, "", err
		}
		to = u.ID
	}
	if to == "" {
		problem = "Choose who gets the " + what + "."
	}
	return to, typed, problem, nil
}
