package admin

import (
	"errors"
	"net/mail"
	"strconv"

	"github.com/roster-scim/roster/store"
)

// settingsData is the tenant's Settings page.
type settingsData struct {
	Name       string
	InviteFrom string
	Version    int64
	Action     string
	Errors     map[string]string
	Error      string
}

func (s *server) settingsPage(c *rc) error {
	return c.show("settings", "Settings", "settings", &settingsData{Name: c.tenant.Name, InviteFrom: c.tenant.InviteFrom,
		Version: c.tenant.Version, Action: c.T("settings")})
}

func (s *server) settingsSave(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	d := &settingsData{Name: c.val("name"), InviteFrom: c.val("inviteFrom"), Action: c.T("settings"), Errors: map[string]string{}}
	d.Version, _ = strconv.ParseInt(c.r.FormValue("version"), 10, 64)
	if d.Name == "" || len(d.Name) > 100 {
		d.Errors["name"] = "Enter the organisation's name (1 to 100 characters)."
	}
	if d.InviteFrom != "" {
		if a, err := mail.ParseAddress(d.InviteFrom); err != nil || !isEmail(a.Address) {
			d.Errors["inviteFrom"] = `Enter an e-mail address, optionally with a name: IT Service Desk <it@example.com>.`
		}
	}
	if len(d.Errors) > 0 {
		d.Error = "Some fields need your attention."
		return c.showStatus(422, "settings", "Settings", "settings", d)
	}
	t := *c.tenant
	before := `{"name":` + jsonString(t.Name) + `,"inviteFrom":` + jsonString(t.InviteFrom) + `}`
	t.Name, t.InviteFrom = d.Name, d.InviteFrom
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
	s.audit(c, "settings.update", "tenant", t.ID, before, `{"name":`+jsonString(t.Name)+`,"inviteFrom":`+jsonString(t.InviteFrom)+`}`, "")
	return c.redirect(c.T("settings"), "Settings were saved.")
}
