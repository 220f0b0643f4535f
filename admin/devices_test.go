package admin

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// withoutDevicePager hides store.DevicePager: a backend that lists
// every device, which the portal pages itself.
type withoutDevicePager struct{ store.Store }

// unsupportedPager is a wrapper (like roster serve's metrics) whose
// backend has neither fast path: it offers the methods and answers
// errors.ErrUnsupported.
type unsupportedPager struct{ store.Store }

func (unsupportedPager) ListDevicesPage(context.Context, string, store.DeviceQuery) (*store.DevicePage, error) {
	return nil, errors.ErrUnsupported
}

func (unsupportedPager) ListWaiting(context.Context, string, string, int) ([]*store.Assignment, int, error) {
	return nil, 0, errors.ErrUnsupported
}

// devicesModes runs a test over a store that pages devices and over one
// that does not: the screen must look the same.
func devicesModes(t *testing.T, f func(t *testing.T, e *env)) {
	for _, mode := range []string{"paged by the store", "paged by the portal", "behind a wrapper without a pager"} {
		t.Run(mode, func(t *testing.T) {
			st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
			must(t, err)
			t.Cleanup(func() { st.Close() })
			var s store.Store = st
			switch mode {
			case "paged by the portal":
				s = withoutDevicePager{st}
			case "behind a wrapper without a pager":
				s = unsupportedPager{withoutDevicePager{st}}
			}
			f(t, newEnvOn(t, s))
		})
	}
}

var deviceCode = regexp.MustCompile(`<span class="mono">([^<]+)</span>`)

