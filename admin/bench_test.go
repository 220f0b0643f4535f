package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

// benchTenant fills acme with n users shaped like a real account: one
// in ten is inactive, one in seven has not activated their account yet,
// and of the active users some hold a seat and have signed in on a
// device while others wait for a seat. A large tenant has a seat for one
// user in ten and a hundredth waiting; a small one has seats for most,
// so that its Devices & Licenses screen fills a page like the large
// one's, and as many waiting (the Licenses page lists twenty). It returns
// a tenant admin's cookie.
func benchTenant(b *testing.B, n int) (*env, *http.Cookie) {
	e := newEnv(b)
	seats, waits := n/10, n/100
	if n <= 1000 {
		seats, waits = n*7/10, n/5
	}
	e.poolA.Total = seats
	must(b, e.st.UpdatePool(e.ctx, e.poolA))
	admin := e.user(e.acme.ID, "admin@acme.test", true)
	admin.Activation = store.ActivationActive
	must(b, e.st.UpdateUser(e.ctx, admin))
	var waiting []string // ask for a seat once the pool is full
	for i := range n {
		name := fmt.Sprintf("user%06d@acme.test", i)
		u := &store.User{TenantID: e.acme.ID, UserName: name, Active: i%10 != 9, Activation: store.ActivationActive,
			Name: store.Name{GivenName: "Given", FamilyName: fmt.Sprintf("Family%d", i)}, DisplayName: fmt.Sprintf("Given Family%d", i),
			Emails: []store.MultiValue{{Value: name, Type: "work", Primary: true}}}
		if i%7 == 3 {
			u.Activation = store.ActivationPending
		}
		must(b, e.st.CreateUser(e.ctx, u))
		switch {
		case !u.Active:
		case seats > 0 && (n <= 1000 || i%10 == 0):
			seats--
			must(b, e.eng.Assign(e.ctx, e.acme.ID, e.poolA.ID, u.ID, "bench"))
			a, err := e.st.GetAssignment(e.ctx, e.acme.ID, e.poolA.ID, u.ID)
			must(b, err)
			must(b, e.st.BindDevice(e.ctx, &store.Device{TenantID: e.acme.ID, ProductID: e.prod.ID, DeviceCode: fmt.Sprintf("DEV-%06d", i),
				UserID: u.ID, AssignmentID: a.ID, State: store.DeviceActive, LastSeenAt: e.clock.Now()}, 0))
		case len(waiting) < waits && (n <= 1000 || i%100 == 1):
			waiting = append(waiting, u.ID)
		}
	}
	for _, id := range waiting {
		a := &store.Assignment{TenantID: e.acme.ID, PoolID: e.poolA.ID, UserID: id, Sources: []string{"group:bench"}}
		if err := e.st.ClaimSeat(e.ctx, a, e.clock.Now()); !errors.Is(err, store.ErrNoSeats) {
			b.Fatalf("claim a seat of a full pool: %v", err)
		}
	}
	for d := range 30 {
		must(b, e.st.AddPoolSample(e.ctx, &store.PoolSample{TenantID: e.acme.ID, PoolID: e.poolA.ID,
			At: e.clock.Now().Add(-time.Duration(30-d) * 24 * time.Hour), Total: e.poolA.Total, Assigned: e.poolA.Total * d / 30}))
	}
	return e, e.session(store.RoleTenantAdmin, e.acme.ID, admin.UserName)
}

