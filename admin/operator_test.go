package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/store"
)

func TestOperatorTenantsProductsPools(t *testing.T) {
	e := newEnv(t)
	op := e.operator()
	rec := e.post(op, "/admin/op/tenants", url.Values{"name": {"Initech"}})
	wantStatus(t, rec, http.StatusSeeOther, "create tenant")
	tn, err := e.st.GetTenantByName(e.ctx, "Initech")
	must(t, err)
	wantStatus(t, e.post(op, "/admin/op/tenants", url.Values{"name": {"initech"}}), http.StatusConflict, "duplicate tenant")
	wantStatus(t, e.post(op, "/admin/op/tenants/"+tn.ID, url.Values{"action": {"rename"}, "name": {"Initech Ltd"}}), http.StatusSeeOther, "rename")
	wantStatus(t, e.post(op, "/admin/op/tenants/"+tn.ID, url.Values{"action": {"suspend"}}), http.StatusSeeOther, "suspend")
	if tn, _ = e.st.GetTenant(e.ctx, tn.ID); tn.Name != "Initech Ltd" || !tn.Suspended {
		t.Errorf("tenant after rename and suspend: %+v", tn)
	}
	body := e.get(op, "/admin/op/tenants").Body.String()
	if !strings.Contains(body, "Initech Ltd") || !strings.Contains(body, "Suspended") {
		t.Errorf("tenants page lacks the suspended tenant")
	}
	wantStatus(t, e.post(op, "/admin/op/tenants/"+tn.ID, url.Values{"action": {"unsuspend"}}), http.StatusSeeOther, "unsuspend")

	// Products.
	wantStatus(t, e.post(op, "/admin/op/products", url.Values{"code": {"Bad Code"}, "name": {"x"}}), http.StatusUnprocessableEntity, "bad code")
	wantStatus(t, e.post(op, "/admin/op/products", url.Values{"code": {"scanner"}, "name": {"Scanner"}}), http.StatusSeeOther, "create product")
	wantStatus(t, e.post(op, "/admin/op/products", url.Values{"code": {"scanner"}, "name": {"Scanner 2"}}), http.StatusConflict, "duplicate product")
	scanner, err := e.st.GetProductByCode(e.ctx, "scanner")
	must(t, err)
	wantStatus(t, e.post(op, "/admin/op/products/"+scanner.ID, url.Values{"name": {"Scanner Plus"}}), http.StatusSeeOther, "rename product")
	if p, _ := e.st.GetProduct(e.ctx, scanner.ID); p.Name != "Scanner Plus" {
		t.Errorf("product name %q", p.Name)
	}

	// Pools.
	pools := "/admin/op/tenants/" + tn.ID + "/pools"
	wantStatus(t, e.get(op, pools), http.StatusOK, "pools page")
	wantStatus(t, e.post(op, pools, url.Values{"product": {scanner.ID}, "total": {"-1"}, "policy": {"deny"}}), http.StatusUnprocessableEntity, "negative total")
	wantStatus(t, e.post(op, pools, url.Values{"product": {scanner.ID}, "total": {"3"}, "starts": {"2026-12-01"}, "ends": {"2026-11-01"}, "policy": {"deny"}}),
		http.StatusUnprocessableEntity, "ends before start")
	rec = e.post(op, pools, url.Values{"product": {scanner.ID}, "total": {"3"}, "starts": {"2026-01-01"}, "ends": {"2027-01-01"}, "devices": {"2"},
		"policy": {"allow-over"}, "autoAssign": {"on"}})
	wantStatus(t, rec, http.StatusSeeOther, "create pool")
	p, err := e.st.GetPoolByProduct(e.ctx, tn.ID, scanner.ID)
	must(t, err)
	if p.Total != 3 || p.MaxDevicesPerSeat != 2 || p.Policy != store.PolicyAllowOver || !p.AutoAssign || p.EndsAt.Format("2006-01-02") != "2027-01-01" {
		t.Errorf("pool: %+v", p)
	}
	// Resize below what is assigned is refused with the number to free.
	for _, n := range []string{"a", "b"} {
		u := e.user(tn.ID, n+"@initech.test", false)
		must(t, e.eng.Assign(e.ctx, tn.ID, p.ID, u.ID, "test"))
	}
	rec = e.post(op, pools+"/"+p.ID, url.Values{"action": {"resize"}, "total": {"1"}})
	if f := flashOf(rec); !strings.Contains(f, "free 1 before shrinking") {
		t.Errorf("shrink below assigned: flash %q", f)
	}
	wantStatus(t, e.post(op, pools+"/"+p.ID, url.Values{"action": {"resize"}, "total": {"10"}}), http.StatusSeeOther, "resize")
	wantStatus(t, e.post(op, pools+"/"+p.ID, url.Values{"action": {"update"}, "starts": {""}, "ends": {"2028-01-01"}, "devices": {"0"}, "policy": {"deny"}}),
		http.StatusSeeOther, "update terms")
	p, _ = e.st.GetPool(e.ctx, tn.ID, p.ID)
	if p.Total != 10 || p.Policy != store.PolicyDeny || p.AutoAssign || p.MaxDevicesPerSeat != 0 || p.EndsAt.Year() != 2028 {
		t.Errorf("pool after resize and update: %+v", p)
	}
	wantStatus(t, e.post(op, pools+"/"+p.ID, url.Values{"action": {"end"}}), http.StatusSeeOther, "end")
	if p, _ = e.st.GetPool(e.ctx, tn.ID, p.ID); p.ActiveAt(e.clock.Now().Add(time.Second)) {
		t.Errorf("pool still running after End")
	}
	evs, _ := e.st.ListAudit(e.ctx, tn.ID, store.AuditQuery{})
	seen := map[string]bool{}
	for _, ev := range evs {
		seen[ev.Action] = true
	}
	for _, a := range []string{"tenant.create", "tenant.suspend", "pool.create", "pool.resize", "pool.update", "pool.end"} {
		if !seen[a] {
			t.Errorf("no audit event %s", a)
		}
	}
}

