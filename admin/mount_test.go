package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/roster-scim/roster/auth"
)

// TestMountedLikeCmd mounts the portal and the request log the way cmd
// does: the portal under /admin on a chi router, the log on /scim/v2
// behind the SCIM token check.
func TestMountedLikeCmd(t *testing.T) {
	log := NewRequestLog(0)
	e := newEnv(t, func(d *Deps) { d.RequestLog = log })
	secret, _, err := auth.MintToken(e.ctx, e.st, e.acme.ID, "okta", e.clock.Now())
	must(t, err)

	r := chi.NewRouter()
	r.Mount("/admin", e.h)
	r.Route("/scim/v2", func(r chi.Router) {
		r.Use(auth.SCIMBearer(e.st, auth.BearerOptions{}), log.Middleware)
		r.Handle("/*", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
		}))
	})
	op := e.operator()
	for path, want := range map[string]int{
		"/admin": http.StatusSeeOther, "/admin/": http.StatusSeeOther, "/admin/login": http.StatusSeeOther, // signed in already
		"/admin/static/app.css": http.StatusOK, "/admin/t/" + e.acme.ID + "/users": http.StatusOK, "/admin/nope": http.StatusNotFound,
	} {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(op)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}

	for _, authz := range []string{"Bearer " + secret, "Bearer rst_wrong"} {
		req := httptest.NewRequest("POST", "/scim/v2/Users?filter=x", strings.NewReader("{}"))
		req.Header.Set("Authorization", authz)
		r.ServeHTTP(httptest.NewRecorder(), req)
	}
	got := log.Recent(e.acme.ID, 10)
	if len(got) != 1 || got[0].Method != "POST" || got[0].Path != "/scim/v2/Users" || got[0].Status != http.StatusCreated || time.Since(got[0].At) > time.Minute {
		t.Errorf("recorded: %+v", got)
	}
}