// denseTenant fills acme with 100 users each of whom a filtered page
// lists, so that those pages hold as many rows as in the large tenant:
// every name matches the search "family4", the odd half is inactive, the
// even half has not activated yet, and every user signed in on a device
// with a seat (the inactive ones' seats are suspended since).
func denseTenant(b *testing.B) (*env, *http.Cookie) {
	e := newEnv(b)
	e.poolA.Total = 100
	must(b, e.st.UpdatePool(e.ctx, e.poolA))
	admin := e.user(e.acme.ID, "admin@acme.test", true)
	admin.Activation = store.ActivationActive
	must(b, e.st.UpdateUser(e.ctx, admin))
	for i := range 100 {
		name := fmt.Sprintf("user%06d@acme.test", i)
		u := &store.User{TenantID: e.acme.ID, UserName: name, Active: true, Activation: store.ActivationPending,
			Name: store.Name{GivenName: "Given", FamilyName: fmt.Sprintf("Family4%02d", i)}, DisplayName: fmt.Sprintf("Given Family4%02d", i),
			Emails: []store.MultiValue{{Value: name, Type: "work", Primary: true}}}
		must(b, e.st.CreateUser(e.ctx, u))
		must(b, e.eng.Assign(e.ctx, e.acme.ID, e.poolA.ID, u.ID, "bench"))
		a, err := e.st.GetAssignment(e.ctx, e.acme.ID, e.poolA.ID, u.ID)
		must(b, err)
		must(b, e.st.BindDevice(e.ctx, &store.Device{TenantID: e.acme.ID, ProductID: e.prod.ID, DeviceCode: fmt.Sprintf("DEV-%06d", i),
			UserID: u.ID, AssignmentID: a.ID, State: store.DeviceActive, LastSeenAt: e.clock.Now()}, 0))
		if i%2 == 1 {
			u.Active, u.Activation = false, store.ActivationActive
			must(b, e.st.UpdateUser(e.ctx, u))
			must(b, e.eng.SyncUser(e.ctx, e.acme.ID, u.ID, "bench"))
		}
	}
	return e, e.session(store.RoleTenantAdmin, e.acme.ID, admin.UserName)
}

// rows counts the table rows of a page, headers aside.
func rows(body string) int {
	return strings.Count(body, "<tr") - strings.Count(body, "<thead>")
}

// BenchmarkPortalPages renders each main page of a tenant of 100 users
// and of one of 100,000, alternating the two in the same loop so that
// the load of a shared machine weighs on both alike. The goal (issue 6)
// is that the large tenant costs less than twice the small one; each
// line reports both times, their ratio ("x100k") and the table rows of
// each page. Filtered pages and the second page of devices compare with
// a small tenant whose every user they list (denseTenant): against a
// page of ten rows, fifty rows would cost more however the store scales.
//
//	go test -run '^$' -bench PortalPages -benchtime 100x ./admin/
func BenchmarkPortalPages(b *testing.B) {
	typical, typicalCk := benchTenant(b, 100)
	dense, denseCk := denseTenant(b)
	large, largeCk := benchTenant(b, 100_000)
	for _, pg := range []struct {
		name, path string
		dense      bool
	}{
		{"users", "users", false},
		{"users-search", "users?q=family4", true},
		{"users-search-short", "users?q=us", true}, // below a trigram: the start of usernames
		{"users-inactive", "users?status=inactive", true},
		{"users-pending", "users?status=pending", true},
		{"users-panel", "users/{user}?tab=licenses", false},
		{"devices", "devices", false},
		{"devices-licensed", "devices?status=licensed", false},
		{"devices-page2", "devices?page=2", true},
		{"licenses", "licenses", false},
		{"audit", "audit", false},
	} {
		b.Run(pg.name, func(b *testing.B) {
			small, smallCk := typical, typicalCk
			if pg.dense {
				small, smallCk = dense, denseCk
			}
			path := func(e *env) string {
				p := "/admin/t/" + e.acme.ID + "/" + pg.path
				if pg.path == "users/{user}?tab=licenses" {
					u, err := e.st.GetUserByUserName(e.ctx, e.acme.ID, "user000010@acme.test")
					must(b, err)
					p = "/admin/t/" + e.acme.ID + "/users/" + u.ID + "?tab=licenses"
				}
				return p
			}
			smallPath, largePath := path(small), path(large)
			var rowsOf [2]int
			for i, w := range []struct {
				e  *env
				ck *http.Cookie
				p  string
			}{{small, smallCk, smallPath}, {large, largeCk, largePath}} {
				rec := w.e.get(w.ck, w.p)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", w.p, rec.Code)
				}
				rowsOf[i] = rows(rec.Body.String())
			}
			var tSmall, tLarge time.Duration
			for b.Loop() {
				t0 := time.Now()
				small.get(smallCk, smallPath)
				t1 := time.Now()
				large.get(largeCk, largePath)
				tSmall += t1.Sub(t0)
				tLarge += time.Since(t1)
			}
			b.ReportMetric(float64(tSmall.Nanoseconds())/float64(b.N), "ns/op100")
			b.ReportMetric(float64(tLarge.Nanoseconds())/float64(b.N), "ns/op100k")
			b.ReportMetric(float64(tLarge)/float64(tSmall), "x100k")
			// Pages whose small version has fewer rows are not the same
			// page: the rows say so next to the ratio.
			b.ReportMetric(float64(rowsOf[0]), "rows100")
			b.ReportMetric(float64(rowsOf[1]), "rows100k")
		})
	}
}
