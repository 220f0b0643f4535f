package scim

import (
	"context"
	"strings"
	"testing"

	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// TestSCIMChangesMoveSeats: group membership, deactivation and deletion
// through SCIM converge seats before the response, and the Roster
// extension shows the user's licenses when asked.
func TestSCIMChangesMoveSeats(t *testing.T) {
	var eng *licensing.Engine
	e := newEnv(t, func(d *Deps) {
		eng = licensing.New(d.Store.(store.Store))
		d.Licensing = eng
	})
	ctx := context.Background()
	prod := &store.Product{Code: "counter", Name: "Counter Pro"}
	if err := e.store.CreateProduct(ctx, prod); err != nil {
		t.Fatal(err)
	}
	pool := &store.Pool{TenantID: tenantA, ProductID: prod.ID, Total: 1, Policy: store.PolicyDeny}
	if err := e.store.CreatePool(ctx, pool); err != nil {
		t.Fatal(err)
	}
	gid := e.createGroup("Field staff")
	if _, err := eng.AddRule(ctx, tenantA, gid, pool.ID, "test"); err != nil {
		t.Fatal(err)
	}
	ada, bob := e.createUser("ada@x.io"), e.createUser("bob@x.io")
	patch := func(path, ops string) {
		want := 200
		if strings.HasPrefix(path, "/Groups/") {
			want = 204
		}
		e.must(want, "PATCH", path, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+ops+`]}`)
	}
	state := func(userID string) string {
		a, err := e.store.GetAssignment(ctx, tenantA, pool.ID, userID)
		if err != nil {
			return ""
		}
		return a.State
	}
	patch("/Groups/"+gid, `{"op":"add","path":"members","value":[{"value":"`+ada+`"},{"value":"`+bob+`"}]}`)
	if got := state(ada) + "," + state(bob); got != "active,waiting" {
		t.Fatalf("after adding two members to a 1-seat rule: %s, want active,waiting", got)
	}
	r := e.must(200, "GET", "/Users/"+ada+"?attributes=urn:ietf:params:scim:schemas:extension:roster:2.0:User:licenses", "")
	if !strings.Contains(r.body, `"licenses":[{"value":"counter","display":"Counter Pro","state":"active"}]`) {
		t.Errorf("licenses on request: %s", r.body)
	}
	if r := e.must(200, "GET", "/Users/"+ada, ""); strings.Contains(r.body, "licenses") {
		t.Errorf("licenses returned without being asked for: %s", r.body)
	}

	// Entra deactivates with a capitalised op and a string boolean.
	patch("/Users/"+ada, `{"op":"Replace","path":"active","value":"False"}`)
	if got := state(ada) + "," + state(bob); got != "suspended,active" {
		t.Errorf("after deactivating the seat holder: %s, want suspended,active (the waiting user gets the seat)", got)
	}
	e.must(204, "DELETE", "/Users/"+bob, "")
	p, _ := e.store.GetPool(ctx, tenantA, pool.ID)
	if p.Assigned != 0 {
		t.Errorf("after deleting the seat holder assigned = %d, want 0", p.Assigned)
	}
	patch("/Users/"+ada, `{"op":"replace","path":"active","value":true}`)
	if got := state(ada); got != store.AssignActive {
		t.Errorf("reactivated user: %q, want active", got)
	}
	e.must(204, "DELETE", "/Groups/"+gid, "")
	if got := state(ada); got != "" {
		t.Errorf("after deleting the licensed group the user still has a %q seat", got)
	}
}
