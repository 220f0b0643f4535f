package scim

import (
	"context"
	"strings"
	"sync/atomic"
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

// touchCounter counts what announcing an access change costs the store.
type touchCounter struct {
	store.Store
	n atomic.Int64
}

func (c *touchCounter) GetTenant(ctx context.Context, id string) (*store.Tenant, error) {
	c.n.Add(1)
	return c.Store.GetTenant(ctx, id)
}

func (c *touchCounter) GetUser(ctx context.Context, tenantID, id string) (*store.User, error) {
	c.n.Add(1)
	return c.Store.GetUser(ctx, tenantID, id)
}

func (c *touchCounter) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	c.n.Add(1)
	return c.Store.AppendAudit(ctx, e)
}

func (c *touchCounter) Enqueue(ctx context.Context, m *store.OutboxMessage) error {
	c.n.Add(1)
	return c.Store.Enqueue(ctx, m)
}

// TestSCIMAdminRightsMail: accountAdmin given or taken through SCIM (POST,
// PUT, PATCH with a path or path-less, Entra's string booleans) queues the
// same access-change e-mail as the portal and audits it, honours the
// user's system-messages preference, and a PATCH that leaves accountAdmin
// alone costs licensing no store access at all.
func TestSCIMAdminRightsMail(t *testing.T) {
	ctx := context.Background()
	var counter *touchCounter
	e := newEnv(t, func(d *Deps) {
		counter = &touchCounter{Store: d.Store.(store.Store)}
		d.Licensing = licensing.New(counter)
	})
	if err := e.store.CreateTenant(ctx, &store.Tenant{ID: tenantA, Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	const ext = "urn:ietf:params:scim:schemas:extension:roster:2.0:User"
	mails := func() map[string][]string { // recipient → summaries
		t.Helper()
		ms, err := e.store.ListOutbox(ctx, tenantA, 100)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, m := range ms {
			if m.Subject != "Your administrator rights changed" {
				t.Errorf("access-change e-mail to %s has subject %q", m.To, m.Subject)
			}
			out[m.To] = append(out[m.To], strings.TrimSpace(m.Text))
		}
		return out
	}
	audits := func(action string) int {
		t.Helper()
		evs, err := e.store.ListAudit(ctx, tenantA, store.AuditQuery{Action: action, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	granted, revoked := "You are now an account administrator of Acme in Roster.", "You are no longer an account administrator of Acme in Roster."
	user := func(name string, extra string) string {
		r := e.must(201, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","`+ext+`"],"userName":"`+name+
			`","emails":[{"value":"`+name+`","primary":true}]`+extra+`}`)
		return r.json(t)["id"].(string)
	}
	patch := func(id, ops string) {
		t.Helper()
		e.must(200, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+ops+`]}`)
	}

	ada := user("ada@acme.io", `,"`+ext+`":{"accountAdmin":true}`)
	bob := user("bob@acme.io", "")
	if got := mails(); len(got) != 1 || len(got["ada@acme.io"]) != 1 || got["ada@acme.io"][0] != granted {
		t.Fatalf("after creating an admin and a user: %q, want one grant e-mail to ada", got)
	}

	// The hot path: a PATCH that leaves accountAdmin alone.
	before := counter.n.Load()
	patch(bob, `{"op":"replace","path":"displayName","value":"Bob"}`)
	patch(ada, `{"op":"replace","path":"`+ext+`:accountAdmin","value":true}`) // no change
	if n := counter.n.Load() - before; n != 0 {
		t.Errorf("PATCHes not changing accountAdmin cost licensing %d store calls, want 0", n)
	}

	patch(ada, `{"op":"replace","path":"`+ext+`:accountAdmin","value":false}`)
	patch(bob, `{"op":"Replace","value":{"`+ext+`:accountAdmin":"True"}}`) // Entra: path-less, string boolean
	e.must(200, "PUT", "/Users/"+bob, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@acme.io",`+
		`"emails":[{"value":"bob@acme.io","primary":true}]}`) // an IdP that knows nothing of the extension keeps it
	got := mails()
	if len(got["ada@acme.io"]) != 2 || (got["ada@acme.io"][1] != revoked && got["ada@acme.io"][0] != revoked) {
		t.Errorf("ada's e-mails: %q, want the grant and the revocation", got["ada@acme.io"])
	}
	if len(got["bob@acme.io"]) != 1 || got["bob@acme.io"][0] != granted {
		t.Errorf("bob's e-mails: %q, want one grant", got["bob@acme.io"])
	}
	if g, r := audits("user.admin.grant"), audits("user.admin.revoke"); g != 2 || r != 1 {
		t.Errorf("audit: %d grants and %d revocations, want 2 and 1", g, r)
	}

	// A user who turned system messages off gets none; the audit still records it.
	u, err := e.store.GetUser(ctx, tenantA, bob)
	if err != nil {
		t.Fatal(err)
	}
	u.NoSystemMessages = true
	if err := e.store.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	e.must(200, "PUT", "/Users/"+bob, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","`+ext+`"],"userName":"bob@acme.io",`+
		`"emails":[{"value":"bob@acme.io","primary":true}],"`+ext+`":{"accountAdmin":false}}`)
	if got := mails(); len(got["bob@acme.io"]) != 1 {
		t.Errorf("bob opted out of system messages but got %q", got["bob@acme.io"])
	}
	if r := audits("user.admin.revoke"); r != 2 {
		t.Errorf("audit: %d revocations, want 2", r)
	}
	if u, _ := e.store.GetUser(ctx, tenantA, bob); u.AccountAdmin {
		t.Errorf("PUT accountAdmin false left bob an admin")
	}
}
