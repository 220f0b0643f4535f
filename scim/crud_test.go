package scim

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/roster-scim/roster/store"
)

const userSchema = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`

func TestETags(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("etag")
	path := "/Users/" + id
	r := e.must(200, "GET", path, "")
	if r.header.Get("ETag") != `W/"1"` {
		t.Fatalf("ETag = %q", r.header.Get("ETag"))
	}
	tests := []struct {
		name, method, body, header string
		code                       int
		etag                       string
	}{
		{"If-None-Match current", "GET", "", `If-None-Match: W/"1"`, 304, `W/"1"`},
		{"If-None-Match strong form", "GET", "", `If-None-Match: "1"`, 304, `W/"1"`},
		{"If-None-Match other", "GET", "", `If-None-Match: W/"7"`, 200, `W/"1"`},
		{"PUT stale If-Match", "PUT", `{` + userSchema + `,"userName":"etag","title":"x"}`, `If-Match: W/"9"`, 412, ""},
		{"PATCH stale If-Match", "PATCH", `{"Operations":[{"op":"replace","path":"title","value":"y"}]}`, `If-Match: W/"9"`, 412, ""},
		{"DELETE stale If-Match", "DELETE", "", `If-Match: W/"9"`, 412, ""},
		{"PUT current If-Match", "PUT", `{` + userSchema + `,"userName":"etag","title":"x"}`, `If-Match: W/"1"`, 200, `W/"2"`},
		{"PATCH list with current", "PATCH", `{"Operations":[{"op":"replace","path":"title","value":"y"}]}`, `If-Match: W/"1", W/"2"`, 200, `W/"3"`},
		{"PATCH star", "PATCH", `{"Operations":[{"op":"replace","path":"title","value":"z"}]}`, `If-Match: *`, 200, `W/"4"`},
		{"PATCH unconditional", "PATCH", `{"Operations":[{"op":"replace","path":"title","value":"w"}]}`, "", 200, `W/"5"`},
		{"PATCH that changes nothing keeps the version", "PATCH", `{"Operations":[{"op":"replace","path":"title","value":"w"}]}`, "", 200, `W/"5"`},
		{"PUT that changes nothing keeps the version", "PUT", `{` + userSchema + `,"userName":"etag","title":"w"}`, "", 200, `W/"5"`},
		{"DELETE current If-Match", "DELETE", "", `If-Match: W/"5"`, 204, ""},
		{"GET deleted", "GET", "", "", 404, ""},
	}
	for _, tt := range tests {
		var hdr []string
		if tt.header != "" {
			hdr = append(hdr, tt.header)
		}
		r := e.do(tt.method, path, tt.body, hdr...)
		if r.code != tt.code {
			t.Fatalf("%s: %s %s [%s]\n got %d %s\nwant %d", tt.name, tt.method, tt.body, tt.header, r.code, r.body, tt.code)
		}
		if tt.etag != "" && r.header.Get("ETag") != tt.etag {
			t.Errorf("%s: ETag = %q, want %q", tt.name, r.header.Get("ETag"), tt.etag)
		}
		if tt.code == 304 && r.body != "" {
			t.Errorf("%s: 304 with a body", tt.name)
		}
		if tt.code == 200 && tt.method != "GET" {
			if v := at(r.json(t), "meta", "version"); v != tt.etag {
				t.Errorf("%s: meta.version = %v, want %s", tt.name, v, tt.etag)
			}
		}
	}
}

func TestUniquenessAndCase(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("Test.User@Okta.local")
	for _, name := range []string{"Test.User@Okta.local", "test.user@okta.local", "TEST.USER@OKTA.LOCAL"} {
		r := e.must(409, "POST", "/Users", `{`+userSchema+`,"userName":`+quote(name)+`}`)
		checkErrorBody(t, r, 409, "uniqueness")
		got := e.must(200, "GET", "/Users?filter=userName+eq+"+quote(strings.ToLower(name)), "").json(t)
		if got["totalResults"] != float64(1) || at(got, "Resources", 0, "id") != id {
			t.Errorf("filter userName eq %q: %v", name, got)
		}
	}
	e.must(201, "POST", "/Users", `{`+userSchema+`,"userName":"x1","externalId":"E1"}`)
	r := e.must(409, "POST", "/Users", `{`+userSchema+`,"userName":"x2","externalId":"E1"}`)
	checkErrorBody(t, r, 409, "uniqueness")
	// externalId is case-exact.
	e.must(201, "POST", "/Users", `{`+userSchema+`,"userName":"x3","externalId":"e1"}`)
	other := e.createUser("other")
	r = e.must(409, "PUT", "/Users/"+other, `{`+userSchema+`,"userName":"TEST.user@okta.local"}`)
	checkErrorBody(t, r, 409, "uniqueness")
}

func TestTenantIsolation(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("shared-name")
	gid := e.createGroup("shared-group")
	b := tenantHdr + ": tenant-b"
	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/Users/" + id, ""},
		{"PUT", "/Users/" + id, `{` + userSchema + `,"userName":"x"}`},
		{"PATCH", "/Users/" + id, `{"Operations":[{"op":"replace","path":"title","value":"x"}]}`},
		{"DELETE", "/Users/" + id, ""},
		{"GET", "/Groups/" + gid, ""},
		{"PATCH", "/Groups/" + gid, `{"Operations":[{"op":"add","path":"members","value":[{"value":"` + id + `"}]}]}`},
		{"DELETE", "/Groups/" + gid, ""},
	} {
		r := e.do(tt.method, tt.path, tt.body, b)
		if r.code != 404 {
			t.Errorf("tenant-b %s %s: got %d %s, want 404", tt.method, tt.path, r.code, r.body)
		}
	}
	list := e.must(200, "GET", "/Users", "", b).json(t)
	if list["totalResults"] != float64(0) {
		t.Errorf("tenant-b sees tenant-a's users: %v", list)
	}
	// The same userName is free in another tenant.
	e.must(201, "POST", "/Users", `{`+userSchema+`,"userName":"shared-name"}`, b)
	// A member from another tenant is refused.
	bg := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"b"}`, b).json(t)["id"].(string)
	e.must(400, "PATCH", "/Groups/"+bg, `{"Operations":[{"op":"add","path":"members","value":[{"value":"`+id+`"}]}]}`, b)
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path string
		header       string
		code         int
	}{
		{"GET", "/Users", tenantHdr + ": " + noTenant, 401},
		{"GET", "/Nope", "", 404},
		{"GET", "/Users/a/b", "", 404},
		{"DELETE", "/Users", "", 405},
		{"GET", "/Users/.search", "", 405},
		{"GET", "/Bulk", "", 405},
		{"POST", "/ServiceProviderConfig", "", 405},
		{"GET", "/Me", "", 501},
		{"GET", "/Users/", "", 200},
		{"GET", "/users", "", 200},
		{"GET", "/Users/does-not-exist", "", 404},
		{"DELETE", "/Groups/does-not-exist", "", 404},
	}
	for _, tt := range tests {
		var hdr []string
		if tt.header != "" {
			hdr = append(hdr, tt.header)
		}
		r := e.do(tt.method, tt.path, "", hdr...)
		if r.code != tt.code {
			t.Errorf("%s %s: got %d %s, want %d", tt.method, tt.path, r.code, r.body, tt.code)
			continue
		}
		if r.code >= 400 {
			checkErrorBody(t, r, r.code, "")
		}
	}
}

