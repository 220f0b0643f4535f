package scim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// The benchmarks drive the handler in-process, as the HTTP server would,
// against a real SQLite store. BenchmarkBaseline is a bare handler
// answering a fixed ~600-byte SCIM User, the yardstick issue 8 measures
// ratios against; the same fixture users are shared by all benchmarks.

const benchUsers = 10_000

type benchFixture struct {
	h       http.Handler
	st      *sqlite.Store
	ids     []string
	names   []string
	spare   []string // users in no group, for member adds
	small   string   // a group of 10
	large   string   // a group of 100,000
	cleanup func()
}

var (
	benchOnce sync.Once
	bench     *benchFixture
	benchErr  error
)

// benchLargeGroup is the size of the large group (issue 3: 100,000).
var benchLargeGroup = 100_000

func fixture(b *testing.B) *benchFixture {
	b.Helper()
	benchOnce.Do(func() { bench, benchErr = newBenchFixture() })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return bench
}

func newBenchFixture() (*benchFixture, error) {
	dir, err := os.MkdirTemp("", "scim-bench-")
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(filepath.Join(dir, "roster.db"))
	if err != nil {
		return nil, err
	}
	f := &benchFixture{st: st, cleanup: func() { st.Close(); os.RemoveAll(dir) }}
	f.h = New(Deps{Store: st, BaseURL: testBase, Tenant: func(*http.Request) (string, bool) { return tenantA, true }})
	ctx := context.Background()
	total := max(benchUsers, benchLargeGroup) + 2000
	members := make([]store.Member, 0, 1000)
	for i := range total {
		u := &store.User{TenantID: tenantA, UserName: fmt.Sprintf("bench.user%06d@example.com", i), Active: true,
			DisplayName: fmt.Sprintf("Bench User %d", i), Name: store.Name{GivenName: "Bench", FamilyName: fmt.Sprint("User", i)},
			Emails: []store.MultiValue{{Value: fmt.Sprintf("bench.user%06d@example.com", i), Type: "work", Primary: true}}}
		if err := st.CreateUser(ctx, u); err != nil {
			return nil, err
		}
		switch {
		case i < benchUsers:
			f.ids = append(f.ids, u.ID)
			f.names = append(f.names, u.UserName)
		case i >= total-2000:
			f.spare = append(f.spare, u.ID)
		}
		if i < benchLargeGroup {
			members = append(members, store.Member{MemberID: u.ID, Type: store.MemberUser})
		}
		if len(members) == cap(members) || i == benchLargeGroup-1 {
			if f.large == "" {
				g := &store.Group{TenantID: tenantA, DisplayName: "large"}
				if err := st.CreateGroup(ctx, g); err != nil {
					return nil, err
				}
				f.large = g.ID
			}
			if _, err := st.AddMembers(ctx, tenantA, f.large, 0, members); err != nil {
				return nil, err
			}
			members = members[:0]
		}
	}
	g := &store.Group{TenantID: tenantA, DisplayName: "small"}
	if err := st.CreateGroup(ctx, g); err != nil {
		return nil, err
	}
	f.small = g.ID
	var ten []store.Member
	for _, id := range f.ids[:10] {
		ten = append(ten, store.Member{MemberID: id, Type: store.MemberUser})
	}
	if _, err := st.AddMembers(ctx, tenantA, f.small, 0, ten); err != nil {
		return nil, err
	}
	return f, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench != nil {
		bench.cleanup()
	}
	os.Exit(code)
}

func serve(b *testing.B, h http.Handler, method, target, body string, want int) {
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Content-Type", scimJSON)
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body.String())
	}
}

