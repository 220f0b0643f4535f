package admin

import (
	"net/http"
	"testing"
)

func TestSmokeUsersPage(t *testing.T) {
	e := newEnv(t)
	e.user(e.acme.ID, "ada@acme.test", true)
	op := e.operator()
	for _, p := range []string{"/admin/t/" + e.acme.ID + "/users", "/admin/t/" + e.acme.ID + "/licenses"} {
		rec := e.get(op, p)
		wantStatus(t, rec, http.StatusOK, p)
		t.Log(rec.Body.Len())
	}
}