// TestMountPoints checks the paths the handler accepts: stripped of the
// mount prefix, or not.
func TestMountPoints(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("mounted")
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", e.h)
	mux.Handle("/stripped/", http.StripPrefix("/stripped", e.h))
	for _, p := range []string{"/scim/v2/Users/" + id, "/stripped/Users/" + id} {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://x"+p, nil)
		rec := newRecorder()
		mux.ServeHTTP(rec, req)
		if rec.status != 200 {
			t.Errorf("GET %s: %d %s", p, rec.status, rec.body.String())
		}
	}
}

// TestChiMountBehindProxyPath: mounted with chi under /scim/v2 while the
// public BaseURL has another path (a reverse proxy's prefix), the handler
// still finds its relative path, from chi's route context.
func TestChiMountBehindProxyPath(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.BaseURL = "https://proxy.example/roster/scim/v2" })
	u := &store.User{TenantID: tenantA, UserName: "proxied", Active: true}
	if err := e.store.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	id := u.ID
	r := chi.NewRouter()
	r.Route("/scim/v2", func(r chi.Router) {
		r.Handle("/*", e.h)
		r.Handle("/", e.h)
	})
	for path, want := range map[string]int{"/scim/v2/Users/" + id: 200, "/scim/v2/Users": 200, "/scim/v2/ServiceProviderConfig": 200, "/scim/v2/": 404} {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://x"+path, nil)
		rec := newRecorder()
		r.ServeHTTP(rec, req)
		if rec.status != want {
			t.Errorf("GET %s: %d %s, want %d", path, rec.status, rec.body.String(), want)
		}
		if want == 200 && strings.Contains(path, id) && !strings.Contains(rec.body.String(), `"location":"https://proxy.example/roster/scim/v2/Users/`+id) {
			t.Errorf("meta.location does not use BaseURL: %s", rec.body.String())
		}
	}
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.Limits.MaxBodyBytes = 200 })
	big := `{` + userSchema + `,"userName":"big","title":"` + strings.Repeat("x", 300) + `"}`
	r := e.must(413, "POST", "/Users", big)
	checkErrorBody(t, r, 413, "")
	e.must(201, "POST", "/Users", `{`+userSchema+`,"userName":"small"}`)
}

