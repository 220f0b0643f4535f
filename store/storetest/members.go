package storetest

import (
	"slices"
	"sort"
	"testing"

	"github.com/roster-scim/roster/store"
)

// memberIDs lists a group's member ids through ListMembers, paging by
// pageSize.
func (e *env) memberIDs(tenantID, groupID string, pageSize int) []string {
	e.t.Helper()
	var out []string
	after := ""
	for {
		ms, err := e.s.ListMembers(e.ctx, tenantID, groupID, after, pageSize)
		e.must(err, "ListMembers")
		for _, m := range ms {
			out = append(out, m.MemberID)
		}
		if len(ms) < pageSize {
			return out
		}
		after = ms[len(ms)-1].MemberID
	}
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}

func testMembers(t *testing.T, e *env) {
	ten, other := e.tenant("t"), e.tenant("other")
	g := e.group(ten.ID, "Engineering")
	sub := e.group(ten.ID, "Platform")
	var us []*store.User
	for _, n := range []string{"ann", "ben", "cat", "dan"} {
		us = append(us, e.user(ten.ID, n))
	}
	stranger := e.user(other.ID, "eve")

	// Members without a type (Okta) get one from what the id is.
	v, err := e.s.AddMembers(e.ctx, ten.ID, g.ID, g.Version, []store.Member{
		{MemberID: us[0].ID}, {MemberID: us[1].ID, Type: store.MemberUser}, {MemberID: sub.ID}, {MemberID: us[0].ID},
	})
	e.must(err, "AddMembers")
	if v != g.Version+1 {
		t.Errorf("AddMembers of 3 members returned version %d, want %d (one bump)", v, g.Version+1)
	}
	got, _ := e.s.GetGroup(e.ctx, ten.ID, g.ID)
	same(t, got.Version, v, "group version after AddMembers")
	same(t, e.memberIDs(ten.ID, g.ID, 100), sorted(us[0].ID, us[1].ID, sub.ID), "members after AddMembers")

	ms, err := e.s.ListMembers(e.ctx, ten.ID, g.ID, "", 100)
	e.must(err, "ListMembers")
	for _, m := range ms {
		want := store.Member{GroupID: g.ID, MemberID: m.MemberID, Type: store.MemberUser}
		switch m.MemberID {
		case us[0].ID:
			want.Display = "ann"
		case us[1].ID:
			want.Display = "ben"
		case sub.ID:
			want.Type, want.Display = store.MemberGroup, "Platform"
		}
		same(t, m, want, "ListMembers entry")
	}

	// Adding existing members again changes nothing.
	v2, err := e.s.AddMembers(e.ctx, ten.ID, g.ID, 0, []store.Member{{MemberID: us[0].ID}})
	e.must(err, "AddMembers(existing, version 0)")
	if v2 < v {
		t.Errorf("AddMembers(existing) returned version %d, below %d", v2, v)
	}
	v = v2
	same(t, e.memberIDs(ten.ID, g.ID, 2), sorted(us[0].ID, us[1].ID, sub.ID), "members after an idempotent add (pages of 2)")

	// Compare-and-set.
	_, err = e.s.AddMembers(e.ctx, ten.ID, g.ID, v-1, []store.Member{{MemberID: us[2].ID}})
	wantErr(t, err, store.ErrPrecondition, "AddMembers(stale version)")

	// Unknown, foreign or mistyped members: ErrInvalid and nothing added.
	for _, bad := range [][]store.Member{
		{{MemberID: us[2].ID}, {MemberID: "no-such-id"}},
		{{MemberID: us[2].ID}, {MemberID: stranger.ID}},
		{{MemberID: us[2].ID}, {MemberID: sub.ID, Type: store.MemberUser}},
		{{MemberID: us[2].ID}, {MemberID: us[3].ID, Type: store.MemberGroup}},
		{{MemberID: g.ID}},
	} {
		_, err := e.s.AddMembers(e.ctx, ten.ID, g.ID, 0, bad)
		wantInvalid(t, err, "members", "AddMembers(invalid member)")
		n, err := e.s.CountMembers(e.ctx, ten.ID, g.ID)
		e.must(err, "CountMembers")
		same(t, n, 3, "member count after a refused add")
		got, _ := e.s.GetGroup(e.ctx, ten.ID, g.ID)
		same(t, got.Version, v, "group version after a refused add")
	}

	// Remove: absent ids are ignored; one bump.
	v, err = e.s.RemoveMembers(e.ctx, ten.ID, g.ID, v, []string{us[1].ID, "not-a-member"})
	e.must(err, "RemoveMembers")
	same(t, e.memberIDs(ten.ID, g.ID, 100), sorted(us[0].ID, sub.ID), "members after RemoveMembers")
	got, _ = e.s.GetGroup(e.ctx, ten.ID, g.ID)
	same(t, got.Version, v, "group version after RemoveMembers")
	_, err = e.s.RemoveMembers(e.ctx, ten.ID, g.ID, v-1, []string{us[0].ID})
	wantErr(t, err, store.ErrPrecondition, "RemoveMembers(stale version)")

	// Replace sets exactly the given list.
	v, err = e.s.ReplaceMembers(e.ctx, ten.ID, g.ID, v, []store.Member{{MemberID: us[2].ID}, {MemberID: us[3].ID}, {MemberID: us[0].ID}})
	e.must(err, "ReplaceMembers")
	same(t, e.memberIDs(ten.ID, g.ID, 1), sorted(us[0].ID, us[2].ID, us[3].ID), "members after ReplaceMembers (pages of 1)")
	got, _ = e.s.GetGroup(e.ctx, ten.ID, g.ID)
	same(t, got.Version, v, "group version after ReplaceMembers")
	_, err = e.s.ReplaceMembers(e.ctx, ten.ID, g.ID, 0, []store.Member{{MemberID: us[1].ID}, {MemberID: "ghost"}})
	wantInvalid(t, err, "members", "ReplaceMembers(with an unknown member)")
	same(t, e.memberIDs(ten.ID, g.ID, 100), sorted(us[0].ID, us[2].ID, us[3].ID), "members after a refused replace")
	_, err = e.s.ReplaceMembers(e.ctx, ten.ID, g.ID, v+5, nil)
	wantErr(t, err, store.ErrPrecondition, "ReplaceMembers(wrong version)")
	v, err = e.s.ReplaceMembers(e.ctx, ten.ID, g.ID, v, nil)
	e.must(err, "ReplaceMembers(empty)")
	n, err := e.s.CountMembers(e.ctx, ten.ID, g.ID)
	e.must(err, "CountMembers")
	same(t, n, 0, "member count after ReplaceMembers(empty)")

	// GroupsOf lists direct groups.
	_, err = e.s.AddMembers(e.ctx, ten.ID, g.ID, v, []store.Member{{MemberID: us[0].ID}})
	e.must(err, "AddMembers")
	_, err = e.s.AddMembers(e.ctx, ten.ID, sub.ID, 0, []store.Member{{MemberID: us[0].ID}})
	e.must(err, "AddMembers(sub)")
	refs, err := e.s.GroupsOf(e.ctx, ten.ID, us[0].ID)
	e.must(err, "GroupsOf")
	gotRefs := map[string]string{}
	for _, r := range refs {
		gotRefs[r.ID] = r.DisplayName
	}
	same(t, gotRefs, map[string]string{g.ID: "Engineering", sub.ID: "Platform"}, "GroupsOf")
	refs, err = e.s.GroupsOf(e.ctx, ten.ID, us[3].ID)
	e.must(err, "GroupsOf(no groups)")
	same(t, len(refs), 0, "GroupsOf a user in no group")

	// Missing group.
	_, err = e.s.AddMembers(e.ctx, ten.ID, "missing", 0, []store.Member{{MemberID: us[0].ID}})
	wantErr(t, err, store.ErrNotFound, "AddMembers(missing group)")
	_, err = e.s.ListMembers(e.ctx, ten.ID, "missing", "", 10)
	wantErr(t, err, store.ErrNotFound, "ListMembers(missing group)")
	_, err = e.s.CountMembers(e.ctx, ten.ID, "missing")
	wantErr(t, err, store.ErrNotFound, "CountMembers(missing group)")
}

