package admin

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/store"
)

func TestSignedOutGoesToSignIn(t *testing.T) {
	e := newEnv(t)
	rec := e.get(nil, "/admin/t/"+e.acme.ID+"/users?q=ada")
	wantStatus(t, rec, http.StatusSeeOther, "GET users signed out")
	loc := rec.Header().Get("Location")
	want := "/admin/login?next=" + url.QueryEscape("/admin/t/"+e.acme.ID+"/users?q=ada")
	if loc != want {
		t.Errorf("Location: got %q, want %q", loc, want)
	}
	rec = e.get(nil, "/admin/login")
	wantStatus(t, rec, http.StatusOK, "GET login")
	if body := rec.Body.String(); !strings.Contains(body, "OIDC is not configured") || !strings.Contains(body, "one-time sign-in link") {
		t.Errorf("sign-in page without OIDC lacks the banner or the bootstrap hint:\n%s", body)
	}
	// A POST without a session changes nothing and goes to sign in too.
	rec = e.post(nil, "/admin/t/"+e.acme.ID+"/users", url.Values{"firstName": {"x"}})
	wantStatus(t, rec, http.StatusSeeOther, "POST signed out")
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	for _, path := range []string{"/admin/t/" + e.acme.ID + "/users", "/admin/login", "/admin/nowhere", "/admin/static/app.css"} {
		rec := e.get(op, path)
		h := rec.Header()
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows inline code", path, csp)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
	}
	// No inline script or style anywhere in a page (the CSP would block it).
	for _, path := range []string{"/admin/t/" + e.acme.ID + "/users", "/admin/t/" + e.acme.ID + "/licenses", "/admin/t/" + e.acme.ID + "/connect", "/admin/t/" + e.acme.ID + "/import"} {
		body := e.get(op, path).Body.String()
		for _, bad := range []string{"<script>", " style=", "<style", "onclick=", "javascript:"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
	}
}

func TestCookiesAreSafe(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	rec := e.post(op, "/admin/t/"+e.acme.ID+"/reprocess", nil)
	for _, c := range rec.Result().Cookies() {
		if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/admin" {
			t.Errorf("cookie %s: HttpOnly=%v Secure=%v SameSite=%v Path=%q, want HttpOnly, Secure (https public URL), Lax, /admin",
				c.Name, c.HttpOnly, c.Secure, c.SameSite, c.Path)
		}
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	req := httptest.NewRequest("POST", "https://roster.example.com/admin/t/"+e.acme.ID+"/users",
		strings.NewReader(url.Values{"firstName": {"Eve"}, "lastName": {"X"}, "userName": {"eve@evil.test"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(op)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	wantStatus(t, rec, http.StatusForbidden, "cross-site POST")
	if !strings.Contains(rec.Body.String(), "sent from another site") {
		t.Errorf("refusal page does not say why:\n%s", rec.Body)
	}
	if _, err := e.st.GetUserByUserName(e.ctx, e.acme.ID, "eve@evil.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cross-site POST created a user (err %v)", err)
	}
}

func TestUserCreateValidation(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	path := "/admin/t/" + e.acme.ID + "/users"
	tests := []struct {
		name string
		form url.Values
		want []string
	}{
		{"empty", url.Values{}, []string{"Enter the first name.", "Enter the last name.", "Enter the username"}},
		{"username not an e-mail", url.Values{"firstName": {"Ada"}, "lastName": {"L"}, "userName": {"ada"}}, []string{"The username must be an e-mail address"}},
		{"bad phone", url.Values{"firstName": {"Ada"}, "lastName": {"L"}, "userName": {"ada@acme.test"}, "mobile": {"call me"}}, []string{"Check the phone number: letters are not allowed"}},
		{"phone without country code", url.Values{"firstName": {"Ada"}, "lastName": {"L"}, "userName": {"ada@acme.test"}, "mobile": {"020 7946 0958"}}, []string{"Check the phone number: the number needs its country code"}},
		{"short password", url.Values{"firstName": {"Ada"}, "lastName": {"L"}, "userName": {"ada@acme.test"}, "password": {"short"}}, []string{"at least 12 characters"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.post(op, path, tt.form)
			wantStatus(t, rec, http.StatusUnprocessableEntity, "POST "+tt.form.Encode())
			body := rec.Body.String()
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("form %v: page lacks %q", tt.form, w)
				}
			}
			if !strings.Contains(body, `aria-invalid="true"`) {
				t.Errorf("form %v: no field marked aria-invalid", tt.form)
			}
		})
	}
	page, _ := e.st.ListUsers(e.ctx, e.acme.ID, store.Query{})
	if page.Total != 0 {
		t.Errorf("invalid forms created %d users", page.Total)
	}
	// A duplicate username is a 409 on the form, not a 500.
	e.user(e.acme.ID, "dup@acme.test", false)
	rec := e.post(op, path, url.Values{"firstName": {"D"}, "lastName": {"U"}, "userName": {"DUP@acme.test"}})
	wantStatus(t, rec, http.StatusConflict, "duplicate username")
	if !strings.Contains(rec.Body.String(), "already exists") {
		t.Errorf("duplicate: page does not say so")
	}
}

func TestUserLifecycle(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	base := "/admin/t/" + e.acme.ID
	rec := e.post(op, base+"/users", url.Values{
		"firstName": {"Ada"}, "lastName": {"Lovelace"}, "userName": {"ada@acme.test"}, "mobile": {"+44 20 7946 0958"},
		"business": {"+44 20 7946 0000"}, "customerCode": {"C-42"}, "udid": {"UDID-1"}, "notes": {"Counts PVC pipes"},
		"permissions": {"count, export"}, "accountAdmin": {"on"}, "seat": {e.poolA.ID}, "invite": {"on"},
	})
	wantStatus(t, rec, http.StatusSeeOther, "create user")
	if f := flashOf(rec); !strings.Contains(f, "ok: ada@acme.test was created. An invitation") {
		t.Errorf("flash after create: %q", f)
	}
	u, err := e.st.GetUserByUserName(e.ctx, e.acme.ID, "ada@acme.test")
	must(t, err)
	if u.Name.GivenName != "Ada" || u.Name.FamilyName != "Lovelace" || phone(u, "mobile") != "+442079460958" || phone(u, "work") != "+442079460000" ||
		u.CustomerCode != "C-42" || u.UDID != "UDID-1" || u.Notes != "Counts PVC pipes" || strings.Join(u.Permissions, ",") != "count,export" ||
		!u.AccountAdmin || u.Activation != store.ActivationPending || u.PrimaryEmail() != "ada@acme.test" {
		t.Errorf("created user: %+v", u)
	}
	a, err := e.st.GetAssignment(e.ctx, e.acme.ID, e.poolA.ID, u.ID)
	if err != nil || a.State != store.AssignActive {
		t.Fatalf("seat chosen at creation: %+v, %v", a, err)
	}
	invs, _ := e.st.ListInvitations(e.ctx, e.acme.ID, u.ID)
	if len(invs) != 1 || invs[0].Kind != store.InviteActivate {
		t.Errorf("invitations: %+v", invs)
	}
	if msgs := e.outboxTo("ada@acme.test"); !containsSubject(msgs, "Activate your Acme account") {
		t.Errorf("no invitation e-mail queued: %v", subjects(msgs))
	} else if !strings.Contains(msgs[0].Text+msgs[len(msgs)-1].Text, "https://roster.example.com/invite/") {
		t.Errorf("invitation e-mail has no link")
	}

	// The panel's tabs.
	for _, tab := range []string{"details", "licenses", "devices", "history"} {
		rec := e.get(op, base+"/users/"+u.ID+"?tab="+tab)
		wantStatus(t, rec, http.StatusOK, "panel tab "+tab)
		body := rec.Body.String()
		want := map[string]string{"details": "Counts PVC pipes", "licenses": "Seat assigned", "devices": "No devices yet", "history": "Created user"}[tab]
		if !strings.Contains(body, want) {
			t.Errorf("tab %s lacks %q", tab, want)
		}
	}

	// Edit.
	rec = e.post(op, base+"/users/"+u.ID, url.Values{"version": {itoa(u.Version)}, "firstName": {"Augusta Ada"}, "lastName": {"King"},
		"userName": {"ada@acme.test"}, "email": {"ada.king@acme.test"}})
	wantStatus(t, rec, http.StatusSeeOther, "edit user")
	u2, _ := e.st.GetUser(e.ctx, e.acme.ID, u.ID)
	if u2.Name.GivenName != "Augusta Ada" || u2.PrimaryEmail() != "ada.king@acme.test" || u2.AccountAdmin || phone(u2, "mobile") != "" {
		t.Errorf("after edit: %+v", u2)
	}
	if !containsSubject(e.outboxTo("ada.king@acme.test"), "Your administrator rights changed") {
		t.Errorf("no e-mail about the administrator right taken")
	}
	// A stale version is refused, not silently overwritten.
	rec = e.post(op, base+"/users/"+u.ID, url.Values{"version": {itoa(u.Version)}, "firstName": {"Stale"}, "lastName": {"X"}, "userName": {"ada@acme.test"}})
	wantStatus(t, rec, http.StatusConflict, "stale edit")

	// Resend invitation (pending) and reset password.
	wantStatus(t, e.post(op, base+"/users/"+u.ID+"/invite", nil), http.StatusSeeOther, "resend")
	wantStatus(t, e.post(op, base+"/users/"+u.ID+"/reset", nil), http.StatusSeeOther, "reset")
	invs, _ = e.st.ListInvitations(e.ctx, e.acme.ID, u.ID)
	live := 0
	for _, inv := range invs {
		if inv.ExpiresAt.After(e.clock.Now()) {
			live++
		}
	}
	if len(invs) != 3 || live != 1 {
		t.Errorf("after resend and reset: %d invitations, %d live; want 3 and 1 (each resend rotates)", len(invs), live)
	}

	// Deactivate: a confirmation first, then the seat goes back.
	rec = e.post(op, base+"/users/"+u.ID+"/active", url.Values{"active": {"false"}})
	wantStatus(t, rec, http.StatusOK, "deactivate asks to confirm")
	if !strings.Contains(rec.Body.String(), "Counter Pro") {
		t.Errorf("confirmation does not name the seat to be returned")
	}
	wantStatus(t, e.post(op, base+"/users/"+u.ID+"/active", url.Values{"active": {"false"}, "confirm": {"yes"}}), http.StatusSeeOther, "deactivate")
	if p, _ := e.st.GetPool(e.ctx, e.acme.ID, e.poolA.ID); p.Assigned != 0 {
		t.Errorf("after deactivation pool assigned = %d, want 0", p.Assigned)
	}
	wantStatus(t, e.post(op, base+"/users/"+u.ID+"/active", url.Values{"active": {"true"}}), http.StatusSeeOther, "reactivate")
	if p, _ := e.st.GetPool(e.ctx, e.acme.ID, e.poolA.ID); p.Assigned != 1 {
		t.Errorf("after reactivation pool assigned = %d, want 1", p.Assigned)
	}

	// Remove (bulk, with confirmation): the seat is released.
	other := e.user(e.acme.ID, "bob@acme.test", false)
	rec = e.post(op, base+"/users/bulk", url.Values{"action": {"remove"}, "id": {u.ID, other.ID}})
	wantStatus(t, rec, http.StatusOK, "bulk remove asks to confirm")
	if body := rec.Body.String(); !strings.Contains(body, "Remove 2 users") || !strings.Contains(body, "frees Counter Pro") {
		t.Errorf("bulk confirmation: %s", body)
	}
	if _, err := e.st.GetUser(e.ctx, e.acme.ID, u.ID); err != nil {
		t.Fatalf("user removed before confirmation")
	}
	rec = e.post(op, base+"/users/bulk", url.Values{"action": {"remove"}, "confirm": {"yes"}, "id": {u.ID, other.ID}})
	wantStatus(t, rec, http.StatusSeeOther, "bulk remove")
	if f := flashOf(rec); !strings.Contains(f, "2 users were removed") {
		t.Errorf("flash: %q", f)
	}
	for _, id := range []string{u.ID, other.ID} {
		if _, err := e.st.GetUser(e.ctx, e.acme.ID, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("user %s still there (%v)", id, err)
		}
	}
	if p, _ := e.st.GetPool(e.ctx, e.acme.ID, e.poolA.ID); p.Assigned != 0 {
		t.Errorf("after removal pool assigned = %d, want 0", p.Assigned)
	}
	evs, _ := e.st.ListAudit(e.ctx, e.acme.ID, store.AuditQuery{Action: "user.delete"})
	if len(evs) != 2 || !strings.HasPrefix(evs[0].Actor, "admin:") {
		t.Errorf("audit of removals: %+v", evs)
	}
}

func TestResendInvitationOnlyWhilePending(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	u := e.user(e.acme.ID, "done@acme.test", false)
	u.Activation = store.ActivationActive
	must(t, e.st.UpdateUser(e.ctx, u))
	rec := e.post(op, "/admin/t/"+e.acme.ID+"/users/"+u.ID+"/invite", nil)
	wantStatus(t, rec, http.StatusSeeOther, "resend to active user")
	if f := flashOf(rec); !strings.Contains(f, "error: done@acme.test has already activated") {
		t.Errorf("flash: %q", f)
	}
	if invs, _ := e.st.ListInvitations(e.ctx, e.acme.ID, u.ID); len(invs) != 0 {
		t.Errorf("an invitation was created for an active user")
	}
	// The panel offers no resend button for them.
	if strings.Contains(e.get(op, "/admin/t/"+e.acme.ID+"/users/"+u.ID).Body.String(), "/invite\"") {
		t.Errorf("panel offers Resend invitation for an active user")
	}
}

func TestSeatActionsAndFullPool(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	base := "/admin/t/" + e.acme.ID
	var users []*store.User
	for _, n := range []string{"a@acme.test", "b@acme.test", "c@acme.test"} {
		users = append(users, e.user(e.acme.ID, n, false))
	}
	for i, u := range users {
		rec := e.post(op, base+"/users/"+u.ID+"/seats", url.Values{"pool": {e.poolA.ID}, "action": {"assign"}})
		wantStatus(t, rec, http.StatusSeeOther, "assign")
		f := flashOf(rec)
		if i < 2 && !strings.HasPrefix(f, "ok:") || i == 2 && !strings.Contains(f, "error: Every seat of this pool is taken") {
			t.Errorf("assign %d: flash %q", i, f)
		}
	}
	// The full pool offers "Request seats" instead of "Assign seat".
	body := e.get(op, base+"/users/"+users[2].ID+"?tab=licenses").Body.String()
	if !strings.Contains(body, "Request seats") {
		t.Errorf("full pool: licenses tab offers no Request seats")
	}
	rec := e.post(op, base+"/users/"+users[0].ID+"/seats", url.Values{"pool": {e.poolA.ID}, "action": {"unassign"}})
	wantStatus(t, rec, http.StatusSeeOther, "unassign")
	if p, _ := e.st.GetPool(e.ctx, e.acme.ID, e.poolA.ID); p.Assigned != 1 {
		t.Errorf("after unassign: assigned %d, want 1", p.Assigned)
	}
}

func TestDevicesAndLicensesScreen(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	base := "/admin/t/" + e.acme.ID
	ann := e.user(e.acme.ID, "ann@acme.test", false)
	ben := e.user(e.acme.ID, "ben@acme.test", false)
	cat := e.user(e.acme.ID, "cat@acme.test", false)
	must(t, e.eng.Assign(e.ctx, e.acme.ID, e.poolA.ID, ann.ID, "test"))
	for _, u := range []*store.User{ann, ben} {
		if u == ben {
			// Ben has no seat yet: sign-in binds no device without auto-assign,
			// so give him one, sign in, and take it back.
			must(t, e.eng.Assign(e.ctx, e.acme.ID, e.poolA.ID, ben.ID, "test"))
		}
		if _, err := e.eng.DeviceLogin(e.ctx, u, "counter", "DEV-"+u.UserName[:3], "iPad", time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	must(t, e.eng.Unassign(e.ctx, e.acme.ID, e.poolA.ID, ben.ID, "test"))

	rec := e.get(op, base+"/devices")
	wantStatus(t, rec, http.StatusOK, "devices page")
	body := rec.Body.String()
	for _, want := range []string{"DEV-ann", "DEV-ben", "Licensed", "No license", "Move license", "Assign license", "Flag inactive", "Edit note",
		`data-stat="total">2<`, `data-stat="assigned">1<`, `data-stat="unassigned">1<`, "31 Dec 2027"} {
		if !strings.Contains(body, want) {
			t.Errorf("devices page lacks %q", want)
		}
	}
	if strings.Contains(body, "cat@acme.test") {
		t.Errorf("a user without a device is listed")
	}
	// Filter by status.
	if b := e.get(op, base+"/devices?status=licensed").Body.String(); !strings.Contains(b, "DEV-ann") || strings.Contains(b, "DEV-ben") {
		t.Errorf("licensed filter wrong")
	}

	// Move Ann's license to Ben.
	rec = e.get(op, base+"/devices/move?pool="+e.poolA.ID+"&from="+ann.ID)
	wantStatus(t, rec, http.StatusOK, "move page")
	if !strings.Contains(rec.Body.String(), "ben@acme.test") {
		t.Errorf("move page does not offer Ben")
	}
	rec = e.post(op, base+"/devices/move", url.Values{"pool": {e.poolA.ID}, "from": {ann.ID}, "to": {ben.ID}})
	wantStatus(t, rec, http.StatusSeeOther, "move")
	if a, err := e.st.GetAssignment(e.ctx, e.acme.ID, e.poolA.ID, ben.ID); err != nil || a.State != store.AssignActive {
		t.Errorf("Ben after move: %+v %v", a, err)
	}
	if _, err := e.st.GetAssignment(e.ctx, e.acme.ID, e.poolA.ID, ann.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Ann still holds a seat after the move (%v)", err)
	}
	// Flag Ann inactive (she holds no license now), edit her note.
	wantStatus(t, e.post(op, base+"/users/"+ann.ID+"/inactive", nil), http.StatusSeeOther, "flag inactive")
	if u, _ := e.st.GetUser(e.ctx, e.acme.ID, ann.ID); u.Active {
		t.Errorf("Ann still active after Flag inactive")
	}
	// Ben holds a license: flagging him is refused with the reason.
	rec = e.post(op, base+"/users/"+ben.ID+"/inactive", nil)
	if f := flashOf(rec); !strings.Contains(f, "holds a license") {
		t.Errorf("flag licensed user: flash %q", f)
	}
	wantStatus(t, e.post(op, base+"/users/"+ben.ID+"/note", url.Values{"note": {"Night shift"}, "back": {"devices"}}), http.StatusSeeOther, "note")
	if u, _ := e.st.GetUser(e.ctx, e.acme.ID, ben.ID); u.Notes != "Night shift" {
		t.Errorf("note: %q", u.Notes)
	}
	// Remove Ben's license from the screen; assign it to cat fails as cat
	// is not on the screen but works from the users page.
	rec = e.post(op, base+"/devices/license", url.Values{"action": {"remove"}, "user": {ben.ID}, "pool": {e.poolA.ID}, "return": {base + "/devices?status=licensed"}})
	wantStatus(t, rec, http.StatusSeeOther, "remove license")
	if loc := rec.Header().Get("Location"); loc != base+"/devices?status=licensed" {
		t.Errorf("back to %q, want the filtered screen", loc)
	}
	_ = cat
	// Unbind and block devices.
	devs, _ := e.st.ListDevices(e.ctx, e.acme.ID, ben.ID)
	wantStatus(t, e.post(op, base+"/devices/"+devs[0].ID+"/state", url.Values{"action": {"block"}}), http.StatusSeeOther, "block")
	if d, _ := e.st.GetDevice(e.ctx, e.acme.ID, devs[0].ID); d.State != store.DeviceBlocked {
		t.Errorf("device not blocked")
	}
}

func TestGroupsAndRules(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	base := "/admin/t/" + e.acme.ID
	g := &store.Group{TenantID: e.acme.ID, DisplayName: "Counters"}
	must(t, e.st.CreateGroup(e.ctx, g))
	m1, m2, m3 := e.user(e.acme.ID, "m1@acme.test", false), e.user(e.acme.ID, "m2@acme.test", false), e.user(e.acme.ID, "m3@acme.test", false)
	_, err := e.st.AddMembers(e.ctx, e.acme.ID, g.ID, 0, []store.Member{{MemberID: m1.ID, Type: store.MemberUser}, {MemberID: m2.ID, Type: store.MemberUser}, {MemberID: m3.ID, Type: store.MemberUser}})
	must(t, err)
	rec := e.get(op, base+"/groups")
	wantStatus(t, rec, http.StatusOK, "groups")
	if !strings.Contains(rec.Body.String(), "Counters") {
		t.Errorf("groups page lacks the group")
	}
	must(t, e.st.AddPoolSample(e.ctx, &store.PoolSample{TenantID: e.acme.ID, PoolID: e.poolA.ID, At: e.clock.Now().Add(-time.Hour), Total: 2}))
	wantStatus(t, e.post(op, base+"/groups/"+g.ID+"/rules", url.Values{"pool": {e.poolA.ID}}), http.StatusSeeOther, "add rule")
	p, _ := e.st.GetPool(e.ctx, e.acme.ID, e.poolA.ID)
	waiting, _ := e.st.ListAssignments(e.ctx, e.acme.ID, store.AssignmentQuery{PoolID: e.poolA.ID, State: store.AssignWaiting})
	if p.Assigned != 2 || len(waiting) != 1 {
		t.Errorf("after rule: assigned %d waiting %d, want 2 and 1", p.Assigned, len(waiting))
	}
	body := e.get(op, base+"/licenses").Body.String()
	for _, want := range []string{"Waiting list", "no seats", "Members of <strong>Counters</strong>", `<svg class="chart"`} {
		if !strings.Contains(body, want) {
			t.Errorf("licenses page lacks %q", want)
		}
	}
	body = e.get(op, base+"/groups/"+g.ID).Body.String()
	if !strings.Contains(body, "m1@acme.test") || !strings.Contains(body, "Remove rule") {
		t.Errorf("group page lacks members or its rule")
	}
	rules, _ := e.st.ListRules(e.ctx, e.acme.ID)
	wantStatus(t, e.post(op, base+"/rules/"+rules[0].ID+"/delete", url.Values{"group": {g.ID}}), http.StatusSeeOther, "remove rule")
	if p, _ := e.st.GetPool(e.ctx, e.acme.ID, e.poolA.ID); p.Assigned != 0 {
		t.Errorf("after removing the rule: assigned %d, want 0", p.Assigned)
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	base := "/admin/t/" + e.acme.ID
	rec := e.post(op, base+"/tokens", url.Values{"name": {"Okta production"}})
	wantStatus(t, rec, http.StatusOK, "create token")
	body := rec.Body.String()
	i := strings.Index(body, auth.TokenPrefix)
	if i < 0 || !strings.Contains(body, "https://roster.example.com/scim/v2") || !strings.Contains(body, "only time") {
		t.Fatalf("token page does not show the secret once with the SCIM URL:\n%s", body)
	}
	secret := body[i : i+len(auth.TokenPrefix)+43]
	tok, err := e.st.TokenByHash(e.ctx, auth.HashSecret(secret))
	if err != nil || tok.TenantID != e.acme.ID || tok.Name != "Okta production" {
		t.Fatalf("token shown is not the stored one: %+v %v", tok, err)
	}
	list := e.get(op, base+"/tokens").Body.String()
	if strings.Contains(list, secret) || !strings.Contains(list, "Okta production") || !strings.Contains(list, "Never") {
		t.Errorf("token list shows the secret again or lacks the token")
	}
	wantStatus(t, e.post(op, base+"/tokens/"+tok.ID+"/revoke", nil), http.StatusSeeOther, "revoke")
	if tok, _ = e.st.TokenByHash(e.ctx, auth.HashSecret(secret)); tok.RevokedAt.IsZero() {
		t.Errorf("token not revoked")
	}
	wantStatus(t, e.post(op, base+"/tokens", url.Values{"name": {""}}), http.StatusUnprocessableEntity, "token without name")
}

func TestSettings(t *testing.T) {
	e := newEnv(t)
	admin := e.user(e.acme.ID, "boss@acme.test", true)
	c := e.session(store.RoleTenantAdmin, e.acme.ID, admin.UserName)
	base := "/admin/t/" + e.acme.ID
	rec := e.post(c, base+"/settings", url.Values{"name": {"Globex"}, "inviteFrom": {"IT <it@acme.test>"}, "version": {itoa(e.acme.Version)}})
	wantStatus(t, rec, http.StatusConflict, "rename to a taken name")
	rec = e.post(c, base+"/settings", url.Values{"name": {"Acme Corp"}, "inviteFrom": {"not an address"}, "version": {itoa(e.acme.Version)}})
	wantStatus(t, rec, http.StatusUnprocessableEntity, "bad sender")
	rec = e.post(c, base+"/settings", url.Values{"name": {"Acme Corp"}, "inviteFrom": {"IT <it@acme.test>"}, "version": {itoa(e.acme.Version)}})
	wantStatus(t, rec, http.StatusSeeOther, "save settings")
	if tn, _ := e.st.GetTenant(e.ctx, e.acme.ID); tn.Name != "Acme Corp" || tn.InviteFrom != "IT <it@acme.test>" {
		t.Errorf("tenant after settings: %+v", tn)
	}
}

// TestSettingsSSO: a tenant admin and an operator say the users sign in
// with company SSO, with an optional https sign-in URL; the page shows
// what is stored and the audit log keeps the change.
func TestSettingsSSO(t *testing.T) {
	e := newEnv(t)
	admin := e.user(e.acme.ID, "boss@acme.test", true)
	c := e.session(store.RoleTenantAdmin, e.acme.ID, admin.UserName)
	base := "/admin/t/" + e.acme.ID
	version := func() string {
		tn, err := e.st.GetTenant(e.ctx, e.acme.ID)
		must(t, err)
		return itoa(tn.Version)
	}
	for _, bad := range []string{"javascript:alert(1)", "http://login.acme.test", "login.acme.test"} {
		rec := e.post(c, base+"/settings", url.Values{"name": {"Acme"}, "sso": {"on"}, "signInURL": {bad}, "version": {version()}})
		wantStatus(t, rec, http.StatusUnprocessableEntity, "sign-in URL "+bad)
		if !strings.Contains(rec.Body.String(), "https address") {
			t.Errorf("sign-in URL %q refused without saying why", bad)
		}
	}
	rec := e.post(c, base+"/settings", url.Values{"name": {"Acme"}, "sso": {"on"}, "signInURL": {"https://login.acme.test/sso"}, "version": {version()}})
	wantStatus(t, rec, http.StatusSeeOther, "turn SSO on")
	if tn, _ := e.st.GetTenant(e.ctx, e.acme.ID); !tn.SSO || tn.SSOSignInURL != "https://login.acme.test/sso" {
		t.Errorf("tenant after turning SSO on: SSO %v, URL %q", tn.SSO, tn.SSOSignInURL)
	}
	body := e.get(c, base+"/settings").Body.String()
	if !strings.Contains(body, `id="sso" name="sso" type="checkbox" checked`) || !strings.Contains(body, `value="https://login.acme.test/sso"`) {
		t.Errorf("settings page does not show the stored SSO settings:\n%s", body)
	}
	if !strings.Contains(e.get(c, base+"/audit").Body.String(), "login.acme.test/sso") {
		t.Errorf("the audit log does not show the SSO change")
	}
	// Reset password for such a user: the e-mail carries no link, and the
	// admin is told so rather than "a reset link is on its way".
	member := e.user(e.acme.ID, "member@acme.test", false)
	rec = e.post(c, base+"/users/"+member.ID+"/reset", nil)
	wantStatus(t, rec, http.StatusSeeOther, "reset password with SSO on")
	if f := flashOf(rec); !strings.Contains(f, "signs in with your company SSO") || strings.Contains(f, "reset link") {
		t.Errorf("reset with SSO on says %q", f)
	}
	// An operator turns it off; an unticked box is off, the URL may go.
	rec = e.post(e.operator(), base+"/settings", url.Values{"name": {"Acme"}, "signInURL": {""}, "version": {version()}})
	wantStatus(t, rec, http.StatusSeeOther, "turn SSO off")
	if tn, _ := e.st.GetTenant(e.ctx, e.acme.ID); tn.SSO || tn.SSOSignInURL != "" {
		t.Errorf("tenant after turning SSO off: SSO %v, URL %q", tn.SSO, tn.SSOSignInURL)
	}
}

func TestAuditPage(t *testing.T) {
	e := newEnv(t)
	base := "/admin/t/" + e.acme.ID
	u := e.user(e.acme.ID, "aud@acme.test", false)
	must(t, e.eng.Assign(e.ctx, e.acme.ID, e.poolA.ID, u.ID, "admin:someone"))
	e.clock.Add(48 * time.Hour)
	must(t, e.eng.SetNote(e.ctx, e.acme.ID, u.ID, "hi", "system"))
	op := e.operator()
	body := e.get(op, base+"/audit?target=aud@acme.test").Body.String()
	if !strings.Contains(body, "Assigned seat") || !strings.Contains(body, "Edited note") {
		t.Errorf("audit by target lacks events")
	}
	body = e.get(op, base+"/audit?actor=system").Body.String()
	if strings.Contains(body, "Assigned seat") || !strings.Contains(body, "Edited note") {
		t.Errorf("audit by actor wrong")
	}
	body = e.get(op, base+"/audit?action=seat.assign").Body.String()
	if !strings.Contains(body, "Assigned seat") || strings.Contains(body, "Edited note") {
		t.Errorf("audit by action wrong")
	}
	body = e.get(op, base+"/audit?until=2026-11-02").Body.String()
	if !strings.Contains(body, "Assigned seat") || strings.Contains(body, "Edited note") {
		t.Errorf("audit by date wrong")
	}
	if rec := e.get(op, base+"/audit?since=yesterday"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Dates look like") {
		t.Errorf("bad date: %d", rec.Code)
	}
}

func TestSessionTimeouts(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	users := "/admin/t/" + e.acme.ID + "/users"
	wantStatus(t, e.get(op, users), http.StatusOK, "fresh session")
	// Activity within the idle timeout keeps the session.
	for range 3 {
		e.clock.Add(20 * time.Minute)
		wantStatus(t, e.get(op, users), http.StatusOK, "active session")
	}
	e.clock.Add(auth.DefaultIdleTimeout + time.Second)
	wantStatus(t, e.get(op, users), http.StatusSeeOther, "idle session")
	if _, err := e.st.GetSession(e.ctx, auth.HashSecret(op.Value)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("idle session still stored (%v)", err)
	}
	// The absolute timeout ends even a busy session.
	op = e.operator()
	for i := 0; i < int(auth.DefaultAbsoluteTimeout/(20*time.Minute)); i++ {
		e.clock.Add(20 * time.Minute)
		e.get(op, users)
	}
	e.clock.Add(time.Minute)
	wantStatus(t, e.get(op, users), http.StatusSeeOther, "session past its absolute lifetime")

	// Sign-out ends the session in the store.
	op = e.operator()
	rec := e.post(op, "/admin/logout", nil)
	wantStatus(t, rec, http.StatusSeeOther, "logout")
	if loc := rec.Header().Get("Location"); loc != "/admin/signed-out" {
		t.Errorf("logout without OIDC goes to %q", loc)
	}
	wantStatus(t, e.get(op, users), http.StatusSeeOther, "after logout")
}

func TestTenantAdminRightsRechecked(t *testing.T) {
	e := newEnv(t, func(d *Deps) {
		d.OIDC = testOIDCConfig("https://idp.example.com")
	})
	boss := e.user(e.acme.ID, "boss@acme.test", true)
	c := e.session(store.RoleTenantAdmin, e.acme.ID, boss.UserName)
	users := "/admin/t/" + e.acme.ID + "/users"
	wantStatus(t, e.get(c, users), http.StatusOK, "admin")
	boss.AccountAdmin = false
	must(t, e.st.UpdateUser(e.ctx, boss))
	rec := e.get(c, users)
	wantStatus(t, rec, http.StatusForbidden, "admin rights taken")
	if !strings.Contains(rec.Body.String(), "not an administrator") {
		t.Errorf("refusal page does not say why")
	}
	wantStatus(t, e.get(c, users), http.StatusSeeOther, "session ended with the rights")

	// A suspended tenant closes the portal to its admins.
	boss.AccountAdmin = true
	must(t, e.st.UpdateUser(e.ctx, boss))
	c = e.session(store.RoleTenantAdmin, e.acme.ID, boss.UserName)
	tn, _ := e.st.GetTenant(e.ctx, e.acme.ID)
	tn.Suspended = true
	must(t, e.st.UpdateTenant(e.ctx, tn))
	rec = e.get(c, users)
	wantStatus(t, rec, http.StatusForbidden, "suspended tenant")
	if !strings.Contains(rec.Body.String(), "suspended") {
		t.Errorf("refusal page does not mention the suspension")
	}
}

func TestBootstrapSignIn(t *testing.T) {
	var boot *auth.Bootstrap
	e := newEnv(t, func(d *Deps) {
		boot = &auth.Bootstrap{Invitations: auth.NewLinkFile(filepath.Join(t.TempDir(), "bootstrap.json")), Now: d.Now}
		d.Bootstrap = boot
	})
	boot.TenantID = e.acme.ID
	secret, err := boot.NewLink(e.ctx)
	must(t, err)
	rec := e.get(nil, "/admin/bootstrap?token="+url.QueryEscape(secret))
	wantStatus(t, rec, http.StatusOK, "bootstrap confirmation")
	if rec.Header().Get("Referrer-Policy") != "no-referrer" || len(rec.Result().Cookies()) != 0 {
		t.Errorf("confirmation page: Referrer-Policy %q, cookies %v", rec.Header().Get("Referrer-Policy"), rec.Result().Cookies())
	}
	rec = e.post(nil, "/admin/bootstrap", url.Values{"token": {secret}})
	wantStatus(t, rec, http.StatusSeeOther, "bootstrap sign-in")
	var sess *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == auth.PortalCookie {
			sess = c
		}
	}
	if sess == nil {
		t.Fatal("no session cookie")
	}
	rec = e.get(sess, "/admin/op/tenants")
	wantStatus(t, rec, http.StatusOK, "operator page after bootstrap")
	if !strings.Contains(rec.Body.String(), "OIDC is not configured") {
		t.Errorf("no banner about OIDC")
	}
	// The link works once.
	wantStatus(t, e.post(nil, "/admin/bootstrap", url.Values{"token": {secret}}), http.StatusGone, "second use")
	wantStatus(t, e.get(nil, "/admin/bootstrap?token="+url.QueryEscape(secret)), http.StatusGone, "second view")
}