func TestMe(t *testing.T) {
	var me atomic.Value
	me.Store("")
	e := newEnv(t, func(d *Deps) {
		d.User = func(*http.Request) (string, bool) {
			id := me.Load().(string)
			return id, id != ""
		}
	})
	checkErrorBody(t, e.must(501, "GET", "/Me", ""), 501, "")
	id := e.createUser("me")
	me.Store(id)
	got := e.must(200, "GET", "/Me", "").json(t)
	if got["id"] != id {
		t.Errorf("/Me = %v", got)
	}
	e.must(200, "PATCH", "/Me", `{"Operations":[{"op":"replace","path":"displayName","value":"Me Myself"}]}`)
	if got := e.must(200, "GET", "/Users/"+id, "").json(t); got["displayName"] != "Me Myself" {
		t.Errorf("PATCH /Me did not land: %v", got)
	}
}

func TestPutUser(t *testing.T) {
	e := newEnv(t)
	r := e.must(201, "POST", "/Users", `{`+userSchema+`,"userName":"put","title":"Old","nickName":"n",
		"urn:ietf:params:scim:schemas:extension:roster:2.0:User":{"notes":"kept by the portal"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D"}}`)
	id := r.json(t)["id"].(string)
	// Okta's profile update: a full core representation, readOnly
	// attributes echoed, no Roster extension.
	got := e.must(200, "PUT", "/Users/"+id, `{`+userSchema+`,"id":"`+id+`","userName":"put","title":"New",
		"groups":[],"meta":{"resourceType":"User"}}`).json(t)
	if got["title"] != "New" {
		t.Errorf("title = %v", got["title"])
	}
	if _, ok := got["nickName"]; ok {
		t.Errorf("nickName omitted from PUT was kept: %v", got)
	}
	if n := at(got, "urn:ietf:params:scim:schemas:extension:roster:2.0:User", "notes"); n != "kept by the portal" {
		t.Errorf("roster notes after a PUT without the extension = %v", n)
	}
	if d := at(got, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "department"); d != "D" {
		t.Errorf("enterprise department after a PUT without the extension = %v", d)
	}
	got = e.must(200, "PUT", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"userName":"put","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"costCenter":"C"}}`).json(t)
	ent := got["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
	if ent["costCenter"] != "C" || ent["department"] != nil {
		t.Errorf("a PUT naming the extension replaces it: %v", ent)
	}
	e.must(404, "PUT", "/Users/nope", `{`+userSchema+`,"userName":"x"}`)
}

func TestPutGroup(t *testing.T) {
	e := newEnv(t)
	a, b := e.createUser("a"), e.createUser("b")
	gid := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"`+a+`"}]}`).json(t)["id"].(string)
	got := e.must(200, "PUT", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G2","members":[{"value":"`+b+`"}]}`).json(t)
	if got["displayName"] != "G2" || at(got, "members", 0, "value") != b || at(got, "members", 1) != nil {
		t.Errorf("PUT with members: %v", got)
	}
	// members not given: not asserted, kept.
	got = e.must(200, "PUT", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G3"}`).json(t)
	if at(got, "members", 0, "value") != b {
		t.Errorf("PUT without members dropped them: %v", got)
	}
	got = e.must(200, "PUT", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G3","members":[]}`).json(t)
	if got["members"] != nil {
		t.Errorf("PUT with members [] kept them: %v", got)
	}
}

// failingMembers is the real store whose ReplaceMembers fails, as when a
// member is deleted between the PUT's check and its write.
type failingMembers struct{ Store }

func (failingMembers) ReplaceMembers(context.Context, string, string, int64, []store.Member) (int64, error) {
	return 0, &store.ErrInvalid{Field: "members", Reason: "no user with id gone"}
}

// TestPutGroupFailureChangesNothing: a PUT renaming a group whose member
// list cannot be written answers an error and leaves the group as it was,
// name and members, not renamed with the old members.
func TestPutGroupFailureChangesNothing(t *testing.T) {
	var fm failingMembers
	for _, c := range []struct {
		name    string
		mod     []func(*Deps)
		members func(e *env, self string) string
		sameTag bool // nothing was written at all
	}{
		{"unknown member", nil, func(*env, string) string { return `[{"value":"` + store.NewID() + `"}]` }, true},
		{"unknown group member", nil, func(*env, string) string { return `[{"value":"` + store.NewID() + `","type":"Group"}]` }, true},
		{"itself", nil, func(_ *env, self string) string { return `[{"value":"` + self + `"}]` }, true},
		{"another tenant's user", nil, func(e *env, _ string) string {
			r := e.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"outsider"}`, tenantHdr+": tenant-b")
			return `[{"value":"` + r.json(e.t)["id"].(string) + `"}]`
		}, true},
		{"member write fails", []func(*Deps){func(d *Deps) { fm.Store = d.Store; d.Store = fm }},
			func(e *env, _ string) string { return `[{"value":"` + e.createUser("late") + `"}]` }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.mod...)
			a := e.createUser("a")
			created := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Before","members":[{"value":"`+a+`"}]}`)
			gid := created.json(t)["id"].(string)
			members := c.members(e, gid)
			r := e.do("PUT", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"After","members":`+members+`}`)
			if r.code < 400 || r.code >= 500 {
				t.Errorf("PUT with members %s: got %d %s, want a 4xx", members, r.code, r.body)
			}
			got := e.must(200, "GET", "/Groups/"+gid, "")
			g := got.json(t)
			if g["displayName"] != "Before" || at(g, "members", 0, "value") != a || at(g, "members", 1) != nil {
				t.Errorf("after the failed PUT:\n got %s\nwant displayName Before with member %s", got.body, a)
			}
			if c.sameTag && got.header.Get("ETag") != created.header.Get("ETag") {
				t.Errorf("after the failed PUT: ETag %s, want %s (nothing written)", got.header.Get("ETag"), created.header.Get("ETag"))
			}
		})
	}
}

// TestPatchGroupFailureChangesNothing: a PATCH is all or nothing (RFC
// 7644 §3.5.2): a rename or a member add followed by a member add the
// store refuses leaves the group as it was.
func TestPatchGroupFailureChangesNothing(t *testing.T) {
	e := newEnv(t)
	a, b := e.createUser("a"), e.createUser("b")
	created := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Before","members":[{"value":"`+a+`"}]}`)
	gid := created.json(t)["id"].(string)
	unknown := store.NewID()
	for _, ops := range []string{
		`{"op":"replace","path":"displayName","value":"After"},{"op":"add","path":"members","value":[{"value":"` + unknown + `"}]}`,
		`{"op":"add","path":"members","value":[{"value":"` + b + `"}]},{"op":"add","path":"members","value":[{"value":"` + unknown + `"}]}`,
		`{"op":"replace","value":{"displayName":"After"}},{"op":"replace","path":"members","value":[{"value":"` + gid + `"}]}`,
	} {
		r := e.do("PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+ops+`]}`)
		if r.code < 400 || r.code >= 500 {
			t.Errorf("PATCH %s: got %d %s, want a 4xx", ops, r.code, r.body)
		}
		got := e.must(200, "GET", "/Groups/"+gid, "")
		g := got.json(t)
		if g["displayName"] != "Before" || at(g, "members", 0, "value") != a || at(g, "members", 1) != nil ||
			got.header.Get("ETag") != created.header.Get("ETag") {
			t.Errorf("after the failed PATCH %s:\n got %s (ETag %s)\nwant displayName Before with only member %s, ETag %s",
				ops, got.body, got.header.Get("ETag"), a, created.header.Get("ETag"))
		}
	}
}

func TestDeleteUserRemovesMemberships(t *testing.T) {
	e := newEnv(t)
	u := e.createUser("leaver")
	gid := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"`+u+`"}]}`).json(t)["id"].(string)
	e.must(204, "DELETE", "/Users/"+u, "")
	if got := e.must(200, "GET", "/Groups/"+gid, "").json(t); got["members"] != nil {
		t.Errorf("deleted user still a member: %v", got)
	}
	e.must(404, "DELETE", "/Users/"+u, "")
}

// countingStore is the real store with calls to ListMembers counted.
type countingStore struct {
	Store
	listMembers atomic.Int64
}

func (c *countingStore) ListMembers(ctx context.Context, tenantID, groupID, after string, limit int) ([]store.Member, error) {
	c.listMembers.Add(1)
	return c.Store.ListMembers(ctx, tenantID, groupID, after, limit)
}

func TestExcludedMembersAreNotLoaded(t *testing.T) {
	cs := &countingStore{}
	e := newEnv(t, func(d *Deps) { cs.Store = d.Store; d.Store = cs })
	u := e.createUser("m")
	gid := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"`+u+`"}]}`).json(t)["id"].(string)
	for _, tt := range []struct {
		method, path, body string
		loads              bool
	}{
		{"GET", "/Groups/" + gid + "?excludedAttributes=members", "", false},
		{"GET", "/Groups/" + gid + "?attributes=displayName", "", false},
		{"GET", "/Groups?excludedAttributes=members", "", false},
		{"GET", "/Groups?filter=displayName+eq+%22G%22&excludedAttributes=members", "", false},
		{"POST", "/Groups/.search", `{"excludedAttributes":["members"]}`, false},
		{"PATCH", "/Groups/" + gid, `{"Operations":[{"op":"add","path":"members","value":[{"value":"` + u + `"}]}]}`, false},
		{"PATCH", "/Groups/" + gid, `{"Operations":[{"op":"replace","path":"displayName","value":"G2"}]}`, false},
		{"GET", "/Groups/" + gid, "", true},
		{"GET", "/Groups/" + gid + "?attributes=members.value", "", true},
	} {
		before := cs.listMembers.Load()
		r := e.do(tt.method, tt.path, tt.body)
		if r.code >= 300 {
			t.Fatalf("%s %s: %d %s", tt.method, tt.path, r.code, r.body)
		}
		if loaded := cs.listMembers.Load() > before; loaded != tt.loads {
			t.Errorf("%s %s %s: members loaded = %v, want %v", tt.method, tt.path, tt.body, loaded, tt.loads)
		}
		if !tt.loads && strings.Contains(r.body, `"members"`) {
			t.Errorf("%s %s: members in the response: %s", tt.method, tt.path, r.body)
		}
	}
}

