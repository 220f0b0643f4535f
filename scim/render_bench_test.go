package scim

import (
	"fmt"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
)

// BenchmarkAppendUser renders one typical user (roster bench's shape)
// with the default projection, as a list page does a hundred times.
func BenchmarkAppendUser(b *testing.B) {
	h := New(Deps{BaseURL: testBase}).(*handler)
	name := fmt.Sprintf("user%07d@bench.example", 1234567)
	u := &store.User{TenantID: tenantA, ID: "01a20935-af6c-78f3-bd4f-4a146d42fe01", UserName: name, DisplayName: "User 1234567",
		Active: true, Name: store.Name{GivenName: "User", FamilyName: "1234567"},
		Emails:  []store.MultiValue{{Value: name, Type: "work", Primary: true}},
		Version: 1, CreatedAt: time.UnixMilli(1763900000123).UTC(), UpdatedAt: time.UnixMilli(1763900000123).UTC()}
	jw := getWriter()
	defer putWriter(jw)
	for b.Loop() {
		jw.b, jw.comma = jw.b[:0], false
		h.appendUser(jw, u, nil, userExtras{})
	}
	b.SetBytes(int64(len(jw.b)))
}
