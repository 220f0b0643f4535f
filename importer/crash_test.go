package importer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

var errCrash = errors.New("node crashed")

// faultStore is the store as seen by a node that dies: once the armed
// call count of a method is reached, that call and every later call of
// any wrapped method fails (the lease is not released either), or, in
// cancel mode, the run's context is cancelled (a shutdown).
type faultStore struct {
	store.Store
	mu     sync.Mutex
	method string
	left   int
	dead   bool
	cancel context.CancelFunc // cancel mode
}

func (f *faultStore) arm(method string, after int, cancel context.CancelFunc) {
	f.mu.Lock()
	f.method, f.left, f.dead, f.cancel = method, after, false, cancel
	f.mu.Unlock()
}

func (f *faultStore) hit(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return errCrash
	}
	if method != f.method {
		return nil
	}
	if f.left > 0 {
		f.left--
		return nil
	}
	if f.cancel != nil {
		f.cancel()
		f.method = ""
		return nil
	}
	f.dead = true
	return errCrash
}

func (f *faultStore) CreateUser(ctx context.Context, u *store.User) error {
	if err := f.hit("CreateUser"); err != nil {
		return err
	}
	return f.Store.CreateUser(ctx, u)
}

func (f *faultStore) UpdateUser(ctx context.Context, u *store.User) error {
	if err := f.hit("UpdateUser"); err != nil {
		return err
	}
	return f.Store.UpdateUser(ctx, u)
}

func (f *faultStore) PutImportRows(ctx context.Context, rows []*store.ImportRow) error {
	if err := f.hit("PutImportRows"); err != nil {
		return err
	}
	return f.Store.PutImportRows(ctx, rows)
}

func (f *faultStore) UpdateImportJob(ctx context.Context, j *store.ImportJob) error {
	if err := f.hit("UpdateImportJob"); err != nil {
		return err
	}
	return f.Store.UpdateImportJob(ctx, j)
}

func (f *faultStore) ClaimSeat(ctx context.Context, a *store.Assignment, now time.Time) error {
	if err := f.hit("ClaimSeat"); err != nil {
		return err
	}
	return f.Store.ClaimSeat(ctx, a, now)
}

func (f *faultStore) AddMembers(ctx context.Context, tenantID, groupID string, version int64, m []store.Member) (int64, error) {
	if err := f.hit("AddMembers"); err != nil {
		return 0, err
	}
	return f.Store.AddMembers(ctx, tenantID, groupID, version, m)
}

func (f *faultStore) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	if err := f.hit("AppendAudit"); err != nil {
		return err
	}
	return f.Store.AppendAudit(ctx, e)
}

func (f *faultStore) CreateInvitation(ctx context.Context, inv *store.Invitation) error {
	if err := f.hit("CreateInvitation"); err != nil {
		return err
	}
	return f.Store.CreateInvitation(ctx, inv)
}

func (f *faultStore) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := f.hit("ReleaseLease"); err != nil {
		return err
	}
	return f.Store.ReleaseLease(ctx, name, holder)
}

// crashFile is 40 users: some in the ruled group Sales, some with direct
// seats, some with passwords, the rest invited; one row is bad.
func crashFile() []byte {
	rows := [][]string{header}
	for i := 1; i <= 40; i++ {
		r := person(i)
		switch i % 4 {
		case 0:
			r[10] = "Sales; Support"
		case 1:
			r[11] = "lite"
		case 2:
			r[4] = fmt.Sprintf("long-password-%d", i)
			r[10] = "Support"
		}
		if i == 13 {
			r[3] = "bad address"
		}
		rows = append(rows, r)
	}
	return csvBytes(rows...)
}