func TestSeatRequestApproved(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.OIDC = testOIDCConfig("https://idp.example.com") })
	boss := e.user(e.acme.ID, "boss@acme.test", true)
	ta := e.session(store.RoleTenantAdmin, e.acme.ID, boss.UserName)
	base := "/admin/t/" + e.acme.ID
	// Fill the pool and put someone on the waiting list via a rule.
	g := &store.Group{TenantID: e.acme.ID, DisplayName: "All"}
	must(t, e.st.CreateGroup(e.ctx, g))
	var members []store.Member
	for i := range 3 {
		u := e.user(e.acme.ID, fmt.Sprintf("w%d@acme.test", i), false)
		members = append(members, store.Member{MemberID: u.ID, Type: store.MemberUser})
	}
	_, err := e.st.AddMembers(e.ctx, e.acme.ID, g.ID, 0, members)
	must(t, err)
	_, err = e.eng.AddRule(e.ctx, e.acme.ID, g.ID, e.poolA.ID, "test")
	must(t, err)

	// Tenant admins cannot resize; they request.
	wantStatus(t, e.post(ta, base+"/pools/"+e.poolA.ID+"/resize", url.Values{"total": {"100"}}), http.StatusForbidden, "tenant admin resize")
	rec := e.post(ta, base+"/pools/"+e.poolA.ID+"/request", url.Values{"seats": {"0"}})
	if f := flashOf(rec); !strings.Contains(f, "from 1 to 100,000") {
		t.Errorf("zero seats: flash %q", f)
	}
	rec = e.post(ta, base+"/pools/"+e.poolA.ID+"/request", url.Values{"seats": {"3"}, "note": {"new team"}})
	wantStatus(t, rec, http.StatusSeeOther, "request seats")
	reqs, _ := e.st.ListSeatRequests(e.ctx, e.acme.ID, store.RequestPending)
	if len(reqs) != 1 || reqs[0].Seats != 3 || reqs[0].RequestedBy != "boss@acme.test" {
		t.Fatalf("requests: %+v", reqs)
	}
	if !containsSubject(e.outboxTo("op@roster.example.com"), "Acme asks for 3 more seats of Counter Pro") {
		t.Errorf("operators not told: %v", subjects(e.outboxTo("op@roster.example.com")))
	}
	if !strings.Contains(e.get(ta, base+"/licenses").Body.String(), "pending") {
		t.Errorf("licenses page does not show the pending request")
	}

	op := e.operator()
	body := e.get(op, "/admin/op/requests").Body.String()
	if !strings.Contains(body, "<strong>3</strong> more seats") || !strings.Contains(body, "new team") {
		t.Errorf("operator's queue lacks the request:\n%s", body)
	}
	decide := "/admin/op/requests/" + e.acme.ID + "/" + reqs[0].ID
	wantStatus(t, e.post(op, decide, url.Values{"decision": {"approve"}}), http.StatusSeeOther, "approve")
	p, _ := e.st.GetPool(e.ctx, e.acme.ID, e.poolA.ID)
	waiting, _ := e.st.ListAssignments(e.ctx, e.acme.ID, store.AssignmentQuery{PoolID: p.ID, State: store.AssignWaiting})
	if p.Total != 5 || p.Assigned != 3 || len(waiting) != 0 {
		t.Errorf("after approval: total %d assigned %d waiting %d, want 5, 3, 0", p.Total, p.Assigned, len(waiting))
	}
	// Deciding twice is refused and does not grow the pool again.
	rec = e.post(op, decide, url.Values{"decision": {"approve"}})
	if f := flashOf(rec); !strings.Contains(f, "already approved") {
		t.Errorf("second approval: flash %q", f)
	}
	if p, _ := e.st.GetPool(e.ctx, e.acme.ID, e.poolA.ID); p.Total != 5 {
		t.Errorf("second approval grew the pool to %d", p.Total)
	}
	if !containsSubject(e.outboxTo("boss@acme.test"), "Your seat request for Counter Pro") {
		t.Errorf("requester not told")
	}
	evs, _ := e.st.ListAudit(e.ctx, e.acme.ID, store.AuditQuery{Action: "seat-request.approve"})
	if len(evs) != 1 {
		t.Errorf("approval audit events: %d", len(evs))
	}
}

