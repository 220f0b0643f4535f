package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

// testTenantIsolation: every read, write and delete of tenant A's records
// through tenant B finds nothing and changes nothing.
func testTenantIsolation(t *testing.T, e *env) {
	a, b := e.tenant("a"), e.tenant("b")
	pr := e.product("p")
	u := e.user(a.ID, "ann", func(u *store.User) { u.ExternalID = "ext-ann" })
	g := e.group(a.ID, "grp")
	_, err := e.s.AddMembers(e.ctx, a.ID, g.ID, 0, []store.Member{{MemberID: u.ID}})
	e.must(err, "AddMembers")
	g, _ = e.s.GetGroup(e.ctx, a.ID, g.ID)
	pool := e.pool(a.ID, pr.ID, 2, func(p *store.Pool) { p.MaxDevicesPerSeat = 3 })
	rule := &store.Rule{TenantID: a.ID, GroupID: g.ID, PoolID: pool.ID}
	e.must(e.s.CreateRule(e.ctx, rule), "CreateRule")
	seat, err := e.claim(a.ID, pool.ID, u.ID, store.GroupSource(g.ID))
	e.must(err, "ClaimSeat")
	dev := &store.Device{TenantID: a.ID, ProductID: pr.ID, DeviceCode: "D1", UserID: u.ID, AssignmentID: seat.ID}
	e.must(e.s.BindDevice(e.ctx, dev, 0), "BindDevice")
	job := &store.ImportJob{TenantID: a.ID, FileName: "f.csv", Format: "csv", Mode: store.ImportValidRows}
	e.must(e.s.CreateImportJob(e.ctx, job), "CreateImportJob")
	e.must(e.s.AppendAudit(e.ctx, &store.AuditEvent{TenantID: a.ID, Actor: "system", Action: "x"}), "AppendAudit")
	e.must(e.s.Enqueue(e.ctx, &store.OutboxMessage{TenantID: a.ID, Channel: "email", To: "x@y"}), "Enqueue")
	bu := e.user(b.ID, "bob")
	bg := e.group(b.ID, "bgrp")

	notFound := func(err error, what string) {
		t.Helper()
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s through another tenant: error %v, want ErrNotFound", what, err)
		}
	}
	refused := func(err error, what string) {
		t.Helper()
		if err == nil {
			t.Errorf("%s through another tenant succeeded", what)
		}
	}

	_, err = e.s.GetUser(e.ctx, b.ID, u.ID)
	notFound(err, "GetUser")
	_, err = e.s.GetUserByUserName(e.ctx, b.ID, "ann")
	notFound(err, "GetUserByUserName")
	uu := *u
	uu.TenantID, uu.Title = b.ID, "hijacked"
	notFound(e.s.UpdateUser(e.ctx, &uu), "UpdateUser")
	notFound(e.s.DeleteUser(e.ctx, b.ID, u.ID, 0), "DeleteUser")
	_, err = e.s.GetGroup(e.ctx, b.ID, g.ID)
	notFound(err, "GetGroup")
	gg := *g
	gg.TenantID, gg.DisplayName = b.ID, "hijacked"
	notFound(e.s.UpdateGroup(e.ctx, &gg), "UpdateGroup")
	notFound(e.s.DeleteGroup(e.ctx, b.ID, g.ID, 0), "DeleteGroup")
	_, err = e.s.AddMembers(e.ctx, b.ID, g.ID, 0, []store.Member{{MemberID: bu.ID}})
	notFound(err, "AddMembers")
	_, err = e.s.RemoveMembers(e.ctx, b.ID, g.ID, 0, []string{u.ID})
	notFound(err, "RemoveMembers")
	_, err = e.s.ReplaceMembers(e.ctx, b.ID, g.ID, 0, nil)
	notFound(err, "ReplaceMembers")
	_, err = e.s.ListMembers(e.ctx, b.ID, g.ID, "", 10)
	notFound(err, "ListMembers")
	_, err = e.s.CountMembers(e.ctx, b.ID, g.ID)
	notFound(err, "CountMembers")
	// B's group cannot take A's user as a member.
	_, err = e.s.AddMembers(e.ctx, b.ID, bg.ID, 0, []store.Member{{MemberID: u.ID}})
	wantInvalid(t, err, "members", "AddMembers of another tenant's user")
	refs, err := e.s.GroupsOf(e.ctx, b.ID, u.ID)
	e.must(err, "GroupsOf")
	same(t, len(refs), 0, "GroupsOf through another tenant")

	_, err = e.s.GetPool(e.ctx, b.ID, pool.ID)
	notFound(err, "GetPool")
	_, err = e.s.GetPoolByProduct(e.ctx, b.ID, pr.ID)
	notFound(err, "GetPoolByProduct")
	pp := *pool
	pp.TenantID, pp.Total = b.ID, 100
	notFound(e.s.UpdatePool(e.ctx, &pp), "UpdatePool")
	notFound(e.s.DeletePool(e.ctx, b.ID, pool.ID), "DeletePool")
	notFound(e.s.DeleteRule(e.ctx, b.ID, rule.ID), "DeleteRule")
	refused(e.s.CreateRule(e.ctx, &store.Rule{TenantID: b.ID, GroupID: g.ID, PoolID: pool.ID}), "CreateRule on another tenant's group and pool")
	err = e.s.ClaimSeat(e.ctx, &store.Assignment{TenantID: b.ID, PoolID: pool.ID, UserID: bu.ID}, time.Now())
	notFound(err, "ClaimSeat")
	_, err = e.s.GetAssignment(e.ctx, b.ID, pool.ID, u.ID)
	notFound(err, "GetAssignment")
	_, err = e.s.ReleaseSource(e.ctx, b.ID, pool.ID, u.ID, store.GroupSource(g.ID))
	notFound(err, "ReleaseSource")
	notFound(e.s.Suspend(e.ctx, b.ID, pool.ID, u.ID, "x"), "Suspend")
	_, err = e.s.MoveSeat(e.ctx, b.ID, pool.ID, u.ID, bu.ID)
	notFound(err, "MoveSeat")
	_, err = e.s.Recount(e.ctx, b.ID, pool.ID)
	notFound(err, "Recount")
	bd := &store.Device{TenantID: b.ID, ProductID: pr.ID, DeviceCode: "D2", UserID: bu.ID, AssignmentID: seat.ID}
	notFound(e.s.BindDevice(e.ctx, bd, 0), "BindDevice to another tenant's seat")
	_, err = e.s.GetDevice(e.ctx, b.ID, dev.ID)
	notFound(err, "GetDevice")
	_, err = e.s.GetDeviceByCode(e.ctx, b.ID, pr.ID, "D1")
	notFound(err, "GetDeviceByCode")
	notFound(e.s.SetDeviceState(e.ctx, b.ID, dev.ID, store.DeviceBlocked), "SetDeviceState")
	notFound(e.s.UnbindDevice(e.ctx, b.ID, dev.ID), "UnbindDevice")
	_, err = e.s.GetImportJob(e.ctx, b.ID, job.ID)
	notFound(err, "GetImportJob")
	jj := *job
	jj.TenantID = b.ID
	notFound(e.s.UpdateImportJob(e.ctx, &jj), "UpdateImportJob")

	// Lists through B show nothing of A.
	up, err := e.s.ListUsers(e.ctx, b.ID, store.Query{Limit: 100})
	e.must(err, "ListUsers")
	if up.Total != 1 || len(up.Users) != 1 || up.Users[0].ID != bu.ID {
		t.Errorf("ListUsers(b) = %d users (total %d), want only b's", len(up.Users), up.Total)
	}
	up, err = e.s.ListUsers(e.ctx, b.ID, store.Query{Filter: store.Compare{Attr: store.AttrPath{Name: "externalId"}, Op: store.OpEq, Value: "ext-ann"}, Limit: 10})
	e.must(err, "ListUsers(filter)")
	same(t, up.Total, 0, "ListUsers(b, externalId of a's user)")
	gp, err := e.s.ListGroups(e.ctx, b.ID, store.Query{Limit: 100})
	e.must(err, "ListGroups")
	if gp.Total != 1 || gp.Groups[0].ID != bg.ID {
		t.Errorf("ListGroups(b) = total %d, want only b's group", gp.Total)
	}
	for what, n := range map[string]func() (int, error){
		"ListPools": func() (int, error) { l, err := e.s.ListPools(e.ctx, b.ID); return len(l), err },
		"ListRules": func() (int, error) { l, err := e.s.ListRules(e.ctx, b.ID); return len(l), err },
		"ListAssignments": func() (int, error) {
			l, err := e.s.ListAssignments(e.ctx, b.ID, store.AssignmentQuery{})
			return len(l), err
		},
		"ListDevices":    func() (int, error) { l, err := e.s.ListDevices(e.ctx, b.ID, ""); return len(l), err },
		"ListImportJobs": func() (int, error) { l, err := e.s.ListImportJobs(e.ctx, b.ID); return len(l), err },
		"ListAudit":      func() (int, error) { l, err := e.s.ListAudit(e.ctx, b.ID, store.AuditQuery{}); return len(l), err },
		"ListOutbox":     func() (int, error) { l, err := e.s.ListOutbox(e.ctx, b.ID, 10); return len(l), err },
		"ListTokens":     func() (int, error) { l, err := e.s.ListTokens(e.ctx, b.ID); return len(l), err },
	} {
		got, err := n()
		e.must(err, "%s", what)
		same(t, got, 0, what+" through another tenant")
	}

	// Nothing of A changed.
	gu, err := e.s.GetUser(e.ctx, a.ID, u.ID)
	e.must(err, "GetUser(a)")
	same(t, gu, u, "a's user after B's attempts")
	ggot, err := e.s.GetGroup(e.ctx, a.ID, g.ID)
	e.must(err, "GetGroup(a)")
	same(t, ggot, g, "a's group after B's attempts")
	same(t, e.memberIDs(a.ID, g.ID, 10), []string{u.ID}, "a's members after B's attempts")
	gpool := e.getPool(a.ID, pool.ID)
	same(t, gpool, pool2(pool, 1), "a's pool after B's attempts")
	gseat, err := e.s.GetAssignment(e.ctx, a.ID, pool.ID, u.ID)
	e.must(err, "GetAssignment(a)")
	same(t, gseat.State, store.AssignActive, "a's seat after B's attempts")
	gdev, err := e.s.GetDevice(e.ctx, a.ID, dev.ID)
	e.must(err, "GetDevice(a)")
	same(t, gdev, dev, "a's device after B's attempts")
	rules, _ := e.s.ListRules(e.ctx, a.ID)
	same(t, len(rules), 1, "a's rules after B's attempts")
}

// pool2 is p with Assigned set, as a read after claims shows it.
func pool2(p *store.Pool, assigned int) *store.Pool {
	c := *p
	c.Assigned = assigned
	return &c
}
