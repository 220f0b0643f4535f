package admin

import (
	"encoding/json"
	"errors"
	"net/mail"
	"net/url"
	"strconv"

	"github.com/roster-scim/roster/store"
)

// settingsData is the tenant's Settings page.
type settingsData struct {
	Name       string
	InviteFrom string
	// SSO: the users sign in with their company's SSO, at SignInURL
	// when given; invitations then ask for no password.
	SSO       bool
	SignInURL string
	Version   int64
	Action    string
	Errors    map[string]string
	Error     string
}

func (s *server) settingsPage(c *rc) error {
	return c.show("settings", "Settings", "settings", &settingsData{Name: c.tenant.Name, InviteFrom: c.tenant.InviteFrom,
		SSO: c.tenant.SSO, SignInURL: c.tenant.SSOSignInURL, Version: c.tenant.Version, Action: c.T("settings")})
}

func (s *server) settingsSave(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	d := &settingsData{Name: c.val("name"), InviteFrom: c.val("inviteFrom"), Action: c.T("settings"), Errors: map[string]string{},
		SSO: c.checked("sso"), SignInURL: c.val("signInURL")}
	d.Version, _ = strconv.ParseInt(c.r.FormValue("version"), 10, 64)
	if d.Name == "" || len(d.Name) > 100 {
		d.Errors["name"] = "Enter the organisation's name (1 to 100 characters)."
	}
	if d.InviteFrom != "" {
		if a, err := mail.ParseAddress(d.InviteFrom); err != nil || !isEmail(a.Address) {
			d.Errors["inviteFrom"] = `Enter an e-mail address, optionally with a name: IT Service Desk <it@example.com>.`
		}
	}
	if d.SignInURL != "" {
		if u, err := url.Parse(d.SignInURL); err != nil || u.Scheme != "https" || u.Host == "" || len(d.SignInURL) > 2000 {
			d.Errors["signInURL"] = "Enter the https address where your people sign in, e.g. https://login.example.com, or leave it empty."
		}
	}
	if len(d.Errors) > 0 {
		d.Error = "Some fields need your attention."
		return c.showStatus(422, "settings", "Settings", "settings", d)
	}
	t := *c.tenant
	before := settingsJSON(&t)
	t.Name, t.InviteFrom, t.SSO, t.SSOSignInURL = d.Name, d.InviteFrom, d.SSO, d.SignInURL
	if d.Version != 0 {
		t.Version = d.Version
	}
	if err := s.st.UpdateTenant(c.ctx(), &t); err != nil {
		ue := asUserError(err)
		if ue == nil {
			return err
		}
		if _, ok := store.IsConflict(err); ok {
			d.Errors["name"] = "Another organisation already has this name."
		}
		if errors.Is(err, store.ErrPrecondition) {
			d.Version = c.tenant.Version
		}
		d.Error = ue.Msg
		return c.showStatus(ue.Status, "settings", "Settings", "settings", d)
	}
	s.audit(c, "settings.update", "tenant", t.ID, before, settingsJSON(&t), "")
	return c.redirect(c.T("settings"), "Settings were saved.")
}

// settingsJSON is what the audit log keeps of the settings.
func settingsJSON(t *store.Tenant) string {
	b, _ := json.Marshal(map[string]any{"name": t.Name, "inviteFrom": t.InviteFrom, "sso": t.SSO, "ssoSignInUrl": t.SSOSignInURL})
	return string(b)
}