func TestConnectPageAndRequestLog(t *testing.T) {
	log := NewRequestLog(3)
	e := newEnv(t, func(d *Deps) { d.RequestLog = log })
	op := e.operator()
	t0 := e.clock.Now()
	log.Record(e.acme.ID, "GET", "/scim/v2/Users?filter=userName+eq+%22secret%40x%22", 200, t0)
	log.Record(e.acme.ID, "POST", "/scim/v2/Users", 201, t0.Add(time.Second))
	log.Record(e.globex.ID, "DELETE", "/scim/v2/Users/globex-only", 204, t0)
	for _, idp := range []string{"okta", "entra", "generic"} {
		rec := e.get(op, "/admin/t/"+e.acme.ID+"/connect?idp="+idp)
		wantStatus(t, rec, http.StatusOK, "connect "+idp)
		body := rec.Body.String()
		for _, want := range []string{"https://roster.example.com/scim/v2", "/scim/v2/Users", "201"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: page lacks %q", idp, want)
			}
		}
		if strings.Contains(body, "globex-only") || strings.Contains(body, "secret") {
			t.Errorf("%s: page shows another tenant's request or a query string", idp)
		}
	}
	rec := e.get(op, "/admin/t/"+e.acme.ID+"/connect/requests")
	if rec.Code != 200 || strings.Count(rec.Body.String(), "<tr>") != 2 || strings.Contains(rec.Body.String(), "<html") {
		t.Errorf("live fragment: %d\n%s", rec.Code, rec.Body)
	}
	// The ring keeps the newest.
	for i := range 5 {
		log.Record(e.acme.ID, "PATCH", fmt.Sprintf("/scim/v2/Users/%d", i), 200, t0.Add(time.Duration(i+2)*time.Second))
	}
	got := log.Recent(e.acme.ID, 10)
	if len(got) != 3 || got[0].Path != "/scim/v2/Users/4" || got[2].Path != "/scim/v2/Users/2" {
		t.Errorf("ring: %+v", got)
	}
}

