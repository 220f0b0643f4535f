package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/roster-scim/roster/store"
)

// testListAcrossHandles: a list read through one handle shows, at once,
// what another handle (another node, or the CLI beside a server) has
// just written, whatever the backend keeps to answer lists fast. Each
// handle lists before the other writes, so any copy a backend keeps of a
// page exists and must not be served stale. Pages are read both ways
// and from the middle, through ListUsers and, where the handle has them,
// StreamUsers and StreamRenderedUsers.
func testListAcrossHandles(t *testing.T, e *env) {
	h1, h2 := e.s, e.open(t)
	ten := e.tenant("t")
	var users []*store.User
	for i := range 150 {
		users = append(users, e.user(ten.ID, fmt.Sprintf("user%03d", i), func(u *store.User) {
			u.Emails = []store.MultiValue{{Value: fmt.Sprintf("user%03d@example.com", i), Type: "work", Primary: true}}
		}))
	}
	// Pages that a stale copy could still fill come before the whole list.
	queries := []store.Query{{Offset: 40, Limit: 50}, {Offset: 60, Limit: 100, Descending: true}, {Limit: 1000}}
	// check lists through reader and compares every page with the one
	// writer sees and with want (the ids of all users, ascending).
	check := func(step string, reader, writer store.Store, want []string) {
		t.Helper()
		for _, q := range queries {
			exp, err := writer.ListUsers(e.ctx, ten.ID, q)
			e.must(err, "%s: ListUsers(%+v) on the writing handle", step, q)
			all := slices.Clone(want)
			if q.Descending {
				slices.Reverse(all)
			}
			if got := ids(exp.Users, userID); exp.Total != len(want) || !slices.Equal(got, all[min(q.Offset, len(all)):min(q.Offset+q.Limit, len(all))]) {
				t.Fatalf("%s: ListUsers(%+v) on the writing handle = total %d, %v; want %v", step, q, exp.Total, got, want)
			}
			got, err := reader.ListUsers(e.ctx, ten.ID, q)
			e.must(err, "%s: ListUsers(%+v) on the other handle", step, q)
			samePage(t, got, exp, fmt.Sprintf("%s: ListUsers(%+v) on the other handle", step, q))
			if rs, ok := reader.(store.RenderedUserStreamer); ok {
				var got []string
				total, err := rs.StreamRenderedUsers(e.ctx, ten.ID, q, idRendering, func(b string) error {
					got = append(got, b)
					return nil
				})
				if !errors.Is(err, errors.ErrUnsupported) {
					e.must(err, "%s: StreamRenderedUsers(%+v) on the other handle", step, q)
					var want []string
					for _, u := range exp.Users {
						want = append(want, string(idRendering.Append(nil, u)))
					}
					if total != exp.Total || !slices.Equal(got, want) {
						t.Fatalf("%s: StreamRenderedUsers(%+v) on the other handle = total %d, %q; want total %d, %q", step, q, total, got, exp.Total, want)
					}
				}
			}
			st, ok := reader.(store.UserStreamer)
			if !ok {
				continue
			}
			var streamed []*store.User
			total, err := st.StreamUsers(e.ctx, ten.ID, q, func(u *store.User) error {
				c := *u
				c.Emails, c.PhoneNumbers, c.Permissions = slices.Clone(u.Emails), slices.Clone(u.PhoneNumbers), slices.Clone(u.Permissions)
				streamed = append(streamed, &c)
				return nil
			})
			if errors.Is(err, errors.ErrUnsupported) {
				continue
			}
			e.must(err, "%s: StreamUsers(%+v) on the other handle", step, q)
			samePage(t, &store.UserPage{Users: streamed, Total: total}, exp, fmt.Sprintf("%s: StreamUsers(%+v) on the other handle", step, q))
		}
	}
	idsOf := func() []string { return slices.Sorted(slices.Values(ids(users, userID))) }
	check("created", h2, h1, idsOf())
	check("created", h1, h2, idsOf())

	for i, w := range []struct{ writer, reader store.Store }{{h1, h2}, {h2, h1}} {
		step := fmt.Sprintf("handle %d writes", i+1)
		// Update in place: same run, same count.
		u, err := w.writer.GetUser(e.ctx, ten.ID, users[70].ID)
		e.must(err, "GetUser")
		u.Title, u.Active = "changed "+step, !u.Active
		u.Emails = append(u.Emails, store.MultiValue{Value: "second@example.com"})
		e.must(w.writer.UpdateUser(e.ctx, u), "%s: UpdateUser", step)
		check(step+": update", w.reader, w.writer, idsOf())
		// Delete.
		e.must(w.writer.DeleteUser(e.ctx, ten.ID, users[10+i].ID, 0), "%s: DeleteUser", step)
		users = slices.Delete(users, 10+i, 11+i)
		check(step+": delete", w.reader, w.writer, idsOf())
		// Create, with an id in the middle of the order and one at the end.
		for _, id := range []string{users[75].ID + "0", ""} {
			n := &store.User{TenantID: ten.ID, ID: id, UserName: fmt.Sprintf("new%d-%s", i, id), Active: true}
			e.must(w.writer.CreateUser(e.ctx, n), "%s: CreateUser", step)
			users = append(users, n)
			check(step+": create", w.reader, w.writer, idsOf())
		}
	}

	// Membership and group names, which a list of users may show.
	g := e.group(ten.ID, "before")
	_, err := h1.AddMembers(e.ctx, ten.ID, g.ID, 0, []store.Member{{MemberID: users[5].ID, Type: store.MemberUser}})
	e.must(err, "AddMembers")
	refs, err := h2.GroupsOf(e.ctx, ten.ID, users[5].ID)
	e.must(err, "GroupsOf on the other handle")
	same(t, refs, []store.GroupRef{{ID: g.ID, DisplayName: "before"}}, "GroupsOf on the other handle after AddMembers")
	g, err = h2.GetGroup(e.ctx, ten.ID, g.ID)
	e.must(err, "GetGroup")
	g.DisplayName = "after"
	e.must(h2.UpdateGroup(e.ctx, g), "UpdateGroup")
	refs, err = h1.GroupsOf(e.ctx, ten.ID, users[5].ID)
	e.must(err, "GroupsOf")
	same(t, refs, []store.GroupRef{{ID: g.ID, DisplayName: "after"}}, "GroupsOf on the other handle after a rename")
	_, err = h2.RemoveMembers(e.ctx, ten.ID, g.ID, 0, []string{users[5].ID})
	e.must(err, "RemoveMembers")
	refs, err = h1.GroupsOf(e.ctx, ten.ID, users[5].ID)
	e.must(err, "GroupsOf")
	if len(refs) != 0 {
		t.Errorf("GroupsOf on the other handle after RemoveMembers = %v, want none", refs)
	}
	check("after membership changes", h1, h2, idsOf())
}

// idRendering renders what tells one state of a user from another.
var idRendering = store.UserRendering{Key: "storetest", Append: func(dst []byte, u *store.User) []byte {
	return fmt.Appendf(dst, "%s v%d %s %s %t %d", u.ID, u.Version, u.UserName, u.Title, u.Active, len(u.Emails))
}}

// samePage compares two pages user by user, printing the first that
// differs.
func samePage(t *testing.T, got, want *store.UserPage, what string) {
	t.Helper()
	if got.Total != want.Total || len(got.Users) != len(want.Users) {
		t.Fatalf("%s: total %d, %d users; want total %d, %d users", what, got.Total, len(got.Users), want.Total, len(want.Users))
	}
	for i := range got.Users {
		if !reflect.DeepEqual(got.Users[i], want.Users[i]) {
			t.Fatalf("%s: user %d:\n got  %+v\n want %+v", what, i, *got.Users[i], *want.Users[i])
		}
	}
}
