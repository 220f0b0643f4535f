package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// usersPerPage is the Users list's page size. Every page is one store
// query for the users plus two small ones per row, whatever the tenant's
// size: the list never loads all users.
const usersPerPage = 50

// usersData is the Users page: the list and, when a user is selected,
// the side panel.
type usersData struct {
	Query, Status string
	Rows          []userRow
	Total         int
	Page, Pages   int
	PrevURL       string
	NextURL       string
	NewURL        string
	BulkURL       string
	ListURL       string // the list with the current search, no selection
	Panel         *userPanel
	SearchError   string
	// Walked: the pending list, which has no total (see pendingUsers);
	// Scanned is how far into the list this page looked.
	Walked     bool
	From       int
	Scanned    int
	AnyPending bool // a row can get an invitation again
	// More: more than Total users match, and the search stopped
	// counting there (searchCountTo); the pages have no last one.
	More bool
	// ShortSearch: the search is too short to look inside names
	// (shortSearch), so it matched the start of usernames.
	ShortSearch bool
}

// shortSearch reports whether text is too short to search inside names
// (fewer than 3 letters: below a trigram).
func shortSearch(text string) bool {
	n := utf8.RuneCountInString(store.NormUserName(text))
	return n > 0 && n < 3
}

// searchCountTo is where the Users search stops counting: a broad
// search in a large tenant says "more than 1,000" instead of counting
// every match, which would cost more than the page itself.
var searchCountTo = 1000

type userRow struct {
	ID, Name, UserName, Email string
	Status, StatusClass       string
	Licenses                  []string
	Devices                   int
	URL                       string
	Selected                  bool
}

// userPanel is the side panel's tabs: Details, Licenses, Devices, History.
type userPanel struct {
	User       *store.User
	Name       string
	Status     string
	StatusCls  string
	Tab        string
	TabURL     map[string]string
	Email      string
	Mobile     string
	Business   string
	Groups     []store.GroupRef
	Seats      []seatRow
	Devices    []deviceRow
	History    []auditRow
	Pending    bool // activation pending: invitations can be resent
	SMS        bool // login details can go by text message
	Self       bool // the signed-in admin
	EditURL    string
	ActionBase string // POST target prefix for this user's actions
	CloseURL   string
}

type seatRow struct {
	PoolID, Product string
	State           string // "active", "waiting", "suspended" or "" (none)
	Reason          string
	Direct          bool
	Groups          []string
	Free            int
	Full            bool
	Ended           bool
	RequestURL      string
}

type deviceRow struct {
	ID, Code, Name, Product, State string
	LastSeen                       time.Time
}

// userStatus is how the list and panel name a user's state.
func userStatus(u *store.User) (string, string) {
	switch {
	case !u.Active:
		return "Inactive", "muted"
	case u.Activation == store.ActivationPending:
		return "Pending activation", "warn"
	}
	return "Active", "ok"
}

func fullName(u *store.User) string {
	if n := strings.TrimSpace(u.Name.GivenName + " " + u.Name.FamilyName); n != "" {
		return n
	}
	if u.DisplayName != "" {
		return u.DisplayName
	}
	if u.Name.Formatted != "" {
		return u.Name.Formatted
	}
	return u.UserName
}

func phone(u *store.User, typ string) string {
	for _, p := range u.PhoneNumbers {
		if strings.EqualFold(p.Type, typ) {
			return p.Value
		}
	}
	return ""
}

// userSearch turns the search box and status menu into the store's
// user search (store.UserSearch: any part of userName, displayName or
// an e-mail, case-insensitively).
func userSearch(q, status string) store.UserSearch {
	us := store.UserSearch{Text: q, CountTo: searchCountTo}
	switch status {
	case "active", "inactive":
		active := status == "active"
		us.Active = &active
	}
	return us
}

// searchUsers lists a page of a search through the store's UserSearcher,
// whose cost follows the users found, or, when the store has none (a
// wrapper around the store answers errors.ErrUnsupported for a backend
// without it), as the equal filter on indexed attributes, which the
// store answers in its query language however many users the tenant has.
func (s *server) searchUsers(c *rc, q store.UserSearch) (*store.UserPage, error) {
	// One or two letters are in most names: searching inside every name
	// for them reads the whole tenant and finds everyone. They match the
	// start of the username instead, which the userName index answers.
	q.Prefix = shortSearch(q.Text)
	if us, ok := s.st.(store.UserSearcher); ok && q.Text != "" {
		res, err := us.SearchUsers(c.ctx(), c.tenant.ID, q)
		if !errors.Is(err, errors.ErrUnsupported) {
			return res, err
		}
	}
	lq := q.Query()
	lq.MaxScan = 10000
	return s.st.ListUsers(c.ctx(), c.tenant.ID, lq)
}

