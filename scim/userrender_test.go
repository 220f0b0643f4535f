package scim

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// withoutRenderings is the SQLite store without its renderings (a
// backend without store.RenderedUserStreamer), streaming users still:
// the list renders every user as it did before renderings were kept.
type withoutRenderings struct {
	Store
	st *sqlite.Store
}

func (w withoutRenderings) StreamUsers(ctx context.Context, tenantID string, q store.Query, fn func(*store.User) error) (int, error) {
	return w.st.StreamUsers(ctx, tenantID, q, fn)
}

// countedRenderings counts the users the store renders, and the lists
// it serves.
type countedRenderings struct {
	*sqlite.Store
	rendered, served *int
}

func (c countedRenderings) StreamRenderedUsers(ctx context.Context, tenantID string, q store.Query, r store.UserRendering, fn func(string) error) (int, error) {
	inner := r.Append
	r.Append = func(dst []byte, u *store.User) []byte {
		*c.rendered++
		return inner(dst, u)
	}
	total, err := c.Store.StreamRenderedUsers(ctx, tenantID, q, r, fn)
	if err == nil {
		*c.served++
	}
	return total, err
}

// TestListRendered: a list in the default representation answered from
// the store's renderings is byte for byte the list rendered user by
// user, page after page, before and after users change; a rendering is
// made once, and a handler at another base URL does not serve another's.
func TestListRendered(t *testing.T) {
	e := newEnv(t)
	var rendered, served int
	fastDeps, slowDeps := e.deps, e.deps
	fastDeps.Store = countedRenderings{e.store, &rendered, &served}
	slowDeps.Store = withoutRenderings{e.store, e.store}
	otherDeps := fastDeps
	otherDeps.BaseURL = "https://elsewhere.test/scim/v2"
	fast, slow, other := New(fastDeps), New(slowDeps), New(otherDeps)
	if h := fast.(*handler); h.userRendering.Append == nil || h.userRendering.Key == other.(*handler).userRendering.Key {
		t.Fatalf("keys %q and %q at two base URLs; want two different", h.userRendering.Key, other.(*handler).userRendering.Key)
	}

	get := func(h http.Handler, method, path, body string) string {
		t.Helper()
		var rd *strings.Reader
		if body != "" {
			rd = strings.NewReader(body)
		} else {
			rd = strings.NewReader("")
		}
		req := httptest.NewRequestWithContext(context.Background(), method, testBase+path, rd)
		if body != "" {
			req.Header.Set("Content-Type", scimJSON)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	lists := []struct{ method, path, body string }{
		{"GET", "/Users", ""},
		{"GET", "/Users?count=100&startIndex=1", ""},
		{"GET", "/Users?count=100&startIndex=31", ""},
		{"GET", "/Users?count=7&startIndex=33", ""},
		{"GET", "/Users?count=100&startIndex=120", ""},
		{"GET", "/Users?count=0", ""},
		{"GET", "/Users?startIndex=1000", ""},
		{"GET", "/Users?count=50&startIndex=10&sortOrder=descending", ""},
		{"POST", "/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"startIndex":20,"count":30}`},
		{"POST", "/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"startIndex":140,"count":30}`},
	}
	compare := func(step string) {
		t.Helper()
		for _, l := range lists {
			want := get(slow, l.method, l.path, l.body)
			got := get(fast, l.method, l.path, l.body)
			if got != want {
				t.Fatalf("%s: %s %s %s from the renderings:\n%s\nwant, rendered user by user:\n%s", step, l.method, l.path, l.body, got, want)
			}
			elsewhere := get(other, l.method, l.path, l.body)
			if want := strings.ReplaceAll(want, testBase, otherDeps.BaseURL); elsewhere != want {
				t.Fatalf("%s: %s %s %s at another base URL:\n%s\nwant\n%s", step, l.method, l.path, l.body, elsewhere, want)
			}
		}
	}

	e.createGroup("g")
	for i := range 150 {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user%03d@example.com","active":%t,
			"name":{"givenName":"Given \"%d\"","familyName":"Fam\u00e9"},"displayName":"User <%d>",
			"emails":[{"value":"user%03d@example.com","type":"work","primary":true},{"value":"alt%03d@example.com"}]`, i, i%2 == 0, i, i, i, i)
		switch i % 3 {
		case 1:
			body += `,"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","manager":{"value":"m1"}},
				"addresses":[{"streetAddress":"1 Road","primary":true}],"phoneNumbers":[{"value":"+1 555","type":"mobile"}]`
		case 2:
			body += `,"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:roster:2.0:User"],
				"urn:ietf:params:scim:schemas:extension:roster:2.0:User":{"notes":"n\u2028","permissions":["a","b"],"accountAdmin":true}`
		}
		e.must(201, "POST", "/Users", body+"}")
	}
	compare("created")
	if served == 0 || rendered == 0 {
		t.Fatalf("created: %d lists served from renderings, %d users rendered; want some of each", served, rendered)
	}
	rendered = 0
	for _, l := range lists {
		get(fast, l.method, l.path, l.body)
	}
	if rendered != 0 {
		t.Errorf("read again: the store rendered %d users; want none (its renderings kept)", rendered)
	}

	// Changes through the handler, each to a user on some page.
	page := e.must(200, "GET", "/Users?count=200&attributes=id", "").json(t)
	res := page["Resources"].([]any)
	id := func(i int) string { return res[i].(map[string]any)["id"].(string) }
	e.must(200, "PATCH", "/Users/"+id(40), `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Patched"}]}`)
	e.must(200, "PUT", "/Users/"+id(100), `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"replaced@example.com","title":"New"}`)
	e.must(204, "DELETE", "/Users/"+id(5), "")
	e.createUser("late@example.com")
	compare("changed")
}

// countedLicenses and countedGroups count the loads of attributes kept
// outside the user record.
type countedLicenses struct {
	Licensing
	calls *int
}

func (c countedLicenses) UserLicenses(context.Context, string, string) ([]licensing.UserLicense, error) {
	*c.calls++
	return nil, nil
}

func (c countedLicenses) UserDevices(context.Context, string, string) ([]*store.Device, error) {
	*c.calls++
	return nil, nil
}

type countedGroups struct {
	Store
	calls *int
}

func (c countedGroups) GroupsOf(context.Context, string, string) ([]store.GroupRef, error) {
	*c.calls++
	return nil, nil
}

// TestExtrasByDefault: the rendered list is used only when the default
// representation loads nothing besides the record, which
// extrasByDefault must tell as userExtras does.
func TestExtrasByDefault(t *testing.T) {
	e := newEnv(t)
	var calls int
	deps := e.deps
	deps.Store, deps.Licensing = countedGroups{e.store, &calls}, countedLicenses{nil, &calls}
	h := New(deps).(*handler)
	for _, tt := range []struct {
		attributes, excluded string
		loads                bool
	}{
		{"", "", h.extrasByDefault()},
		{"groups", "", true},
		{"urn:ietf:params:scim:schemas:extension:roster:2.0:User:licenses", "", true},
		{"", "urn:ietf:params:scim:schemas:extension:roster:2.0:User", false},
	} {
		calls = 0
		if _, err := h.userExtras(context.Background(), tenantA, "u", parseProjection(userType, tt.attributes, tt.excluded)); err != nil {
			t.Fatal(err)
		}
		if (calls > 0) != tt.loads {
			t.Errorf("attributes %q, excludedAttributes %q: userExtras made %d loads; want loads %v", tt.attributes, tt.excluded, calls, tt.loads)
		}
	}
	if h.extrasByDefault() || h.userRendering.Append == nil {
		t.Errorf("the default representation loads attributes besides the record (extrasByDefault %v); the rendered list is off", h.extrasByDefault())
	}
}
