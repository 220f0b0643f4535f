package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// crashUser is what the stream did to one user and which of it the
// server acknowledged. Each user is written by one worker, in order.
type crashUser struct {
	name                   string
	id                     string // set when the create was acknowledged
	ackedDisplay, inflight string // last acknowledged displayName; the one in flight
	member                 bool   // group add acknowledged
	deactivated            bool   // active=false acknowledged
	deactivating           bool   // active=false in flight
}

// crashStream writes to url until stop closes, then reports its users.
func crashStream(t *testing.T, url, token, groupID string, worker int, stop <-chan struct{}, out chan<- []*crashUser) {
	client := &http.Client{Timeout: 30 * time.Second}
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, url+"/scim/v2"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := client.Do(req)
		if err != nil {
			return 0, err.Error() // the server died under us: not acknowledged
		}
		defer res.Body.Close()
		var b strings.Builder
		if _, err := io.Copy(&b, res.Body); err != nil {
			return 0, err.Error() // cut off mid-answer: not acknowledged
		}
		return res.StatusCode, b.String()
	}
	var users []*crashUser
	defer func() { out <- users }()
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	for i := 0; !stopped(); i++ {
		u := &crashUser{name: fmt.Sprintf("crash-%d-%d@example.com", worker, i)}
		users = append(users, u)
		code, body := do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+u.name+`","displayName":"v0"}`)
		if code != 201 {
			if code != 0 {
				t.Errorf("create %s: %d %s", u.name, code, body)
			}
			return
		}
		var r struct{ ID string }
		json.Unmarshal([]byte(body), &r)
		u.id, u.ackedDisplay = r.ID, "v0"
		for k := 1; k <= 2; k++ {
			u.inflight = fmt.Sprintf("v%d", k)
			code, body = do("PATCH", "/Users/"+u.id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"`+u.inflight+`"}]}`)
			if code != 200 && code != 204 {
				if code != 0 {
					t.Errorf("patch %s: %d %s", u.name, code, body)
				}
				return
			}
			u.ackedDisplay = u.inflight
		}
		u.inflight = ""
		code, body = do("PATCH", "/Groups/"+groupID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+u.id+`"}]}]}`)
		if code != 200 && code != 204 {
			if code != 0 {
				t.Errorf("add %s to the group: %d %s", u.name, code, body)
			}
			return
		}
		u.member = true
		if i%3 == 2 {
			u.deactivating = true
			code, body = do("PATCH", "/Users/"+u.id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`)
			if code != 200 && code != 204 {
				if code != 0 {
					t.Errorf("deactivate %s: %d %s", u.name, code, body)
				}
				return
			}
			u.deactivated = true
		}
	}
}

// TestCrashRecovery kills `roster serve` with SIGKILL twice in the
// middle of a stream of creates, PATCHes and seat-granting group adds,
// restarting it on the same data each time: every acknowledged write is
// there, nothing is half written, and the seat counts add up (the
// reconciler corrects a seat a crash leaked, and says so).
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfigFile(t, "scim:\n  rate_limit:\n    requests_per_second: 0\n")
	p := startProc(t, dir, nil, "--config", cfg)
	token := p.token
	ctx := context.Background()

	// A pool smaller than the stream, granted through a group rule, so
	// the stream claims seats, waits for them and returns them.
	st := openSQLiteT(t, dir)
	tenant, _, pool := seedPool(t, st, "default", "crashware", 40, false)
	code, body := scimDo(t, http.DefaultClient, "POST", p.url+"/scim/v2/Groups", token, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Licensed"}`)
	if code != 201 {
		t.Fatalf("create group: %d %s", code, body)
	}
	var g struct{ ID string }
	json.Unmarshal([]byte(body), &g)
	engine := licensing.New(st)
	if _, err := engine.AddRule(ctx, tenant.ID, g.ID, pool.ID, licensing.System); err != nil {
		t.Fatal(err)
	}

	const workers = 6
	var all []*crashUser
	for round := range 2 {
		stop := make(chan struct{})
		out := make(chan []*crashUser, workers)
		for w := range workers {
			go crashStream(t, p.url, token, g.ID, round*workers+w, stop, out)
		}
		time.Sleep(time.Duration(1500+rand.IntN(1500)) * time.Millisecond)
		p.kill9() // mid-stream
		close(stop)
		for range workers {
			all = append(all, <-out...)
		}
		p = startProc(t, dir, nil, "--config", cfg)
	}
	p.stop()

	var acked, patched, members, deactivated, inflight int
	for _, u := range all {
		if u.id != "" {
			acked++
		}
		if u.ackedDisplay != "v0" && u.ackedDisplay != "" {
			patched++
		}
		if u.member {
			members++
		}
		if u.deactivated {
			deactivated++
		}
		if u.id == "" || u.inflight != "" || u.deactivating && !u.deactivated {
			inflight++
		}
	}
	if acked < 20 {
		t.Fatalf("only %d creates were acknowledged before the kills; the stream did not get going", acked)
	}

	// Every acknowledged write is there.
	for _, u := range all {
		if u.id == "" {
			continue
		}
		got, err := st.GetUser(ctx, tenant.ID, u.id)
		if err != nil {
			t.Errorf("acknowledged user %s (%s): %v", u.name, u.id, err)
			continue
		}
		if got.UserName != u.name {
			t.Errorf("user %s: userName %q, want %q", u.id, got.UserName, u.name)
		}
		if got.DisplayName != u.ackedDisplay && got.DisplayName != u.inflight {
			t.Errorf("user %s: displayName %q, want the acknowledged %q (or %q, in flight at the kill)", u.name, got.DisplayName, u.ackedDisplay, u.inflight)
		}
		if u.deactivated && got.Active {
			t.Errorf("user %s: active, but the deactivation was acknowledged", u.name)
		}
		if !u.deactivating && !got.Active {
			t.Errorf("user %s: inactive, but nobody deactivated them", u.name)
		}
	}
	memberSet := map[string]bool{}
	for after := ""; ; {
		page, err := st.ListMembers(ctx, tenant.ID, g.ID, after, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			memberSet[m.MemberID] = true
			if _, err := st.GetUser(ctx, tenant.ID, m.MemberID); err != nil {
				t.Errorf("group member %s is not a user: %v", m.MemberID, err)
			}
		}
		after = page[len(page)-1].MemberID
	}
	for _, u := range all {
		if u.member && !memberSet[u.id] {
			t.Errorf("user %s: acknowledged as a group member, not in the group", u.name)
		}
	}

	// Nothing half written: the database is sound, every user complete,
	// every assignment someone's.
	db, err := sql.Open("sqlite", filepath.Join(dir, "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("PRAGMA integrity_check: %q %v", check, err)
	}
	rows, err := db.Query("PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		t.Errorf("PRAGMA foreign_key_check reports a dangling reference")
	}
	rows.Close()
	users, err := st.ListUsers(ctx, tenant.ID, store.Query{Limit: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users.Users {
		if u.ID == "" || u.UserName == "" || u.Version < 1 || u.CreatedAt.IsZero() {
			t.Errorf("incomplete user record: %+v", u)
		}
	}

	// Seats: the reconciler corrects what the kills left, then finds
	// nothing; the counter matches the active assignments, never above
	// the total, and every active member holds or waits for a seat.
	fixed, err := engine.Reprocess(ctx, tenant.ID, licensing.System)
	if err != nil {
		t.Fatalf("reprocess: %v", err)
	}
	again, err := engine.Reprocess(ctx, tenant.ID, licensing.System)
	if err != nil || again != 0 {
		t.Errorf("second reprocess corrected %d seats (%v), want 0", again, err)
	}
	pool, err = st.GetPool(ctx, tenant.ID, pool.ID)
	if err != nil {
		t.Fatal(err)
	}
	as, err := st.ListAssignments(ctx, tenant.ID, store.AssignmentQuery{PoolID: pool.ID})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	holder := map[string]string{}
	for _, a := range as {
		states[a.State]++
		holder[a.UserID] = a.State
		if _, err := st.GetUser(ctx, tenant.ID, a.UserID); err != nil {
			t.Errorf("assignment of a missing user %s", a.UserID)
		}
	}
	if pool.Assigned != states[store.AssignActive] || pool.Assigned > pool.Total || states[store.AssignPending] != 0 {
		t.Errorf("pool: assigned %d of %d; assignments %v; want assigned = active ≤ total and none pending", pool.Assigned, pool.Total, states)
	}
	byID := map[string]*store.User{}
	for _, u := range users.Users {
		byID[u.ID] = u
	}
	for id := range memberSet {
		u := byID[id]
		switch s := holder[id]; {
		case u == nil:
		case u.Active && s != store.AssignActive && s != store.AssignWaiting:
			t.Errorf("active group member %s has assignment %q, want active or waiting", u.UserName, s)
		case !u.Active && s == store.AssignActive:
			t.Errorf("inactive group member %s holds a seat", u.UserName)
		}
	}
	if states[store.AssignWaiting] > 0 && pool.Assigned < pool.Total {
		t.Errorf("%d assignments wait while %d of %d seats are free", states[store.AssignWaiting], pool.Total-pool.Assigned, pool.Total)
	}
	t.Logf("crash test: 2 kills; acknowledged %d creates, %d patched users, %d group adds, %d deactivations; %d users had a write in flight; "+
		"reconciler corrected %d seat counters after the kills; pool %d/%d, assignments %v",
		acked, patched, members, deactivated, inflight, fixed, pool.Assigned, pool.Total, states)
}