var fixedUser = []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"2819c223-7f76-453a-919d-413861904646","externalId":"701984","userName":"bjensen@example.com","name":{"formatted":"Ms. Barbara J Jensen, III","familyName":"Jensen","givenName":"Barbara"},"displayName":"Babs Jensen","active":true,"emails":[{"value":"bjensen@example.com","type":"work","primary":true}],"meta":{"resourceType":"User","created":"2010-01-23T04:56:22.000Z","lastModified":"2011-05-13T04:42:34.000Z","version":"W/\"3694e05e9dff591\"","location":"https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"}}`)

func BenchmarkBaseline(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", scimJSON)
		_, _ = w.Write(fixedUser)
	})
	for b.Loop() {
		serve(b, h, "GET", testBase+"/Users/2819c223-7f76-453a-919d-413861904646", "", 200)
	}
}

func BenchmarkGetUser(b *testing.B) {
	f := fixture(b)
	i := 0
	for b.Loop() {
		serve(b, f.h, "GET", testBase+"/Users/"+f.ids[i%len(f.ids)], "", 200)
		i += 7919
	}
}

// BenchmarkGetUserParallel is BenchmarkGetUser from 32 goroutines, as
// an IdP's connection pool drives a server: run it with -cpu 1 to see
// what contention adds to a single core.
func BenchmarkGetUserParallel(b *testing.B) {
	f := fixture(b)
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(7919))
			serve(b, f.h, "GET", testBase+"/Users/"+f.ids[i%len(f.ids)], "", 200)
		}
	})
}

func BenchmarkFilterUserName(b *testing.B) {
	f := fixture(b)
	i := 0
	for b.Loop() {
		q := url.QueryEscape(`userName eq "` + f.names[i%len(f.names)] + `"`)
		serve(b, f.h, "GET", testBase+"/Users?filter="+q, "", 200)
		i += 7919
	}
}

func BenchmarkListPage100(b *testing.B) {
	f := fixture(b)
	for b.Loop() {
		serve(b, f.h, "GET", testBase+"/Users?count=100", "", 200)
	}
}

// BenchmarkListPage100Deep reads pages at random offsets.
func BenchmarkListPage100Deep(b *testing.B) {
	f := fixture(b)
	i := 0
	for b.Loop() {
		serve(b, f.h, "GET", fmt.Sprintf("%s/Users?startIndex=%d&count=100", testBase, 1+(i%(benchUsers-100))), "", 200)
		i += 7919
	}
}

func BenchmarkPostUser(b *testing.B) {
	f := fixture(b)
	prefix := fmt.Sprint(rand.Int64())
	i := 0
	for b.Loop() {
		serve(b, f.h, "POST", testBase+"/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"post`+prefix+fmt.Sprint(i)+`@example.com","name":{"givenName":"Post","familyName":"User"},"emails":[{"value":"post`+fmt.Sprint(i)+`@example.com","type":"work","primary":true}],"active":true}`, 201)
		i++
	}
}

func BenchmarkPatchActive(b *testing.B) {
	f := fixture(b)
	i := 0
	for b.Loop() {
		active := "false"
		if (i/len(f.ids))%2 == 1 {
			active = "true"
		}
		serve(b, f.h, "PATCH", testBase+"/Users/"+f.ids[i%len(f.ids)], `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":`+active+`}}]}`, 200)
		i++
	}
}

// BenchmarkPatchAddMember adds a member to a group of 10 and to one of
// 100,000: the cost must not grow with the group (issue 3: ratio ≤ 1.5).
// Members come from a pool of users in no group; when it runs out they
// are removed again outside the timer.
func BenchmarkPatchAddMember(b *testing.B) {
	f := fixture(b)
	for _, g := range []struct {
		name, id string
	}{{"members=10", f.small}, {"members=100000", f.large}} {
		b.Run(g.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if i == len(f.spare) {
					b.StopTimer()
					if _, err := f.st.RemoveMembers(context.Background(), tenantA, g.id, 0, f.spare); err != nil {
						b.Fatal(err)
					}
					i = 0
					b.StartTimer()
				}
				serve(b, f.h, "PATCH", testBase+"/Groups/"+g.id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+f.spare[i]+`"}]}]}`, 204)
				i++
			}
			b.StopTimer()
			if _, err := f.st.RemoveMembers(context.Background(), tenantA, g.id, 0, f.spare); err != nil {
				b.Fatal(err)
			}
		})
	}
}