func (s *server) usersPage(c *rc) error {
	qv := c.r.URL.Query()
	d := &usersData{Query: strings.TrimSpace(qv.Get("q")), Status: qv.Get("status"), NewURL: c.T("users", "new"), BulkURL: c.T("users", "bulk")}
	switch d.Status {
	case "active", "inactive":
	case "pending":
		d.Walked = true
		d.From, _ = strconv.Atoi(qv.Get("from"))
		d.From = max(d.From, 0)
	default:
		d.Status = ""
	}
	d.Page, _ = strconv.Atoi(qv.Get("page"))
	d.Page = max(d.Page, 1)
	listQuery := func(page int) string {
		v := url.Values{}
		if d.Query != "" {
			v.Set("q", d.Query)
		}
		if d.Status != "" {
			v.Set("status", d.Status)
		}
		if page > 1 {
			v.Set("page", strconv.Itoa(page))
		}
		if d.Walked && d.From > 0 {
			v.Set("from", strconv.Itoa(d.From))
		}
		if e := v.Encode(); e != "" {
			return "?" + e
		}
		return ""
	}
	d.ListURL = c.T("users") + listQuery(d.Page)

	k, err := s.catalog(c.ctx(), c.tenant.ID)
	if err != nil {
		return err
	}
	var res *store.UserPage
	if d.Walked {
		var next int
		res = &store.UserPage{}
		res.Users, next, err = s.pendingUsers(c, d.Query, d.From)
		if next > 0 {
			v := url.Values{"status": {"pending"}, "from": {strconv.Itoa(next)}}
			if d.Query != "" {
				v.Set("q", d.Query)
			}
			d.NextURL, d.Scanned = c.T("users")+"?"+v.Encode(), next-d.From
		}
		res.Total = len(res.Users)
	} else {
		d.ShortSearch = shortSearch(d.Query)
		q := userSearch(d.Query, d.Status)
		q.Offset, q.Limit = (d.Page-1)*usersPerPage, usersPerPage
		res, err = s.searchUsers(c, q)
	}
	if _, bad := store.IsInvalid(err); bad {
		d.SearchError = "This search matches too many users to list; type more of the name or e-mail."
		res, err = &store.UserPage{}, nil
	}
	if err != nil {
		return err
	}
	d.Total = res.Total
	d.Pages = max(1, (res.Total+usersPerPage-1)/usersPerPage)
	if !d.Walked && d.Query != "" && res.Total > searchCountTo {
		d.More, d.Total = true, searchCountTo
		d.Pages = d.Page // as far as is known
		if len(res.Users) == usersPerPage {
			d.Pages++
		}
	}
	if d.Page > 1 && !d.Walked {
		d.PrevURL = c.T("users") + listQuery(d.Page-1)
	}
	if d.Page < d.Pages && !d.Walked {
		d.NextURL = c.T("users") + listQuery(d.Page+1)
	}
	selected := c.r.PathValue("id")
	for _, u := range res.Users {
		row := userRow{ID: u.ID, Name: fullName(u), UserName: u.UserName, Email: u.PrimaryEmail(),
			URL: c.T("users", u.ID) + listQuery(d.Page), Selected: u.ID == selected}
		row.Status, row.StatusClass = userStatus(u)
		d.AnyPending = d.AnyPending || (u.Active && u.Activation == store.ActivationPending)
		as, err := s.st.ListAssignments(c.ctx(), c.tenant.ID, store.AssignmentQuery{UserID: u.ID})
		if err != nil {
			return err
		}
		for _, a := range as {
			name := k.PoolName(a.PoolID)
			if a.State != store.AssignActive {
				name += " (" + a.State + ")"
			}
			row.Licenses = append(row.Licenses, name)
		}
		devs, err := s.st.ListDevices(c.ctx(), c.tenant.ID, u.ID)
		if err != nil {
			return err
		}
		row.Devices = len(devs)
		d.Rows = append(d.Rows, row)
	}
	title := "Users"
	if selected != "" {
		p, err := s.userPanel(c, k, selected, qv.Get("tab"), listQuery(d.Page))
		if err != nil {
			return err
		}
		d.Panel = p
		title = p.Name + " · Users"
	}
	return c.show("users", title, "users", d)
}