// A job stopped part way (the node dies at some store call, or is shut
// down) and then run again, by a new node once the lease expired, ends in
// the same state as a run that was never interrupted: same users, groups,
// seats, counters, one invitation per invited user, one creation per user.
func TestCrashResumeSameFinalState(t *testing.T) {
	ref := newEnv(t)
	j := ref.run(ref.submit(crashFile(), "users.csv", store.ImportValidRows))
	want, wantJob := ref.snapshot(), j
	if wantJob.Done != 39 || wantJob.Failed != 1 {
		t.Fatalf("reference job = %+v", wantJob)
	}

	cases := []struct {
		method string
		after  int
		cancel bool
	}{
		{"CreateUser", 0, false},
		{"CreateUser", 11, false},
		{"AppendAudit", 16, false},     // between creating a user and recording it
		{"CreateInvitation", 5, false}, // between creating a user and inviting them
		{"PutImportRows", 2, false},    // a batch applied, not recorded as done
		{"ClaimSeat", 4, false},        // inside Assign or a group rule
		{"AddMembers", 3, false},       // users created, not yet in their groups
		{"UpdateImportJob", 3, false},  // rows recorded, progress not
		{"CreateUser", 20, true},       // shutdown
		{"PutImportRows", 4, true},     // shutdown while recording rows
		{"ReleaseLease", 0, false},     // finished but died releasing
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s after %d", c.method, c.after)
		if c.cancel {
			name += " (cancel)"
		}
		t.Run(name, func(t *testing.T) {
			st := openStore(t)
			fs := &faultStore{Store: st}
			e := seedEnv(t, st, fs)
			j := e.submit(crashFile(), "users.csv", store.ImportValidRows)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var cf context.CancelFunc
			if c.cancel {
				cf = cancel
			}
			fs.arm(c.method, c.after, cf)
			_, err := e.runner.Run(ctx, e.tenant.ID, j.ID)
			if c.method != "ReleaseLease" && err == nil {
				t.Fatal("Run survived the fault")
			}
			mid, _ := st.GetImportJob(t.Context(), e.tenant.ID, j.ID)
			if c.method != "ReleaseLease" && mid.State != store.JobRunning {
				t.Fatalf("interrupted job state = %s", mid.State)
			}

			// Another node, on a healthy store.
			other := *e.runner
			other.Store, other.Holder = st, "node-b"
			other.Engine = licensing.New(st, licensing.WithClock(e.clock.Now), licensing.WithLogger(quiet))
			e.invited.st = st
			_, err = other.Run(t.Context(), e.tenant.ID, j.ID)
			if !c.cancel && c.method != "ReleaseLease" {
				// The dead node never released its lease.
				if !errors.Is(err, ErrBusy) {
					t.Fatalf("Run before the lease expired: %v", err)
				}
				e.clock.Add(2 * DefaultLimits.LeaseTTL)
				_, err = other.Run(t.Context(), e.tenant.ID, j.ID)
			}
			if err != nil {
				t.Fatalf("resumed Run: %v", err)
			}
			got, _ := st.GetImportJob(t.Context(), e.tenant.ID, j.ID)
			if got.State != store.JobDone || got.Done != wantJob.Done || got.Failed != wantJob.Failed {
				t.Errorf("job = %+v", got)
			}
			if snap := e.snapshot(); snap != want {
				t.Errorf("final state differs from an uninterrupted run:\n%s", diffLines(snap, want))
			}
			// Nobody created twice, every user's creation recorded once.
			evs, err := st.ListAudit(t.Context(), e.tenant.ID, store.AuditQuery{Action: "user.create", Limit: 1000})
			must(t, err)
			seen := map[string]int{}
			for _, ev := range evs {
				seen[ev.TargetID]++
			}
			users := e.users()
			for _, u := range users {
				if seen[u.ID] != 1 {
					t.Errorf("%s has %d user.create events", u.UserName, seen[u.ID])
				}
			}
			if len(users) != 39 {
				t.Errorf("%d users, want 39", len(users))
			}
		})
	}
}

func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	in := func(s string, l []string) bool {
		for _, x := range l {
			if x == s {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	for _, l := range g {
		if !in(l, w) {
			b.WriteString("+ " + l + "\n")
		}
	}
	for _, l := range w {
		if !in(l, g) {
			b.WriteString("- " + l + "\n")
		}
	}
	return b.String()
}
