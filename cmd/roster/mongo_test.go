package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/roster-scim/roster/internal/mongostandin"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/mongo"
)

// TestThreeNodesOnMongoDB runs three `roster serve` nodes on one MongoDB
// database and sends them competing creates: each userName is created
// exactly once whichever node gets it, the others answer 409. Then the
// nodes race for a small seat pool through group joins: seats never
// exceed the total, each user holds at most one, none is left idle while
// someone waits, and the reconciler finds nothing to correct.
func TestThreeNodesOnMongoDB(t *testing.T) {
	uri := mongostandin.Start(t)
	db := "roster_cmd_" + strings.ReplaceAll(store.NewID()[:13], "-", "")
	cfg := filepath.Join(t.TempDir(), "roster.yaml")
	body := fmt.Sprintf("storage:\n  driver: mongodb\n  mongodb:\n    uri: %q\n    database: %s\n", uri, db)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var nodes []*runningServer
	for range 3 {
		nodes = append(nodes, startServer(t, t.TempDir(), "--config", cfg))
	}
	token := nodes[0].token
	if token == "" || nodes[1].token != "" || nodes[2].token != "" {
		t.Fatalf("tokens printed: %q %q %q; want only the first node's (the tenant is shared)", nodes[0].token, nodes[1].token, nodes[2].token)
	}
	const names, tries = 6, 3
	codes := make([][]int, names)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range names {
		for j := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := nodes[(i+j)%3]
				req, _ := http.NewRequest("POST", n.url+"/scim/v2/Users", strings.NewReader(
					fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"User%d@Example.com"}`, i)))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/scim+json")
				res, _ := send(t, http.DefaultClient, req)
				mu.Lock()
				codes[i] = append(codes[i], res.StatusCode)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	for i, cs := range codes {
		created, conflicts := 0, 0
		for _, c := range cs {
			switch c {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				conflicts++
			}
		}
		if created != 1 || conflicts != tries-1 {
			t.Errorf("User%d: statuses %v, want one 201 and %d 409", i, cs, tries-1)
		}
	}
	res, body2 := nodes[2].get(t, `/scim/v2/Users?filter=userName%20sw%20%22user%22`, token)
	if res.StatusCode != 200 || !strings.Contains(body2, fmt.Sprintf(`"totalResults":%d`, names)) {
		t.Errorf("listing on the third node: %d %s, want %d users", res.StatusCode, body2, names)
	}
	if res, _ := nodes[1].get(t, "/readyz", ""); res.StatusCode != 200 {
		t.Errorf("/readyz on MongoDB = %d", res.StatusCode)
	}

	// Seat contention: three groups grant the same small pool; every
	// user joins two of them at once through two different nodes, so
	// the nodes race for the pool's seats and for each user's one seat.
	ctx := context.Background()
	st, err := mongo.Open(ctx, uri, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const seats, users = 3, 9
	tenant, _, pool := seedPool(t, st, "default", "seatware", seats, false)
	var groups []string
	for g := range 3 {
		code, body := scimDo(t, http.DefaultClient, "POST", nodes[g].url+"/scim/v2/Groups", token,
			fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Team %d"}`, g))
		if code != 201 {
			t.Fatalf("create group %d: %d %s", g, code, body)
		}
		var r struct{ ID string }
		json.Unmarshal([]byte(body), &r)
		groups = append(groups, r.ID)
		if err := st.CreateRule(ctx, &store.Rule{TenantID: tenant.ID, GroupID: r.ID, PoolID: pool.ID}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for i := range users {
		code, body := scimDo(t, http.DefaultClient, "POST", nodes[i%3].url+"/scim/v2/Users", token,
			fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"seat%d@example.com"}`, i))
		if code != 201 {
			t.Fatalf("create seat user %d: %d %s", i, code, body)
		}
		var r struct{ ID string }
		json.Unmarshal([]byte(body), &r)
		ids = append(ids, r.ID)
	}
	joins := map[int]int{}
	for i, id := range ids {
		for k := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := (i + k) % 3
				code, body := scimDo(t, http.DefaultClient, "PATCH", nodes[(i+k+1)%3].url+"/scim/v2/Groups/"+groups[g], token,
					`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+id+`"}]}]}`)
				mu.Lock()
				joins[code]++
				mu.Unlock()
				if code >= 300 {
					t.Errorf("user %d joins Team %d: %d %s", i, g, code, body)
				}
			}()
		}
	}
	wg.Wait()

	p, err := st.GetPool(ctx, tenant.ID, pool.ID)
	if err != nil {
		t.Fatal(err)
	}
	as, err := st.ListAssignments(ctx, tenant.ID, store.AssignmentQuery{PoolID: pool.ID})
	if err != nil {
		t.Fatal(err)
	}
	perUser := map[string]int{}
	active, waiting := 0, 0
	for _, a := range as {
		perUser[a.UserID]++
		switch a.State {
		case store.AssignActive:
			active++
		case store.AssignWaiting:
			waiting++
		}
	}
	for u, n := range perUser {
		if n != 1 {
			t.Errorf("user %s has %d assignments in the pool, want 1", u, n)
		}
	}
	if p.Assigned > p.Total || active != p.Assigned || active != seats || waiting != users-seats {
		t.Errorf("after %d concurrent joins (%v): pool %d/%d, %d active and %d waiting assignments; want %d active = assigned = total and %d waiting",
			2*users, joins, p.Assigned, p.Total, active, waiting, seats, users-seats)
	}
	t.Logf("seat contention on MongoDB: joins %v; pool %d/%d, %d active, %d waiting", joins, p.Assigned, p.Total, active, waiting)
	if fixed, err := licensing.New(st).Reprocess(ctx, tenant.ID, licensing.System); err != nil || fixed != 0 {
		t.Errorf("reconciler after the joins: corrected %d (%v), want 0", fixed, err)
	}
	all, err := st.ListUsers(ctx, tenant.ID, store.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, u := range all.Users {
		k := store.NormUserName(u.UserName)
		if seen[k] {
			t.Errorf("userName %s exists twice", u.UserName)
		}
		seen[k] = true
	}
	if len(all.Users) != names+users {
		t.Errorf("%d users, want %d", len(all.Users), names+users)
	}
}
