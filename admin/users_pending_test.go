package admin

import (
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/roster-scim/roster/store"
)

var rowUserName = regexp.MustCompile(`<span class="small muted block">([^<]+@acme\.test)</span>`)

// listed returns the usernames of the rows of a Users page.
func listed(body string) []string {
	var out []string
	for _, m := range rowUserName.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// TestUsersPendingActivationFilter: the Users list filters the users who
// have not accepted their invitation, pages through them, and offers
// "Resend invitation" only where such a user is listed.
func TestUsersPendingActivationFilter(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	activated := func(name string) *store.User {
		u := e.user(e.acme.ID, name, false)
		u.Activation = store.ActivationActive
		must(t, e.st.UpdateUser(e.ctx, u))
		return u
	}
	// Pending users are spread between activated ones, as in a real list.
	var pending []string
	for i := range 63 {
		if i%3 == 0 {
			activated(fmt.Sprintf("u%03d-done@acme.test", i))
		}
		name := fmt.Sprintf("u%03d-new@acme.test", i)
		e.user(e.acme.ID, name, false)
		pending = append(pending, name)
	}
	gone := e.user(e.acme.ID, "u999-gone@acme.test", false) // pending, then deactivated: inactive first
	gone.Active = false
	must(t, e.st.UpdateUser(e.ctx, gone))

	path := "/admin/t/" + e.acme.ID + "/users"
	rec := e.get(op, path+"?status=pending")
	wantStatus(t, rec, 200, "pending users")
	body := rec.Body.String()
	got := listed(body)
	if strings.Join(got, ",") != strings.Join(pending[:usersPerPage], ",") {
		t.Fatalf("first page of pending users:\ngot  %v\nwant %v", got, pending[:usersPerPage])
	}
	if !strings.Contains(body, `<option value="pending" selected>Pending activation</option>`) {
		t.Errorf("status menu does not show the pending filter chosen")
	}
	if !strings.Contains(body, `value="invite"`) {
		t.Errorf("no Resend invitation for a page of pending users")
	}
	more := regexp.MustCompile(`href="([^"]+)" rel="next">More pending users`).FindStringSubmatch(body)
	if more == nil {
		t.Fatalf("no link to the next pending users:\n%s", body)
	}
	next := html.UnescapeString(more[1])
	rec = e.get(op, next)
	wantStatus(t, rec, 200, "next pending users")
	if got := listed(rec.Body.String()); strings.Join(got, ",") != strings.Join(pending[usersPerPage:], ",") {
		t.Errorf("second page of pending users:\ngot  %v\nwant %v", got, pending[usersPerPage:])
	}
	if strings.Contains(rec.Body.String(), "More pending users") {
		t.Errorf("a link to more pending users after the last")
	}

	// Only activated users listed: nothing to resend.
	rec = e.get(op, path+"?"+url.Values{"q": {"done"}}.Encode())
	wantStatus(t, rec, 200, "activated users")
	if len(listed(rec.Body.String())) != 21 || strings.Contains(rec.Body.String(), `value="invite"`) {
		t.Errorf("a list of %d activated users offers Resend invitation", len(listed(rec.Body.String())))
	}
	// A search that finds no pending user says so.
	rec = e.get(op, path+"?"+url.Values{"q": {"done"}, "status": {"pending"}}.Encode())
	if b := rec.Body.String(); len(listed(b)) != 0 || !strings.Contains(b, "has activated their account") {
		t.Errorf("pending among activated users: %v", listed(b))
	}
}

// TestNoInvitationForInactiveUsers: a deactivated user who never
// activated is not offered an invitation, and one sent anyway (an old
// form) is refused with the reason.
func TestNoInvitationForInactiveUsers(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	u := e.user(e.acme.ID, "gone@acme.test", false) // pending
	u.Active = false
	must(t, e.st.UpdateUser(e.ctx, u))
	base := "/admin/t/" + e.acme.ID + "/users"
	if strings.Contains(e.get(op, base+"/"+u.ID).Body.String(), `/invite"`) {
		t.Errorf("panel offers Resend invitation to an inactive user")
	}
	if strings.Contains(e.get(op, base+"?status=inactive").Body.String(), `value="invite"`) {
		t.Errorf("a list of inactive users offers Resend invitation")
	}
	rec := e.post(op, base+"/"+u.ID+"/invite", nil)
	if f := flashOf(rec); !strings.Contains(f, "error: gone@acme.test is inactive") {
		t.Errorf("invite to an inactive user: flash %q", f)
	}
	e.post(op, base+"/bulk", url.Values{"action": {"invite"}, "confirm": {"yes"}, "id": {u.ID}})
	if invs, _ := e.st.ListInvitations(e.ctx, e.acme.ID, u.ID); len(invs) != 0 {
		t.Errorf("an inactive user was sent %d invitations", len(invs))
	}
}