func TestRequestLogBoundsTenants(t *testing.T) {
	l := NewRequestLog(2)
	l.maxTenants = 3
	at := time.Unix(0, 0)
	for i := range 10 {
		l.Record(fmt.Sprint("t", i), "GET", "/x", 200, at.Add(time.Duration(i)*time.Second))
	}
	if len(l.rings) != 3 || l.Recent("t9", 1) == nil || l.Recent("t0", 1) != nil {
		t.Errorf("tenants kept: %d", len(l.rings))
	}
	var nilLog *RequestLog
	nilLog.Record("t", "GET", "/", 200, at) // a nil log is a no-op
}

func TestSamplerAndChart(t *testing.T) {
	e := newEnv(t)
	s := &Sampler{Store: e.st, Holder: "node-1", Interval: time.Hour, Now: e.clock.Now}
	u := e.user(e.acme.ID, "s@acme.test", false)
	old := e.operator() // ends 12 hours from now; the samples below take 3
	e.clock.Add(-13 * time.Hour)
	stale := e.operator()
	e.clock.Add(13 * time.Hour)
	for range 3 {
		n, err := s.Once(e.ctx)
		must(t, err)
		if n != 2 {
			t.Errorf("samples written: %d, want 2 (one per pool)", n)
		}
		must(t, e.eng.Assign(e.ctx, e.acme.ID, e.poolA.ID, u.ID, "test"))
		e.clock.Add(time.Hour)
	}
	if _, err := e.st.GetSession(e.ctx, auth.HashSecret(stale.Value)); err == nil {
		t.Errorf("the sampler left an ended session")
	}
	if _, err := e.st.GetSession(e.ctx, auth.HashSecret(old.Value)); err != nil {
		t.Errorf("the sampler deleted a live session: %v", err)
	}
	// Another node does not sample while the lease is held.
	other := &Sampler{Store: e.st, Holder: "node-2", Interval: time.Hour, Now: e.clock.Now}
	if n, err := other.Once(e.ctx); n != 0 || err != nil {
		t.Errorf("second node sampled %d (%v)", n, err)
	}
	samples, _ := e.st.PoolSamples(e.ctx, e.acme.ID, e.poolA.ID, time.Time{})
	if len(samples) != 3 || samples[0].Assigned != 0 || samples[1].Assigned != 1 {
		t.Errorf("samples: %d", len(samples))
	}
	svg, text := usageChart("Counter Pro", samples, e.clock.Now())
	if !strings.HasPrefix(string(svg), "<svg") || !strings.Contains(string(svg), `class="used-line"`) || !strings.Contains(text, "1 of 2 seats in use") {
		t.Errorf("chart: %s / %s", svg, text)
	}
	// Months of samples stay a small chart.
	var many []*store.PoolSample
	for i := range 10000 {
		many = append(many, &store.PoolSample{At: e.clock.Now().Add(-time.Duration(10000-i) * 5 * time.Minute), Total: 10, Assigned: i % 10})
	}
	if svg, _ := usageChart("x", many, e.clock.Now()); len(svg) > 20000 {
		t.Errorf("chart of 10,000 samples is %d bytes", len(svg))
	}
}
