package admin

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// withoutWaitingLister hides store.WaitingLister: a backend whose
// waiting list the portal reads whole.
type withoutWaitingLister struct{ store.Store }

// TestLicensesWaitingList: a pool's card lists the first twenty waiting,
// oldest first, and says how many wait in all, over stores with and
// without a waiting-list fast path.
func TestLicensesWaitingList(t *testing.T) {
	for _, mode := range []string{"store reads the head", "portal reads all"} {
		t.Run(mode, func(t *testing.T) {
			st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
			must(t, err)
			t.Cleanup(func() { st.Close() })
			var s store.Store = st
			if mode == "portal reads all" {
				s = withoutWaitingLister{st}
			}
			e := newEnvOn(t, s)
			var want []string
			for i := range 27 {
				u := e.user(e.acme.ID, fmt.Sprintf("w%02d@acme.test", 26-i), false) // names sort against arrival
				e.clock.Add(time.Minute)
				err := e.st.ClaimSeat(e.ctx, &store.Assignment{TenantID: e.acme.ID, PoolID: e.poolA.ID, UserID: u.ID, Sources: []string{"group:g"}}, e.clock.Now())
				if i < e.poolA.Total {
					must(t, err)
					continue
				}
				if !errors.Is(err, store.ErrNoSeats) {
					t.Fatalf("claim %d: %v", i, err)
				}
				want = append(want, u.UserName)
			}
			body := e.get(e.operator(), "/admin/t/"+e.acme.ID+"/licenses").Body.String()
			if !strings.Contains(body, `Waiting list <span class="count">25</span>`) || !strings.Contains(body, "and 25 in all") {
				t.Errorf("the card does not say 25 are waiting")
			}
			var got []string
			for _, m := range regexp.MustCompile(`<li><a href="[^"]+">([^<]+)</a> <span class="small muted">— no seats`).FindAllStringSubmatch(body, -1) {
				got = append(got, m[1])
			}
			if strings.Join(got, ",") != strings.Join(want[:waitingShown], ",") {
				t.Errorf("waiting list shown:\ngot  %v\nwant %v", got, want[:waitingShown])
			}
		})
	}
}