func (s *server) userPanel(c *rc, k *catalog, id, tab, listQuery string) (*userPanel, error) {
	u, err := s.st.GetUser(c.ctx(), c.tenant.ID, id)
	if err != nil {
		return nil, err
	}
	switch tab {
	case "licenses", "devices", "history":
	default:
		tab = "details"
	}
	p := &userPanel{User: u, Name: fullName(u), Tab: tab, Email: u.PrimaryEmail(), Mobile: phone(u, "mobile"), Business: phone(u, "work"),
		Pending: u.Active && u.Activation == store.ActivationPending, Self: c.isSelf(u), SMS: s.sms && u.Active && phone(u, "mobile") != "",
		EditURL: c.T("users", u.ID, "edit"), ActionBase: c.T("users", u.ID), CloseURL: c.T("users") + listQuery,
		TabURL: map[string]string{}}
	p.Status, p.StatusCls = userStatus(u)
	sep := "?"
	if listQuery != "" {
		sep = "&"
	}
	for _, t := range []string{"details", "licenses", "devices", "history"} {
		p.TabURL[t] = c.T("users", u.ID) + listQuery + sep + "tab=" + t + "#panel"
	}
	switch tab {
	case "details":
		p.Groups, err = s.st.GroupsOf(c.ctx(), c.tenant.ID, u.ID)
	case "licenses":
		p.Seats, err = s.seatRows(c, k, u.ID)
	case "devices":
		p.Devices, err = s.deviceRows(c, k, u.ID)
	case "history":
		var evs []*store.AuditEvent
		evs, err = s.st.ListAudit(c.ctx(), c.tenant.ID, store.AuditQuery{TargetID: u.ID, Limit: 50})
		p.History = auditRows(evs)
	}
	return p, err
}