// failingStore is the real store whose user reads fail with an error
// carrying internal detail.
type failingStore struct {
	Store
}

const secretText = "SQLITE_IOERR at /var/lib/roster/data/roster.db: secret-internal-detail"

func (failingStore) GetUser(context.Context, string, string) (*store.User, error) {
	return nil, errors.New(secretText)
}

func (failingStore) GetUserByUserName(context.Context, string, string) (*store.User, error) {
	return nil, errors.New(secretText)
}

func (failingStore) ListUsers(context.Context, string, store.Query) (*store.UserPage, error) {
	return nil, errors.New(secretText)
}

func (failingStore) GetGroup(context.Context, string, string) (*store.Group, error) {
	panic("panic with " + secretText)
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	var logs strings.Builder
	e := newEnv(t, func(d *Deps) {
		d.Store = failingStore{d.Store}
		d.Logger = newTestLogger(&logs)
	})
	for _, tt := range []struct{ method, path, body string }{
		{"GET", "/Users/x", ""},
		{"GET", "/Users?filter=userName+eq+%22x%22", ""},
		{"PATCH", "/Users/x", `{"Operations":[{"op":"replace","path":"title","value":"y"}]}`},
		{"PUT", "/Users/x", `{` + userSchema + `,"userName":"x"}`},
		{"POST", "/.search", `{}`},
		{"GET", "/Groups/x", ""},
		{"POST", "/Bulk", `{"Operations":[{"method":"PATCH","path":"/Users/x","data":{"Operations":[{"op":"replace","path":"title","value":"y"}]}}]}`},
	} {
		r := e.do(tt.method, tt.path, tt.body)
		if tt.path != "/Bulk" && r.code != 500 {
			t.Errorf("%s %s: got %d, want 500", tt.method, tt.path, r.code)
		}
		for _, leak := range []string{"SQLITE", "secret", "/var/lib", "panic"} {
			if strings.Contains(r.body, leak) {
				t.Errorf("%s %s: response leaks %q: %s", tt.method, tt.path, leak, r.body)
			}
		}
		if r.code == 500 {
			checkErrorBody(t, r, 500, "")
		}
	}
	if !strings.Contains(logs.String(), "secret-internal-detail") {
		t.Errorf("the real error is not in the log:\n%s", logs.String())
	}
}