func testDeleteGroupCascade(t *testing.T, e *env) {
	ten := e.tenant("t")
	parent := e.group(ten.ID, "parent")
	g := e.group(ten.ID, "doomed")
	u := e.user(ten.ID, "ann")
	pr := e.product("p")
	pool := e.pool(ten.ID, pr.ID, 5)
	_, err := e.s.AddMembers(e.ctx, ten.ID, g.ID, 0, []store.Member{{MemberID: u.ID}})
	e.must(err, "AddMembers")
	pv, err := e.s.AddMembers(e.ctx, ten.ID, parent.ID, 0, []store.Member{{MemberID: g.ID}, {MemberID: u.ID}})
	e.must(err, "AddMembers(parent)")
	rule := &store.Rule{TenantID: ten.ID, GroupID: g.ID, PoolID: pool.ID}
	e.must(e.s.CreateRule(e.ctx, rule), "CreateRule")
	keep := &store.Rule{TenantID: ten.ID, GroupID: parent.ID, PoolID: pool.ID}
	e.must(e.s.CreateRule(e.ctx, keep), "CreateRule(parent)")

	e.must(e.s.DeleteGroup(e.ctx, ten.ID, g.ID, 0), "DeleteGroup")
	same(t, e.memberIDs(ten.ID, parent.ID, 10), []string{u.ID}, "parent's members after deleting a member group")
	got, _ := e.s.GetGroup(e.ctx, ten.ID, parent.ID)
	if got.Version <= pv {
		t.Errorf("parent's version %d not bumped past %d when its member group was deleted", got.Version, pv)
	}
	refs, err := e.s.GroupsOf(e.ctx, ten.ID, u.ID)
	e.must(err, "GroupsOf")
	if len(refs) != 1 || refs[0].ID != parent.ID {
		t.Errorf("GroupsOf after DeleteGroup = %v, want just the parent", refs)
	}
	rules, err := e.s.ListRules(e.ctx, ten.ID)
	e.must(err, "ListRules")
	if len(rules) != 1 || rules[0].ID != keep.ID {
		t.Errorf("rules after DeleteGroup = %d, want only the parent's rule", len(rules))
	}
	// A new group may take the name and starts empty.
	g2 := e.group(ten.ID, "doomed")
	n, err := e.s.CountMembers(e.ctx, ten.ID, g2.ID)
	e.must(err, "CountMembers")
	same(t, n, 0, "members of a re-created group")
}