func deviceCodes(body string) []string {
	var out []string
	for _, m := range deviceCode.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func nextLink(body string) string {
	m := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// TestDevicesPagedAndFiltered: the Devices & Licenses screen shows 50
// devices a page, in product then code order, and filters by product and
// by license status.
func TestDevicesPagedAndFiltered(t *testing.T) {
	devicesModes(t, func(t *testing.T, e *env) {
		op := e.operator()
		scan := &store.Product{Code: "scanner", Name: "Scanner"}
		must(t, e.st.CreateProduct(e.ctx, scan))
		scanPool := &store.Pool{TenantID: e.acme.ID, ProductID: scan.ID, Total: 3, Policy: store.PolicyDeny}
		must(t, e.st.CreatePool(e.ctx, scanPool))
		e.poolA.Total = 60
		must(t, e.st.UpdatePool(e.ctx, e.poolA))

		var counter []string
		for i := range 55 {
			u := e.user(e.acme.ID, fmt.Sprintf("c%02d@acme.test", i), false)
			must(t, e.eng.Assign(e.ctx, e.acme.ID, e.poolA.ID, u.ID, "test"))
			code := fmt.Sprintf("C-%02d", 54-i) // codes sort against creation order
			_, err := e.eng.DeviceLogin(e.ctx, u, "counter", code, "", time.Hour)
			must(t, err)
			counter = append(counter, code)
		}
		slices.Sort(counter)
		var scanners []string
		for i := range 3 {
			u := e.user(e.acme.ID, fmt.Sprintf("s%d@acme.test", i), false)
			must(t, e.eng.Assign(e.ctx, e.acme.ID, scanPool.ID, u.ID, "test"))
			_, err := e.eng.DeviceLogin(e.ctx, u, "scanner", fmt.Sprintf("S-%d", i), "", time.Hour)
			must(t, err)
			scanners = append(scanners, fmt.Sprintf("S-%d", i))
		}
		// One scanner user is deactivated: their seat is suspended.
		gone, _ := e.st.GetUserByUserName(e.ctx, e.acme.ID, "s1@acme.test")
		wantStatus(t, e.post(op, "/admin/t/"+e.acme.ID+"/users/"+gone.ID+"/active", url.Values{"active": {"false"}, "confirm": {"yes"}}), http.StatusSeeOther, "deactivate")

		all := append(slices.Clone(counter), scanners...)
		if scan.ID < e.prod.ID {
			all = append(slices.Clone(scanners), counter...)
		}
		base := "/admin/t/" + e.acme.ID + "/devices"
		var seen []string
		next := base
		for pages := 0; next != ""; pages++ {
			if pages == 3 {
				t.Fatalf("more than two pages for %d devices", len(all))
			}
			rec := e.get(op, next)
			wantStatus(t, rec, 200, next)
			got := deviceCodes(rec.Body.String())
			if len(got) > devicesPerPage {
				t.Errorf("%s: %d devices on a page", next, len(got))
			}
			seen = append(seen, got...)
			next = nextLink(rec.Body.String())
		}
		if strings.Join(seen, ",") != strings.Join(all, ",") {
			t.Errorf("devices over the pages:\ngot  %v\nwant %v", seen, all)
		}

		tests := []struct {
			query url.Values
			want  []string
		}{
			{url.Values{"product": {scan.ID}}, scanners},
			{url.Values{"product": {scan.ID}, "status": {"licensed"}}, []string{"S-0", "S-2"}},
			{url.Values{"status": {"unlicensed"}}, []string{"S-1"}},
			{url.Values{"product": {e.prod.ID}, "status": {"unlicensed"}}, nil},
		}
		for _, tt := range tests {
			body := e.get(op, base+"?"+tt.query.Encode()).Body.String()
			if got := deviceCodes(body); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("devices?%s: got %v, want %v", tt.query.Encode(), got, tt.want)
			}
			if tt.want == nil && !strings.Contains(body, "No device matches this filter") {
				t.Errorf("devices?%s: an empty result does not say so", tt.query.Encode())
			}
		}
	})
}

// TestMoveDevice: "Move device" hands a device to another user who holds
// a license of its product; to anyone else it is refused with the reason.
func TestMoveDevice(t *testing.T) {
	devicesModes(t, func(t *testing.T, e *env) {
		op := e.operator()
		ann := e.user(e.acme.ID, "ann@acme.test", false)
		ben := e.user(e.acme.ID, "ben@acme.test", false)
		cat := e.user(e.acme.ID, "cat@acme.test", false)
		for _, u := range []*store.User{ann, ben} {
			must(t, e.eng.Assign(e.ctx, e.acme.ID, e.poolA.ID, u.ID, "test"))
			_, err := e.eng.DeviceLogin(e.ctx, u, "counter", "DEV-"+u.UserName[:3], "", time.Hour)
			must(t, err)
		}
		dev, err := e.st.GetDeviceByCode(e.ctx, e.acme.ID, e.prod.ID, "DEV-ann")
		must(t, err)
		base := "/admin/t/" + e.acme.ID

		body := e.get(op, base+"/devices").Body.String()
		if !strings.Contains(body, "/devices/"+dev.ID+"/move") || !strings.Contains(body, "Move device") {
			t.Fatalf("devices screen offers no Move device for DEV-ann")
		}
		rec := e.get(op, base+"/devices/"+dev.ID+"/move")
		wantStatus(t, rec, 200, "move device page")
		if b := rec.Body.String(); !strings.Contains(b, "ben@acme.test") || strings.Contains(b, "cat@acme.test") || strings.Contains(b, `value="`+ann.ID+`"`) {
			t.Errorf("move device page should offer Ben only (licensed, not the owner):\n%s", b)
		}

		// Cat holds no license: refused, nothing moves.
		rec = e.post(op, base+"/devices/"+dev.ID+"/move", url.Values{"toUserName": {"cat@acme.test"}})
		wantStatus(t, rec, 422, "move to an unlicensed user")
		if !strings.Contains(rec.Body.String(), "no active license for this product") {
			t.Errorf("refusal does not say why")
		}
		if d, _ := e.st.GetDeviceByCode(e.ctx, e.acme.ID, e.prod.ID, "DEV-ann"); d.UserID != ann.ID {
			t.Errorf("refused move still moved the device")
		}
		_ = cat

		// A typed name nobody has, or nobody chosen: told what to fix,
		// with the name shown again; nothing moves.
		for _, tc := range []struct {
			form url.Values
			says string
		}{
			{url.Values{"toUserName": {"nobody@acme.test"}}, "There is no user nobody@acme.test in this account."},
			{url.Values{}, "Choose who gets the device."},
		} {
			rec = e.post(op, base+"/devices/"+dev.ID+"/move", tc.form)
			wantStatus(t, rec, 422, "move to "+tc.form.Encode())
			if b := rec.Body.String(); !strings.Contains(b, html.EscapeString(tc.says)) ||
				(tc.form.Get("toUserName") != "" && !strings.Contains(b, `value="nobody@acme.test"`)) {
				t.Errorf("move to %q: page does not say %q or lost the typed name", tc.form.Encode(), tc.says)
			}
		}
		if d, _ := e.st.GetDeviceByCode(e.ctx, e.acme.ID, e.prod.ID, "DEV-ann"); d.UserID != ann.ID {
			t.Errorf("refused move still moved the device")
		}

		rec = e.post(op, base+"/devices/"+dev.ID+"/move", url.Values{"to": {ben.ID}, "return": {base + "/devices?status=licensed"}})
		wantStatus(t, rec, http.StatusSeeOther, "move device")
		if loc := rec.Header().Get("Location"); loc != base+"/devices?status=licensed" {
			t.Errorf("back to %q, want the screen it came from", loc)
		}
		if f := flashOf(rec); !strings.Contains(f, "DEV-ann moved to ben@acme.test") {
			t.Errorf("flash: %q", f)
		}
		d, err := e.st.GetDeviceByCode(e.ctx, e.acme.ID, e.prod.ID, "DEV-ann")
		if err != nil || d.UserID != ben.ID {
			t.Fatalf("DEV-ann after the move: %+v %v", d, err)
		}
		evs, _ := e.st.ListAudit(e.ctx, e.acme.ID, store.AuditQuery{Action: "device.move"})
		if len(evs) != 1 || !strings.HasPrefix(evs[0].Actor, "admin:") {
			t.Errorf("audit of the move: %+v", evs)
		}
		if b := e.get(op, base+"/audit").Body.String(); !strings.Contains(b, "Moved device") {
			t.Errorf("audit log does not name the move")
		}
	})
}
