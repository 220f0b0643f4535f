package admin

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/roster-scim/roster/importer"
	"github.com/roster-scim/roster/store"
)

// chromium finds a Chromium or Chrome binary. Without one the browser
// test is skipped, except on CI (CI=true), where a missing browser must
// fail the run rather than let it pass untested.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found (install it: apt-get install -y chromium; `make test` does)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// shots is where screenshots go: ROSTER_SCREENSHOTS when set, else the
// test's artifact directory (kept with go test -artifacts).
func shots(t *testing.T) string {
	if d := os.Getenv("ROSTER_SCREENSHOTS"); d != "" {
		must(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.ArtifactDir()
}

// TestBrowser drives the portal in headless Chromium: sign in through the
// provider's login page, create a user, assign seats, move one, watch the
// pool counts change, revoke a token; and screenshots every main page at
// desktop and phone width.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	if testing.Short() {
		t.Skip("browser test skipped with -short")
	}
	// Carol administers Acme and Globex: she chooses after sign-in.
	o := newOIDCEnvWith(t, oidcSetup{users: opUsers{"carol": opUser("carol", "carol@example.test", true)}})
	o.user(o.acme.ID, "carol@example.test", true)
	o.user(o.globex.ID, "carol@example.test", true)
	dir := shots(t)

	// Eve and Frank signed in on devices; neither holds a seat now.
	var eve, frank *store.User
	for _, n := range []string{"eve", "frank"} {
		u := o.user(o.acme.ID, n+"@acme.test", false)
		u.Name = store.Name{GivenName: strings.ToUpper(n[:1]) + n[1:], FamilyName: "Field"}
		must(t, o.st.UpdateUser(o.ctx, u))
		must(t, o.eng.Assign(o.ctx, o.acme.ID, o.poolA.ID, u.ID, "test"))
		if _, err := o.eng.DeviceLogin(o.ctx, u, "counter", "TAB-"+strings.ToUpper(n), "Tablet", time.Hour); err != nil {
			t.Fatal(err)
		}
		must(t, o.eng.Unassign(o.ctx, o.acme.ID, o.poolA.ID, u.ID, "test"))
		if n == "eve" {
			eve = u
		} else {
			frank = u
		}
	}
	g := &store.Group{TenantID: o.acme.ID, DisplayName: "Field team"}
	must(t, o.st.CreateGroup(o.ctx, g))
	_, err := o.st.AddMembers(o.ctx, o.acme.ID, g.ID, 0, []store.Member{{MemberID: eve.ID, Type: store.MemberUser}, {MemberID: frank.ID, Type: store.MemberUser}})
	must(t, err)
	// A month of hourly usage for the chart.
	for h := 30 * 24; h > 0; h-- {
		used := min(2, (30*24-h)/200)
		must(t, o.st.AddPoolSample(o.ctx, &store.PoolSample{TenantID: o.acme.ID, PoolID: o.poolA.ID, At: o.clock.Now().Add(-time.Duration(h) * time.Hour),
			Total: 2, Assigned: used, Waiting: max(0, (30*24-h)/150-2)}))
	}
	o.srv.reqlog.Record(o.acme.ID, "GET", "/scim/v2/Users", 200, o.clock.Now())
	o.srv.reqlog.Record(o.acme.ID, "POST", "/scim/v2/Users", 201, o.clock.Now())

	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s: %v (at %s)", what, err, loc)
		}
	}
	shot := func(name string) {
		t.Helper()
		for _, w := range []struct {
			suffix string
			w, h   int64
			mobile bool
		}{{"1280", 1280, 900, false}, {"phone", 390, 844, true}} {
			opts := []chromedp.EmulateViewportOption{}
			if w.mobile {
				opts = append(opts, chromedp.EmulateMobile)
			}
			run("viewport "+name, chromedp.EmulateViewport(w.w, w.h, opts...), chromedp.Sleep(150*time.Millisecond))
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot %s: %v", name, err)
			}
			must(t, os.WriteFile(filepath.Join(dir, name+"-"+w.suffix+".png"), png, 0o644))
		}
		run("reset viewport", chromedp.EmulateViewport(1280, 900))
	}
	// text reads an element's text; sel is XPath when it starts with //,
	// else CSS.
	text := func(sel string) string {
		t.Helper()
		var a chromedp.Action[string]
		if strings.HasPrefix(sel, "//") {
			a = chromedp.Text(sel, chromedp.NodeVisible)
		} else {
			a = chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible)
		}
		s, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	// waitFlash waits for the page after an action: its message, rather
	// than the previous page's, which may still be on screen.
	waitFlash := func(want string) {
		t.Helper()
		var last string
		for range 100 {
			s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(".flash")||{}).textContent||""`))
			if err == nil && strings.Contains(s, want) {
				return
			}
			last = s
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("waiting for the message %q; the page says %q", want, last)
	}
	base := o.portal.URL + "/admin/t/" + o.acme.ID

	// Sign in through the provider's login page.
	run("open portal", chromedp.Navigate(o.portal.URL+"/admin/"), chromedp.WaitVisible(chromedp.CSS(`a.btn.primary`)))
	shot("login")
	run("sign in at the provider",
		chromedp.Click(chromedp.CSS(`a.btn.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#password`), opPassword),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/users/new"]`)))
	shot("users")

	// Create a user.
	run("create a user",
		chromedp.Click(chromedp.CSS(`a[href$="/users/new"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#firstName`)))
	shot("user-new")
	run("fill the form",
		chromedp.SendKeys(chromedp.CSS(`#firstName`), "Grace"),
		chromedp.SendKeys(chromedp.CSS(`#lastName`), "Hopper"),
		chromedp.SendKeys(chromedp.CSS(`#userName`), "grace@acme.test"),
		chromedp.SendKeys(chromedp.CSS(`#mobile`), "+1 202 555 0100"),
		chromedp.SendKeys(chromedp.CSS(`#notes`), "Counts only stacks of PVC pipes"),
		chromedp.Click(chromedp.CSS(`form.form button.primary`)))
	waitFlash("grace@acme.test was created")
	grace, err := o.st.GetUserByUserName(o.ctx, o.acme.ID, "grace@acme.test")
	must(t, err)

	// Assign a seat in the side panel (Licenses tab).
	run("assign a seat", chromedp.Click(chromedp.CSS(`#panel form[action$="/seats"] button`)))
	waitFlash("A seat of Counter Pro was assigned")
	shot("user-panel-licenses")
	run("details tab", chromedp.Click(chromedp.CSS(`#panel .tabs a:first-child`)), chromedp.WaitVisible(chromedp.CSS(`#panel dl.details`)))
	shot("user-panel-details")

	// Devices & Licenses: counts, assign to Eve, move to Frank.
	run("devices", chromedp.Navigate(base+"/devices"), chromedp.WaitVisible(chromedp.CSS(`table.devices`)))
	if a, u := text(`[data-stat="assigned"]`), text(`[data-stat="unassigned"]`); a != "1" || u != "1" {
		t.Fatalf("pool card before: assigned %s unassigned %s, want 1 and 1", a, u)
	}
	run("assign Eve", chromedp.Click(`//tr[contains(., "TAB-EVE")]//button[contains(., "Assign license")]`))
	waitFlash("A license of Counter Pro was assigned")
	if a, u := text(`[data-stat="assigned"]`), text(`[data-stat="unassigned"]`); a != "2" || u != "0" {
		t.Fatalf("pool card after assigning: assigned %s unassigned %s, want 2 and 0", a, u)
	}
	shot("devices")
	run("move Eve's license", chromedp.Click(`//tr[contains(., "TAB-EVE")]//a[contains(., "Move license")]`),
		chromedp.WaitVisible(chromedp.CSS(`input[name="to"]`)))
	shot("move")
	run("to Frank", chromedp.Click(`//label[contains(., "frank@acme.test")]`),
		chromedp.Click(chromedp.CSS(`form.form button.primary`)))
	waitFlash("moved from eve@acme.test")
	if a := text(`[data-stat="assigned"]`); a != "2" {
		t.Fatalf("a move changed the count to %s", a)
	}
	if s := text(`//tr[contains(., "TAB-FRANK")]//span[contains(@class, "badge")]`); s != "Licensed" {
		t.Errorf("Frank after the move: %q", s)
	}
	if s := text(`//tr[contains(., "TAB-EVE")]//td[3]/span[contains(@class, "badge")]`); s != "No license" {
		t.Errorf("Eve after the move: %q", s)
	}
	// Eve's tablet goes to Frank, who holds the license now.
	run("move Eve's device", chromedp.Click(`//tr[contains(., "TAB-EVE")]//a[contains(., "Move device")]`),
		chromedp.WaitVisible(chromedp.CSS(`input[name="to"]`)))
	shot("move-device")
	run("device to Frank", chromedp.Click(`//label[contains(., "frank@acme.test")]`),
		chromedp.Click(chromedp.CSS(`form.form button.primary`)))
	waitFlash("TAB-EVE moved to frank@acme.test")
	if s := text(`//tr[contains(., "TAB-EVE")]//td[2]/a`); !strings.Contains(s, "Frank") {
		t.Errorf("TAB-EVE's user after the move: %q", s)
	}
	run("remove Frank's license", chromedp.Click(`//tr[contains(., "TAB-FRANK")]//button[contains(., "Remove license")]`))
	waitFlash("The license of Counter Pro was removed")
	if a, u := text(`[data-stat="assigned"]`), text(`[data-stat="unassigned"]`); a != "1" || u != "1" {
		t.Fatalf("pool card after removing: assigned %s unassigned %s, want 1 and 1", a, u)
	}
	if a, _ := o.st.GetAssignment(o.ctx, o.acme.ID, o.poolA.ID, grace.ID); a == nil || a.State != store.AssignActive {
		t.Errorf("Grace lost her seat")
	}

	// Tokens: create (shown once), then revoke.
	run("tokens", chromedp.Navigate(base+"/tokens"), chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Okta production"), chromedp.Click(chromedp.CSS(`form.inline-form button`)), chromedp.WaitVisible(chromedp.CSS(`#secret-value`)))
	secret, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(chromedp.CSS(`#secret-value`))))
	must(t, err)
	if !strings.HasPrefix(secret, "rst_") {
		t.Fatalf("token shown: %q", secret)
	}
	shot("token-created")
	run("revoke", chromedp.Click(`//tr[contains(., "Okta production")]//button[contains(., "Revoke")]`))
	waitFlash("The token was revoked")
	if s := text(`//tr[contains(., "Okta production")]//span[contains(@class, "badge")]`); !strings.HasPrefix(s, "Revoked") {
		t.Errorf("token after revoke: %q", s)
	}
	shot("tokens")

	// Import: upload a small CSV, watch its page reach done, download
	// the result file. Jobs are run by a RunPending loop, as cmd's
	// workers do on every node.
	o.srv.imports = &importer.Runner{Store: o.st, Engine: o.eng, HashPassword: func(pw string) (string, error) { return "h:" + pw, nil }}
	stopRunner := make(chan struct{})
	runnerDone := make(chan struct{})
	go func() {
		defer close(runnerDone)
		for {
			select {
			case <-stopRunner:
				return
			case <-time.After(300 * time.Millisecond):
				_, _ = o.srv.imports.RunPending(o.ctx)
			}
		}
	}()
	stop := func() {
		if stopRunner != nil {
			close(stopRunner)
			<-runnerDone
			stopRunner = nil
		}
	}
	defer stop()
	csvPath := filepath.Join(t.TempDir(), "new-starters.csv")
	must(t, os.WriteFile(csvPath, []byte("First Name;Last Name;Login;Email Address;Mobile Phone;Groups;Shoe size\n"+
		"Hedy;Lamarr;hedy@acme.test;hedy@acme.test;+1 202 555 0101;Field team;38\n"+
		"Alan;Kay;alan@acme.test;alan@acme.test;;;44\n"+
		"Bad;Row;not-an-email;bad@acme.test;12;;40\n"), 0o600))
	run("import page", chromedp.Navigate(base+"/import"), chromedp.WaitVisible(chromedp.CSS(`#file`)))
	run("upload", chromedp.SetUploadFiles(chromedp.CSS(`#file`), []string{csvPath}), chromedp.Click(chromedp.CSS(`#mode-valid`)),
		chromedp.Click(chromedp.CSS(`form.upload button.primary`)), chromedp.WaitVisible(chromedp.CSS(`[data-import-state]`)))
	run("import done", chromedp.WaitVisible(chromedp.CSS(`[data-import-state="done"]`)))
	if d, f := text(`[data-stat="done"]`), text(`[data-stat="failed"]`); d != "2" || f != "1" {
		t.Errorf("import job page: imported %s, with errors %s; want 2 and 1", d, f)
	}
	if w := text(`ul.warnings`); !strings.Contains(w, "Shoe size") {
		t.Errorf("warnings: %q, want the unknown column named", w)
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.querySelector('a[href$="/result"]').href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	must(t, err)
	if !strings.Contains(res, "Errors") || !strings.Contains(res, "not-an-email") {
		t.Errorf("result file:\n%s", res)
	}
	if _, err := o.st.GetUserByUserName(o.ctx, o.acme.ID, "hedy@acme.test"); err != nil {
		t.Errorf("Hedy was not imported: %v", err)
	}
	shot("import-job")
	run("import list", chromedp.Navigate(base+"/import"), chromedp.WaitVisible(chromedp.CSS(`#recent`)))
	shot("import")
	stop()
	// A big import in progress, for its screenshot: two looks 8 s apart
	// give the rate and the time left.
	big := &store.ImportJob{TenantID: o.acme.ID, FileName: "all-staff-2026.xlsx", Format: "xlsx", Mode: store.ImportAllOrNothing, State: store.JobRunning, CreatedBy: "admin:x"}
	must(t, o.st.CreateImportJob(o.ctx, big))
	big.Total, big.Done, big.Failed = 12000, 4200, 0
	must(t, o.st.UpdateImportJob(o.ctx, big))
	run("running import", chromedp.Navigate(base+"/import/"+big.ID), chromedp.WaitVisible(chromedp.CSS(`progress.import`)))
	o.clock.Add(8 * time.Second)
	big.Done, big.Failed = 6588, 12
	must(t, o.st.UpdateImportJob(o.ctx, big))
	run("running import again", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-stat="rate"]`)))
	if r := text(`[data-stat="rate"]`); r != "300 rows/s" {
		t.Errorf("rate: %q", r)
	}
	shot("import-running")

	// The other main pages.
	for _, p := range []struct{ name, path, wait string }{
		{"licenses", "/licenses", `section.pool`},
		{"groups", "/groups", `table.data`},
		{"group", "/groups/" + g.ID, `section.card`},
		{"connect-okta", "/connect", `#requests-rows`},
		{"connect-entra", "/connect?idp=entra", `#requests-rows`},
		{"audit", "/audit", `table.data`},
		{"settings", "/settings", `#name`},
	} {
		run(p.name, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
		shot(p.name)
	}

	// The operator's pages, after signing out.
	signOut := func() {
		t.Helper()
		run("sign out", chromedp.Click(chromedp.CSS(`.me button`)))
		// Signing out ends at the provider's end-session page.
		for i := 0; ; i++ {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			if strings.Contains(loc, "logged-out") {
				break
			}
			if i == 50 {
				t.Fatalf("sign-out ended at %s, want the provider's end-session page", loc)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	signInAs := func(user, wait string) {
		t.Helper()
		run("sign in as "+user, chromedp.Navigate(o.portal.URL+"/admin/login"), chromedp.WaitVisible(chromedp.CSS(`a.btn.primary`)), chromedp.Click(chromedp.CSS(`a.btn.primary`)),
			chromedp.WaitVisible(chromedp.CSS(`#username`)), chromedp.SendKeys(chromedp.CSS(`#username`), user), chromedp.SendKeys(chromedp.CSS(`#password`), opPassword),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS(wait)))
	}
	signOut()
	signInAs("operator", `#tname`)
	shot("op-tenants")
	for _, p := range []struct{ name, path, wait string }{
		{"op-pools", "/admin/op/tenants/" + o.acme.ID + "/pools", `#np-total, .empty, section.card`},
		{"op-products", "/admin/op/products", `#pcode`},
		{"op-requests", "/admin/op/requests", `section.card`},
		{"op-users", "/admin/t/" + o.acme.ID + "/users/" + grace.ID, `#panel`},
	} {
		run(p.name, chromedp.Navigate(o.portal.URL+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
		shot(p.name)
	}

	// An admin of two tenants chooses one, then switches in the header.
	signOut()
	signInAs("carol", `ul.accounts`)
	shot("accounts")
	run("choose Globex", chromedp.Click(`//ul[contains(@class, "accounts")]//a[contains(., "Globex")]`), chromedp.WaitVisible(chromedp.CSS(`#tenant-switch`)))
	if h := text(`nav.sidenav .navhead`); !strings.EqualFold(h, "Globex") {
		t.Errorf("after choosing Globex the menu is for %q", h)
	}
	run("switch to Acme", chromedp.SetValue(chromedp.CSS(`#tenant-switch`), o.acme.ID), chromedp.Click(chromedp.CSS(`form.switcher button`)),
		chromedp.WaitVisible(`//nav[contains(@class, "sidenav")]//p[contains(., "Acme")]`))
	shot("users-switcher")
	t.Logf("screenshots in %s", dir)
}
