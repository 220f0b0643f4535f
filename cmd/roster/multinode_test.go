package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// TestThreeNodesOnSQLite runs three `roster serve` processes on one
// SQLite file with mixed traffic and a seat pool far smaller than the
// demand: seats never exceed the total, each userName exists once, and
// the reconciler finds nothing to correct.
func TestThreeNodesOnSQLite(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfigFile(t, "scim:\n  token_cache_ttl: 0s\n  rate_limit:\n    requests_per_second: 0\ndevices:\n  login_limit:\n    failures_per_minute: 0\n")
	var nodes []*rosterProc
	for range 3 {
		nodes = append(nodes, startProc(t, dir, nil, "--config", cfg))
	}
	token := nodes[0].token
	if token == "" || nodes[1].token != "" || nodes[2].token != "" {
		t.Fatalf("tokens printed: %q %q %q, want only the first node's", nodes[0].token, nodes[1].token, nodes[2].token)
	}
	st := openSQLiteT(t, dir)
	const seats = 4
	tenant, _, pool := seedPool(t, st, "default", "seatware", seats, true)

	const users = 10
	for i := range users {
		n := nodes[i%3]
		code, body := scimDo(t, http.DefaultClient, "POST", n.url+"/scim/v2/Users", token,
			fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user%d@example.com","password":"password of user %d"}`, i, i))
		if code != 201 {
			t.Fatalf("create user %d on node %d: %d %s", i, i%3, code, body)
		}
	}

	var (
		mu         sync.Mutex
		loginCodes = map[int][]int{} // user -> statuses
		dupCodes   = map[int][]int{} // name -> statuses
		statuses   = map[int]int{}
		wg         sync.WaitGroup
	)
	note := func(code int) {
		mu.Lock()
		statuses[code]++
		mu.Unlock()
	}
	// Every user signs in on two devices through two different nodes.
	for i := range users {
		for d := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := nodes[(i+d)%3]
				res, err := http.Post(n.url+"/api/v1/devices/login", "application/json", strings.NewReader(fmt.Sprintf(
					`{"tenant":"default","userName":"user%d@example.com","password":"password of user %d","deviceCode":"DEV-%d-%d","product":"seatware"}`, i, i, i, d)))
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				note(res.StatusCode)
				mu.Lock()
				loginCodes[i] = append(loginCodes[i], res.StatusCode)
				mu.Unlock()
			}()
		}
	}
	// The same new userName sent to all three nodes at once (an IdP
	// retrying through a load balancer).
	for i := range 8 {
		for n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, _ := scimDo(t, http.DefaultClient, "POST", nodes[n].url+"/scim/v2/Users", token,
					fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Race%d@Example.com"}`, i))
				note(code)
				mu.Lock()
				dupCodes[i] = append(dupCodes[i], code)
				mu.Unlock()
			}()
		}
	}
	// Reads and updates meanwhile.
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := nodes[i%3]
			if i%2 == 0 {
				code, _ := scimDo(t, http.DefaultClient, "GET", n.url+"/scim/v2/Users?count=50", token, "")
				note(code)
				return
			}
			code, body := scimDo(t, http.DefaultClient, "GET", n.url+"/scim/v2/Users?filter=userName%20eq%20%22user"+fmt.Sprint(i%users)+"@example.com%22", token, "")
			note(code)
			var list struct{ Resources []struct{ ID string } }
			json.Unmarshal([]byte(body), &list)
			if len(list.Resources) == 1 {
				code, _ = scimDo(t, http.DefaultClient, "PATCH", n.url+"/scim/v2/Users/"+list.Resources[0].ID, token,
					fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"node %d"}]}`, i%3))
				note(code)
			}
		}()
	}
	wg.Wait()

	for code, n := range statuses {
		if code >= 500 {
			t.Errorf("%d requests answered %d", n, code)
		}
	}
	licensed := 0
	for i, codes := range loginCodes {
		ok := 0
		for _, c := range codes {
			switch c {
			case 200:
				ok++
			case 409: // no seat free
			default:
				t.Errorf("user %d sign-in: %d, want 200 or 409 (no seats)", i, c)
			}
		}
		if ok > 0 {
			licensed++
		}
	}
	if licensed > seats || licensed == 0 {
		t.Errorf("%d users signed in with a seat, pool has %d", licensed, seats)
	}
	for i, codes := range dupCodes {
		created, conflicts := 0, 0
		for _, c := range codes {
			switch c {
			case 201:
				created++
			case 409:
				conflicts++
			}
		}
		if created != 1 || conflicts != 2 {
			t.Errorf("Race%d on three nodes: %v, want one 201 and two 409", i, codes)
		}
	}

	ctx := context.Background()
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
	if len(all.Users) != users+8 {
		t.Errorf("%d users, want %d", len(all.Users), users+8)
	}
	p, err := st.GetPool(ctx, tenant.ID, pool.ID)
	if err != nil {
		t.Fatal(err)
	}
	as, _ := st.ListAssignments(ctx, tenant.ID, store.AssignmentQuery{PoolID: pool.ID, State: store.AssignActive})
	if p.Assigned > p.Total || len(as) != p.Assigned || len(as) != licensed {
		t.Errorf("pool %d/%d with %d active assignments, %d users licensed: want assigned = active = licensed ≤ total", p.Assigned, p.Total, len(as), licensed)
	}
	fixed, err := licensing.New(st).Reprocess(ctx, tenant.ID, licensing.System)
	if err != nil || fixed != 0 {
		t.Errorf("reconciler after the run: corrected %d (%v), want 0", fixed, err)
	}
	for i, n := range nodes {
		if res, _ := http.Get(n.url + "/healthz"); res == nil || res.StatusCode != 200 {
			t.Errorf("node %d unhealthy after the run", i)
		}
		n.stop()
		if strings.Contains(n.stderr.String(), `"level":"ERROR"`) {
			t.Errorf("node %d logged errors:\n%s", i, n.stderr)
		}
	}
	t.Logf("three nodes: statuses %v; %d of %d users licensed on %d seats", statuses, licensed, users, seats)
}
