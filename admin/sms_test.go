package admin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/roster-scim/roster/store"
)

// The seeds' "send login details by SMS": offered for a user with a
// mobile number when a provider is configured, queued through the outbox,
// refused with a message saying what to fix otherwise.
func TestUserLoginDetailsBySMS(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.SMS = true })
	op := e.operator()
	base := "/admin/t/" + e.acme.ID + "/users/"
	withMobile := func(name, mobile string) *store.User {
		u := e.user(e.acme.ID, name, false)
		u.PhoneNumbers = []store.MultiValue{{Value: mobile, Type: "mobile"}}
		must(t, e.st.UpdateUser(e.ctx, u))
		return u
	}
	ada := withMobile("ada@acme.test", "+44 7700 900123")
	if body := e.get(op, base+ada.ID).Body.String(); !strings.Contains(body, `action="`+base+ada.ID+`/sms"`) {
		t.Errorf("user panel does not offer Send login details by SMS")
	}
	rec := e.post(op, base+ada.ID+"/sms", nil)
	wantStatus(t, rec, http.StatusSeeOther, "send login details")
	if f := flashOf(rec); !strings.Contains(f, "ok: Login details are on their way by text message to +447700900123") || !strings.Contains(f, "new activation link") {
		t.Errorf("flash = %q", f)
	}
	msgs := e.outboxTo("+447700900123")
	if len(msgs) != 1 || msgs[0].Channel != "sms" || !strings.Contains(msgs[0].Text, "ada@acme.test") || !strings.Contains(msgs[0].Text, "https://roster.example.com/invite/") {
		t.Fatalf("queued text messages: %+v", msgs)
	}

	tests := []struct {
		name string
		user *store.User
		want string
	}{
		// An IdP may have sent a number without its country code.
		{"national number", withMobile("cy@acme.test", "07700 900123"), "error: The mobile phone number 07700 900123 cannot receive a text message: the number needs its country code"},
		{"no mobile", e.user(e.acme.ID, "dee@acme.test", false), "error: dee@acme.test has no mobile phone number; add one with Edit first."},
	}
	for _, tt := range tests {
		rec := e.post(op, base+tt.user.ID+"/sms", nil)
		wantStatus(t, rec, http.StatusSeeOther, tt.name)
		if f := flashOf(rec); !strings.HasPrefix(f, tt.want) {
			t.Errorf("%s: flash %q, want %q", tt.name, f, tt.want)
		}
	}

	// Editing such a user keeps the number the IdP sent unless the form
	// changes it; a changed one must be international.
	cy := tests[0].user
	cy, _ = e.st.GetUser(e.ctx, e.acme.ID, cy.ID)
	edit := url.Values{"version": {itoa(cy.Version)}, "firstName": {"Cy"}, "lastName": {"Tester"}, "userName": {cy.UserName},
		"mobile": {"07700 900123"}, "notes": {"Counts pipes"}}
	wantStatus(t, e.post(op, base+cy.ID, edit), http.StatusSeeOther, "edit a user whose number has no country code")
	if got, _ := e.st.GetUser(e.ctx, e.acme.ID, cy.ID); got.Notes != "Counts pipes" || phone(got, "mobile") != "07700 900123" {
		t.Errorf("after the edit: notes %q mobile %q", got.Notes, phone(got, "mobile"))
	}
	cy, _ = e.st.GetUser(e.ctx, e.acme.ID, cy.ID)
	edit.Set("version", itoa(cy.Version))
	edit.Set("mobile", "07700 900124")
	if rec := e.post(op, base+cy.ID, edit); rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "needs its country code") {
		t.Errorf("a changed number without country code: %d, want 422 asking for it", rec.Code)
	}

	off := newEnv(t)
	u := off.user(off.acme.ID, "ada@acme.test", false)
	u.PhoneNumbers = []store.MultiValue{{Value: "+447700900123", Type: "mobile"}}
	must(t, off.st.UpdateUser(off.ctx, u))
	offOp := off.operator()
	if body := off.get(offOp, base[:len("/admin/t/")]+off.acme.ID+"/users/"+u.ID).Body.String(); strings.Contains(body, "/sms\"") {
		t.Errorf("panel offers SMS on a server without a provider")
	}
	rec = off.post(offOp, "/admin/t/"+off.acme.ID+"/users/"+u.ID+"/sms", url.Values{})
	if f := flashOf(rec); !strings.Contains(f, "Text messages are not set up on this server") {
		t.Errorf("SMS without a provider: flash %q", f)
	}
	if ms, _ := off.st.ListOutbox(off.ctx, off.acme.ID, 10); len(ms) != 0 {
		t.Errorf("refused requests queued %d messages", len(ms))
	}
}
