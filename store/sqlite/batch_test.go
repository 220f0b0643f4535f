package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/roster-scim/roster/store"
)

// TestBatchedWrites sends concurrent creates, some of them taking a
// userName another one takes too, some with a cancelled context, so they
// meet in batches, then concurrent compare-and-set updates of one user
// beside them: every call gets the result it would get alone (one winner
// per userName, one winner per version, a cancelled call writes nothing),
// and the store holds exactly what the calls said they wrote.
func TestBatchedWrites(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "roster.db"))
	ctx := context.Background()
	const tenant, n = "t1", 400
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	type result struct {
		name      string
		id        string
		cancelled bool
		err       error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := ctx
			r := result{name: fmt.Sprintf("user%d@example.com", i/2)} // two calls per name
			if i%7 == 3 {
				c, r.cancelled = cancelled, true
			}
			u := &store.User{TenantID: tenant, UserName: r.name, Active: true}
			r.err = s.CreateUser(c, u)
			r.id = u.ID
			results[i] = r
		})
	}
	wg.Wait()
	winners := map[string]string{}
	created := 0
	for i, r := range results {
		switch {
		case r.cancelled:
			if !errors.Is(r.err, context.Canceled) {
				t.Errorf("create %d with a cancelled context: %v, want context.Canceled", i, r.err)
			}
		case r.err == nil:
			if prev, ok := winners[r.name]; ok {
				t.Errorf("%s created twice: %s and %s", r.name, prev, r.id)
			}
			winners[r.name] = r.id
			created++
		default:
			var conflict *store.ErrConflict
			if !errors.As(r.err, &conflict) || conflict.Attr != "userName" {
				t.Errorf("create %d (%s): %v, want a userName conflict or success", i, r.name, r.err)
			}
			if r.id != "" {
				t.Errorf("create %d failed but kept id %q", i, r.id)
			}
		}
	}
	for i := range n / 2 {
		name := fmt.Sprintf("user%d@example.com", i)
		first, second := results[2*i], results[2*i+1]
		if _, ok := winners[name]; !ok && !first.cancelled && !second.cancelled {
			t.Errorf("%s: neither create succeeded (%v, %v)", name, first.err, second.err)
		}
	}
	page, err := s.ListUsers(ctx, tenant, store.Query{Limit: n})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != created || len(page.Users) != created {
		t.Errorf("store holds %d users (page of %d), calls reported %d created", page.Total, len(page.Users), created)
	}
	for _, u := range page.Users {
		if winners[u.UserName] != u.ID {
			t.Errorf("stored %s as %s, the call that succeeded got %s", u.UserName, u.ID, winners[u.UserName])
		}
	}

	// Concurrent compare-and-set updates from one version: one wins.
	var target *store.User
	for _, u := range page.Users {
		target = u
		break
	}
	var wins, stale int
	var mu sync.Mutex
	for i := range 50 {
		wg.Go(func() {
			u := *target
			u.DisplayName = fmt.Sprint("writer ", i)
			err := s.UpdateUser(ctx, &u)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrPrecondition):
				stale++
			default:
				t.Errorf("update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || stale != 49 {
		t.Errorf("50 updates from version %d: %d succeeded, %d stale; want 1 and 49", target.Version, wins, stale)
	}
	got, err := s.GetUser(ctx, tenant, target.ID)
	if err != nil || got.Version != target.Version+1 {
		t.Errorf("after the updates: %+v, %v; want version %d", got, err, target.Version+1)
	}
}
