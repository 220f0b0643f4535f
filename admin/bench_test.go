package admin

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/roster-scim/roster/store"
)

// BenchmarkUsersPage renders the first page of the Users list in a tenant
// of 100 users and in one of 100,000. The page is one paged store query
// plus two small queries per row shown, so the goal is that the large
// tenant costs less than twice the small one:
//
//	go test -run '^$' -bench UsersPage -benchtime 200x ./admin/
func BenchmarkUsersPage(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			e := newEnv(b)
			for i := range n {
				name := fmt.Sprintf("user%06d@acme.test", i)
				u := &store.User{TenantID: e.acme.ID, UserName: name, Active: true, Activation: store.ActivationActive,
					Name: store.Name{GivenName: "Given", FamilyName: fmt.Sprintf("Family%d", i)}, DisplayName: fmt.Sprintf("Given Family%d", i),
					Emails: []store.MultiValue{{Value: name, Type: "work", Primary: true}}}
				must(b, e.st.CreateUser(e.ctx, u))
				if i < 2 {
					must(b, e.eng.Assign(e.ctx, e.acme.ID, e.poolA.ID, u.ID, "bench"))
				}
			}
			op := e.operator()
			path := "/admin/t/" + e.acme.ID + "/users"
			if rec := e.get(op, path); rec.Code != http.StatusOK {
				b.Fatalf("users page: %d", rec.Code)
			}
			b.ResetTimer()
			for b.Loop() {
				if rec := e.get(op, path); rec.Code != http.StatusOK {
					b.Fatalf("users page: %d", rec.Code)
				}
			}
		})
	}
}