// seatRows is one row per pool of the tenant with the user's seat in it.
func (s *server) seatRows(c *rc, k *catalog, userID string) ([]seatRow, error) {
	as, err := s.st.ListAssignments(c.ctx(), c.tenant.ID, store.AssignmentQuery{UserID: userID})
	if err != nil {
		return nil, err
	}
	byPool := map[string]*store.Assignment{}
	for _, a := range as {
		byPool[a.PoolID] = a
	}
	now := s.now()
	var rows []seatRow
	for _, p := range k.Pools {
		r := seatRow{PoolID: p.ID, Product: k.ProductName(p.ProductID), Free: max(0, p.Unassigned()),
			Full: p.Unassigned() <= 0 && p.Policy != store.PolicyAllowOver, Ended: !p.ActiveAt(now),
			RequestURL: c.T("licenses") + "#pool-" + p.ID}
		if a := byPool[p.ID]; a != nil {
			r.State, r.Reason = a.State, a.Reason
			for _, src := range a.Sources {
				if src == store.SourceDirect {
					r.Direct = true
				} else if g, ok := strings.CutPrefix(src, "group:"); ok {
					r.Groups = append(r.Groups, s.groupName(c, g))
				}
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func (s *server) groupName(c *rc, id string) string {
	g, err := s.st.GetGroup(c.ctx(), c.tenant.ID, id)
	if err != nil {
		return "a removed group"
	}
	return g.DisplayName
}

func (s *server) deviceRows(c *rc, k *catalog, userID string) ([]deviceRow, error) {
	ds, err := s.st.ListDevices(c.ctx(), c.tenant.ID, userID)
	if err != nil {
		return nil, err
	}
	rows := make([]deviceRow, 0, len(ds))
	for _, d := range ds {
		rows = append(rows, deviceRow{ID: d.ID, Code: d.DeviceCode, Name: d.Name, Product: k.ProductName(d.ProductID), State: d.State, LastSeen: d.LastSeenAt})
	}
	return rows, nil
}

// isSelf reports whether u is the signed-in tenant admin, who must not
// lock themselves out (remove their own rights, deactivate or remove
// themselves): another admin has to do that.
func (c *rc) isSelf(u *store.User) bool {
	if c.sess.Role != store.RoleTenantAdmin {
		return false
	}
	if c.sess.Email != "" {
		if strings.EqualFold(u.UserName, c.sess.Email) {
			return true
		}
		for _, e := range u.Emails {
			if strings.EqualFold(e.Value, c.sess.Email) {
				return true
			}
		}
	}
	return u.ExternalID != "" && u.ExternalID == c.sess.Subject
}

// userForm is the create and edit form.
type userForm struct {
	Edit         bool
	ID           string
	Version      int64
	Action       string
	CancelURL    string
	FirstName    string
	LastName     string
	UserName     string
	Email        string
	Mobile       string
	Business     string
	CustomerCode string
	UDID         string
	Notes        string
	Permissions  string
	Password     string
	AccountAdmin bool
	Invite       bool
	Self         bool
	Seats        []string
	Pools        []poolChoice
	Errors       map[string]string
	Error        string
	// unchanged are the user's current phone numbers by field: one an
	// IdP sent in another form is kept as it is when the form leaves it
	// alone, so editing a note does not first ask for the number's fix.
	unchanged map[string]string
}

type poolChoice struct {
	ID, Product string
	Free        int
	Full        bool
	Chosen      bool
}

func (f *userForm) fail(field, msg string) {
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	if _, ok := f.Errors[field]; !ok {
		f.Errors[field] = msg
	}
}

func (s *server) poolChoices(c *rc, chosen []string) ([]poolChoice, error) {
	k, err := s.catalog(c.ctx(), c.tenant.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []poolChoice
	for _, p := range k.Pools {
		if !p.ActiveAt(now) {
			continue
		}
		out = append(out, poolChoice{ID: p.ID, Product: k.ProductName(p.ProductID), Free: max(0, p.Unassigned()),
			Full: p.Unassigned() <= 0 && p.Policy != store.PolicyAllowOver, Chosen: slices.Contains(chosen, p.ID)})
	}
	return out, nil
}

func (s *server) userNewPage(c *rc) error {
	pools, err := s.poolChoices(c, nil)
	if err != nil {
		return err
	}
	f := &userForm{Action: c.T("users"), CancelURL: c.T("users"), Invite: true, Pools: pools}
	return c.show("user_form", "New user", "users", f)
}

func (s *server) userEditPage(c *rc) error {
	u, err := s.st.GetUser(c.ctx(), c.tenant.ID, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	f := &userForm{Edit: true, ID: u.ID, Version: u.Version, Action: c.T("users", u.ID), CancelURL: c.T("users", u.ID),
		FirstName: u.Name.GivenName, LastName: u.Name.FamilyName, UserName: u.UserName, Email: u.PrimaryEmail(),
		Mobile: phone(u, "mobile"), Business: phone(u, "work"), CustomerCode: u.CustomerCode, UDID: u.UDID, Notes: u.Notes,
		Permissions: strings.Join(u.Permissions, ", "), AccountAdmin: u.AccountAdmin, Self: c.isSelf(u)}
	return c.show("user_form", "Edit "+fullName(u), "users", f)
}

// readUserForm reads and checks the form; f.Errors says what to fix.
func (c *rc) readUserForm(f *userForm) {
	f.FirstName, f.LastName = c.val("firstName"), c.val("lastName")
	f.UserName, f.Email = c.val("userName"), c.val("email")
	f.Mobile, f.Business = c.val("mobile"), c.val("business")
	f.CustomerCode, f.UDID = c.val("customerCode"), c.val("udid")
	f.Notes, f.Permissions = strings.TrimSpace(c.r.FormValue("notes")), c.val("permissions")
	f.Password = c.r.FormValue("password")
	f.AccountAdmin, f.Invite = c.checked("accountAdmin"), c.checked("invite")
	f.Seats = c.r.Form["seat"]

	if f.FirstName == "" {
		f.fail("firstName", "Enter the first name.")
	}
	if f.LastName == "" {
		f.fail("lastName", "Enter the last name.")
	}
	if f.UserName == "" {
		f.fail("userName", "Enter the username: the person's e-mail address.")
	} else if !isEmail(f.UserName) {
		f.fail("userName", "The username must be an e-mail address, like ada@example.com.")
	}
	if f.Email == "" {
		f.Email = f.UserName
	}
	if f.Email != "" && !isEmail(f.Email) {
		f.fail("email", "Enter an e-mail address, like ada@example.com.")
	}
	for field, v := range map[string]*string{"mobile": &f.Mobile, "business": &f.Business} {
		if *v == "" || *v == f.unchanged[field] {
			continue
		}
		// Stored in E.164, as every door stores them, so a text message
		// can go to the number as it is.
		n, err := store.NormPhone(*v)
		if err != nil {
			f.fail(field, "Check the phone number: "+err.Error()+".")
			continue
		}
		*v = n
	}
	for field, v := range map[string]string{"firstName": f.FirstName, "lastName": f.LastName, "customerCode": f.CustomerCode, "udid": f.UDID} {
		if len(v) > 200 {
			f.fail(field, "Keep this under 200 characters.")
		}
	}
	if len(f.Notes) > 4000 {
		f.fail("notes", "Keep notes under 4,000 characters.")
	}
	if f.Password != "" && utf8.RuneCountInString(f.Password) < auth.MinPasswordLength {
		f.fail("password", fmt.Sprintf("Use at least %d characters, or leave it empty and send an invitation instead.", auth.MinPasswordLength))
	}
}

func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == "" && strings.Contains(s[strings.LastIndex(s, "@"):], ".")
}

func permissions(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// apply writes the form's fields to u.
func (f *userForm) apply(u *store.User) {
	u.UserName = f.UserName
	u.Name.GivenName, u.Name.FamilyName = f.FirstName, f.LastName
	u.Name.Formatted = strings.TrimSpace(f.FirstName + " " + f.LastName)
	u.DisplayName = u.Name.Formatted
	setEmail(u, f.Email)
	setPhone(u, "mobile", f.Mobile)
	setPhone(u, "work", f.Business)
	u.CustomerCode, u.UDID, u.Notes = f.CustomerCode, f.UDID, f.Notes
	u.Permissions = permissions(f.Permissions)
	u.AccountAdmin = f.AccountAdmin
}

// setEmail sets the primary e-mail (or the first, which an IdP may have
// sent without a primary flag), keeping any other addresses.
func setEmail(u *store.User, value string) {
	i := slices.IndexFunc(u.Emails, func(e store.MultiValue) bool { return e.Primary })
	if i < 0 && len(u.Emails) > 0 {
		i = 0
	}
	switch {
	case i < 0 && value != "":
		u.Emails = append(u.Emails, store.MultiValue{Value: value, Type: "work", Primary: true})
	case i >= 0 && value == "":
		u.Emails = slices.Delete(u.Emails, i, i+1)
	case i >= 0:
		u.Emails[i].Value = value
	}
}

// setPhone sets the number of type typ ("mobile", or "work" for the
// business phone), keeping numbers of other types an IdP sent.
func setPhone(u *store.User, typ, value string) {
	i := slices.IndexFunc(u.PhoneNumbers, func(e store.MultiValue) bool { return strings.EqualFold(e.Type, typ) })
	switch {
	case i < 0 && value != "":
		u.PhoneNumbers = append(u.PhoneNumbers, store.MultiValue{Value: value, Type: typ})
	case i >= 0 && value == "":
		u.PhoneNumbers = slices.Delete(u.PhoneNumbers, i, i+1)
	case i >= 0:
		u.PhoneNumbers[i].Value = value
	}
}

func (s *server) userCreate(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	f := &userForm{Action: c.T("users"), CancelURL: c.T("users")}
	c.readUserForm(f)
	pools, err := s.poolChoices(c, f.Seats)
	if err != nil {
		return err
	}
	f.Pools = pools
	if len(f.Errors) > 0 {
		f.Error = "Some fields need your attention."
		return c.showStatus(422, "user_form", "New user", "users", f)
	}
	u := &store.User{TenantID: c.tenant.ID, Active: true, Activation: store.ActivationPending}
	f.apply(u)
	if f.Password != "" {
		if u.PasswordHash, err = auth.HashPassword(f.Password); err != nil {
			return err
		}
	}
	if err := s.st.CreateUser(c.ctx(), u); err != nil {
		if cf, ok := store.IsConflict(err); ok {
			f.fail(cf.Attr, "A user with this "+label(cf.Attr)+" already exists in this account.")
			f.Error = "This user already exists."
			return c.showStatus(409, "user_form", "New user", "users", f)
		}
		if ue := asUserError(err); ue != nil {
			f.Error = ue.Msg
			return c.showStatus(ue.Status, "user_form", "New user", "users", f)
		}
		return err
	}
	s.audit(c, "user.create", "user", u.ID, "", userJSON(u), "")
	msg := fmt.Sprintf("%s was created.", u.UserName)
	var problems []string
	for _, poolID := range f.Seats {
		if err := s.eng.Assign(c.ctx(), c.tenant.ID, poolID, u.ID, c.actor()); err != nil {
			if ue := asUserError(err); ue != nil {
				problems = append(problems, s.poolLabel(c, poolID)+": "+ue.Msg)
				continue
			}
			return err
		}
	}
	if f.Invite {
		if err := s.sendInvitation(c, u, store.InviteActivate); err != nil {
			if ue := asUserError(err); ue != nil {
				problems = append(problems, ue.Msg)
			} else {
				return err
			}
		} else {
			msg += " An invitation to activate the account is on its way."
		}
	}
	next := c.T("users", u.ID) + "?tab=licenses#panel"
	if c.r.FormValue("then") == "another" {
		next = c.T("users", "new")
	}
	if len(problems) > 0 {
		c.s.setFlash(c.w, "error", msg+" But: "+strings.Join(problems, " "))
		return c.redirect(next, "")
	}
	return c.redirect(next, msg)
}

func (s *server) poolLabel(c *rc, poolID string) string {
	k, err := s.catalog(c.ctx(), c.tenant.ID)
	if err != nil {
		return "a pool"
	}
	return k.PoolName(poolID)
}

func (s *server) userUpdate(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	u, err := s.st.GetUser(c.ctx(), c.tenant.ID, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	f := &userForm{Edit: true, ID: u.ID, Action: c.T("users", u.ID), CancelURL: c.T("users", u.ID), Self: c.isSelf(u),
		unchanged: map[string]string{"mobile": phone(u, "mobile"), "business": phone(u, "work")}}
	f.Version, _ = strconv.ParseInt(c.r.FormValue("version"), 10, 64)
	c.readUserForm(f)
	if f.Self && u.AccountAdmin && !f.AccountAdmin {
		f.fail("accountAdmin", "You cannot take away your own administrator rights; ask another account administrator.")
	}
	if len(f.Errors) > 0 {
		f.Error = "Some fields need your attention."
		return c.showStatus(422, "user_form", "Edit "+fullName(u), "users", f)
	}
	before := userJSON(u)
	wasAdmin := u.AccountAdmin
	f.apply(u)
	if f.Version != 0 {
		u.Version = f.Version
	}
	if f.Password != "" {
		if u.PasswordHash, err = auth.HashPassword(f.Password); err != nil {
			return err
		}
	}
	if err := s.st.UpdateUser(c.ctx(), u); err != nil {
		ue := asUserError(err)
		if ue == nil {
			return err
		}
		if cf, ok := store.IsConflict(err); ok {
			f.fail(cf.Attr, "Another user of this account already has this "+label(cf.Attr)+".")
		}
		f.Error = ue.Msg
		return c.showStatus(ue.Status, "user_form", "Edit "+fullName(u), "users", f)
	}
	s.audit(c, "user.update", "user", u.ID, before, userJSON(u), "")
	if wasAdmin != u.AccountAdmin {
		s.audit(c, map[bool]string{true: "user.admin.grant", false: "user.admin.revoke"}[u.AccountAdmin], "user", u.ID, "", "", "")
		change, text := licensing.AdminGranted, "You are now an account administrator of "+c.tenant.Name+" in Roster."
		if !u.AccountAdmin {
			change, text = licensing.AdminRevoked, "You are no longer an account administrator of "+c.tenant.Name+" in Roster."
		}
		s.eng.Notify(c.ctx(), u, change, "", text)
	}
	return c.redirect(c.T("users", u.ID)+"#panel", "Changes to "+u.UserName+" were saved.")
}

// userJSON is what the audit log keeps of a user: never the password hash.
func userJSON(u *store.User) string {
	b, _ := json.Marshal(map[string]any{
		"userName": u.UserName, "name": fullName(u), "email": u.PrimaryEmail(), "active": u.Active,
		"accountAdmin": u.AccountAdmin, "permissions": u.Permissions, "customerCode": u.CustomerCode, "udid": u.UDID,
		"mobile": phone(u, "mobile"), "business": phone(u, "work"),
	})
	return string(b)
}

// setActive deactivates or reactivates a user, then lets the engine
// converge their seats: deactivation suspends them (returning the seats
// to the pools and serving the waiting list), reactivation claims them
// back.
func (s *server) setActive(c *rc, u *store.User, active bool) error {
	for range 5 {
		if u.Active == active {
			break
		}
		u.Active = active
		err := s.st.UpdateUser(c.ctx(), u)
		if errors.Is(err, store.ErrPrecondition) {
			if u, err = s.st.GetUser(c.ctx(), c.tenant.ID, u.ID); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		s.audit(c, map[bool]string{true: "user.reactivate", false: "user.deactivate"}[active], "user", u.ID, "", "", "")
		break
	}
	return s.eng.SyncUser(c.ctx(), c.tenant.ID, u.ID, c.actor())
}

// confirmData is the confirmation step of an action that loses something.
type confirmData struct {
	Heading string
	Message string
	Items   []string
	Action  string
	Fields  map[string]string
	IDs     []string
	Button  string
	Danger  bool
	Cancel  string
}

func (s *server) userSetActive(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	u, err := s.st.GetUser(c.ctx(), c.tenant.ID, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	back := c.T("users", u.ID) + "#panel"
	active := c.r.FormValue("active") == "true"
	if !active && c.isSelf(u) {
		return c.back(back, invalid("You cannot deactivate yourself; ask another account administrator."), "")
	}
	if !active && c.r.FormValue("confirm") != "yes" {
		seats, err := s.heldSeats(c, u.ID)
		if err != nil {
			return err
		}
		msg := u.UserName + " will no longer be able to sign in to the apps."
		if len(seats) > 0 {
			msg += " These seats go back to their pools (and come back when the user is reactivated, if seats are free):"
		}
		return c.show("confirm", "Deactivate "+u.UserName, "users", confirmData{Heading: "Deactivate " + fullName(u) + "?", Message: msg,
			Items: seats, Action: c.T("users", u.ID, "active"), Fields: map[string]string{"active": "false", "confirm": "yes"},
			Button: "Deactivate", Danger: true, Cancel: back})
	}
	if err := s.setActive(c, u, active); err != nil {
		return c.back(back, err, "")
	}
	if active {
		return c.redirect(back, u.UserName+" was reactivated.")
	}
	return c.redirect(back, u.UserName+" was deactivated; their seats went back to the pools.")
}

// heldSeats names the products whose active seats a user holds.
func (s *server) heldSeats(c *rc, userID string) ([]string, error) {
	k, err := s.catalog(c.ctx(), c.tenant.ID)
	if err != nil {
		return nil, err
	}
	as, err := s.st.ListAssignments(c.ctx(), c.tenant.ID, store.AssignmentQuery{UserID: userID, State: store.AssignActive})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range as {
		out = append(out, k.PoolName(a.PoolID))
	}
	return out, nil
}

func (s *server) userInvite(c *rc) error {
	u, err := s.st.GetUser(c.ctx(), c.tenant.ID, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	back := c.T("users", u.ID) + "#panel"
	if u.Activation != store.ActivationPending {
		return c.back(back, invalid("%s has already activated their account; use Reset password if they cannot sign in.", u.UserName), "")
	}
	if !u.Active {
		return c.back(back, invalid("%s is inactive; reactivate them before inviting them again.", u.UserName), "")
	}
	return c.back(back, s.sendInvitation(c, u, store.InviteActivate), "A new invitation to "+u.PrimaryEmail()+" is on its way; earlier links no longer work.")
}

func (s *server) userReset(c *rc) error {
	u, err := s.st.GetUser(c.ctx(), c.tenant.ID, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	back := c.T("users", u.ID) + "#panel"
	if !u.Active {
		return c.back(back, invalid("%s is inactive; reactivate them before resetting the password.", u.UserName), "")
	}
	done := "A password reset link to " + u.PrimaryEmail() + " is on its way."
	if c.tenant.SSO {
		// The e-mail carries no link: the company's SSO holds the password.
		done = u.UserName + " signs in with your company SSO, so Roster holds no password to reset; an e-mail telling them so is on its way to " + u.PrimaryEmail() + "."
	}
	return c.back(back, s.sendInvitation(c, u, store.InviteReset), done)
}

// userLoginSMS is the seeds' "send login details by SMS": the message
// goes through the outbox like an e-mail.
func (s *server) userLoginSMS(c *rc) error {
	u, err := s.st.GetUser(c.ctx(), c.tenant.ID, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	back := c.T("users", u.ID) + "#panel"
	switch {
	case !s.sms:
		return c.back(back, invalid("Text messages are not set up on this server; ask the operator to configure sms.url."), "")
	case !u.Active:
		return c.back(back, invalid("%s is inactive; reactivate them before sending login details.", u.UserName), "")
	}
	mobile := phone(u, "mobile")
	if mobile == "" {
		return c.back(back, invalid("%s has no mobile phone number; add one with Edit first.", u.UserName), "")
	}
	if _, err := store.NormPhone(mobile); err != nil {
		return c.back(back, invalid("The mobile phone number %s cannot receive a text message: %s. Correct it with Edit.", mobile, err), "")
	}
	to, err := s.invites.SendLoginSMS(c.ctx(), c.tenant.ID, u.ID, string(c.actor()), store.NormPhone)
	if err != nil {
		return err
	}
	msg := "Login details are on their way by text message to " + to + "."
	if u.Activation == store.ActivationPending {
		msg += " The message carries a new activation link; earlier links no longer work."
	}
	return c.redirect(back, msg)
}

// sendInvitation rotates the user's activation or password-reset link
// and queues the e-mail, through auth.Invites, which also serves the page
// behind the link (/invite/…) where the user sets a password.
func (s *server) sendInvitation(c *rc, u *store.User, kind string) error {
	err := s.invites.Send(c.ctx(), c.tenant.ID, u.ID, kind, string(c.actor()))
	switch {
	case errors.Is(err, auth.ErrAlreadyActive):
		return invalid("%s has already activated their account; use Reset password if they cannot sign in.", u.UserName)
	case errors.Is(err, auth.ErrNoEmail):
		return invalid("%s has no e-mail address; add one first.", u.UserName)
	}
	return err
}

func (s *server) userSeat(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	userID, poolID := c.r.PathValue("id"), c.r.FormValue("pool")
	back := c.T("users", userID) + "?tab=licenses#panel"
	name := s.poolLabel(c, poolID)
	switch c.r.FormValue("action") {
	case "assign":
		return c.back(back, s.eng.Assign(c.ctx(), c.tenant.ID, poolID, userID, c.actor()), "A seat of "+name+" was assigned.")
	case "unassign":
		return c.back(back, s.eng.Unassign(c.ctx(), c.tenant.ID, poolID, userID, c.actor()), "The seat of "+name+" was unassigned.")
	}
	return invalid("unknown seat action")
}

// noteData is the Edit note form.
type noteData struct {
	User   *store.User
	Name   string
	Action string
	Back   string
}

func (s *server) userNotePage(c *rc) error {
	u, err := s.st.GetUser(c.ctx(), c.tenant.ID, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	back := c.r.URL.Query().Get("back")
	if back != "devices" {
		back = "users"
	}
	return c.show("note", "Edit note", back, noteData{User: u, Name: fullName(u), Action: c.T("users", u.ID, "note"), Back: back})
}

func (s *server) userNote(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	note := strings.TrimSpace(c.r.FormValue("note"))
	if len(note) > 4000 {
		return invalid("Keep notes under 4,000 characters.")
	}
	id := c.r.PathValue("id")
	back := c.T("users", id) + "#panel"
	if c.r.FormValue("back") == "devices" {
		back = c.T("devices")
	}
	return c.back(back, s.eng.SetNote(c.ctx(), c.tenant.ID, id, note, c.actor()), "The note was saved.")
}

func (s *server) userFlagInactive(c *rc) error {
	u, err := s.st.GetUser(c.ctx(), c.tenant.ID, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	back := c.T("devices")
	if c.isSelf(u) {
		return c.back(back, invalid("You cannot flag yourself inactive."), "")
	}
	return c.back(back, s.eng.FlagInactive(c.ctx(), c.tenant.ID, u.ID, c.actor()), u.UserName+" was flagged inactive.")
}

// usersBulk is the list's "Remove" and "Resend invitation" for the ticked
// users: a confirmation page first, then the action.
func (s *server) usersBulk(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	ids := c.r.Form["id"]
	back := c.T("users")
	if len(ids) == 0 {
		return c.back(back, invalid("Tick the users first."), "")
	}
	if len(ids) > 500 {
		return c.back(back, invalid("Act on at most 500 users at a time."), "")
	}
	action := c.r.FormValue("action")
	if action != "remove" && action != "invite" {
		return invalid("unknown action")
	}
	var users []*store.User
	for _, id := range ids {
		u, err := s.st.GetUser(c.ctx(), c.tenant.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		users = append(users, u)
	}
	if c.r.FormValue("confirm") != "yes" {
		d := confirmData{Action: c.T("users", "bulk"), Fields: map[string]string{"action": action, "confirm": "yes"}, Cancel: back}
		for _, u := range users {
			d.IDs = append(d.IDs, u.ID)
			item := fullName(u) + " <" + u.UserName + ">"
			if action == "remove" {
				if seats, err := s.heldSeats(c, u.ID); err == nil && len(seats) > 0 {
					item += " — frees " + strings.Join(seats, ", ")
				}
			} else if u.Activation != store.ActivationPending {
				item += " — already active, skipped"
			} else if !u.Active {
				item += " — inactive, skipped"
			}
			d.Items = append(d.Items, item)
		}
		if action == "remove" {
			d.Heading = fmt.Sprintf("Remove %s from the account?", plural(len(users), "user", "users"))
			d.Message = "Their seats return to the pools and their devices are unbound. This cannot be undone; " +
				"if your identity provider still assigns them, it may create them again."
			d.Button, d.Danger = "Remove", true
		} else {
			d.Heading = fmt.Sprintf("Resend the invitation to %s?", plural(len(users), "user", "users"))
			d.Message = "Each receives a new activation link; earlier links stop working. Only users whose activation is pending get one."
			d.Button = "Resend invitation"
		}
		return c.show("confirm", d.Heading, "users", d)
	}
	done, skipped := 0, 0
	for _, u := range users {
		var err error
		switch {
		case action == "remove" && c.isSelf(u):
			skipped++
			continue
		case action == "remove":
			err = s.removeUser(c, u)
		case u.Activation != store.ActivationPending || !u.Active:
			skipped++
			continue
		default:
			err = s.sendInvitation(c, u, store.InviteActivate)
		}
		if err != nil {
			if asUserError(err) != nil {
				skipped++
				continue
			}
			return err
		}
		done++
	}
	msg := fmt.Sprintf("%s removed.", plural(done, "user was", "users were"))
	if action == "invite" {
		msg = fmt.Sprintf("%s on the way.", plural(done, "invitation is", "invitations are"))
	}
	if skipped > 0 {
		msg += fmt.Sprintf(" %d skipped (yourself, already active, inactive, or changed meanwhile).", skipped)
	}
	return c.redirect(back, msg)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// removeUser deletes a user. Their seats are returned through the engine
// first (deactivation suspends them and serves the waiting lists), so the
// deletion's own cascade has no active seat left to release and the
// waiting list is not skipped.
func (s *server) removeUser(c *rc, u *store.User) error {
	if err := s.setActive(c, u, false); err != nil {
		return err
	}
	if err := s.st.DeleteUser(c.ctx(), c.tenant.ID, u.ID, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.audit(c, "user.delete", "user", u.ID, userJSON(u), "", "")
	return nil
}

// audit appends an event; a failed write is logged, not shown, because
// the change it records already happened.
func (s *server) audit(c *rc, action, targetType, targetID, before, after, reason string) {
	tenantID := ""
	if c.tenant != nil {
		tenantID = c.tenant.ID
	}
	s.auditIn(c.ctx(), tenantID, c.actor(), action, targetType, targetID, before, after, reason)
}

func (s *server) auditIn(ctx context.Context, tenantID string, actor licensing.Actor, action, targetType, targetID, before, after, reason string) {
	ev := &store.AuditEvent{TenantID: tenantID, ID: store.NewID(), At: store.Timestamp(s.now()), Actor: string(actor), Action: action,
		TargetType: targetType, TargetID: targetID, Before: before, After: after, Reason: reason}
	if err := s.st.AppendAudit(ctx, ev); err != nil {
		s.log.ErrorContext(ctx, "admin: audit write failed", "action", action, "err", err)
	}
}
