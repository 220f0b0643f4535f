package importer

import (
	"bytes"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

// quiet drops the logs of expected failures (crash tests).
var quiet = slog.New(slog.DiscardHandler)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// env is a tenant on a real SQLite store with a product catalogue:
// "pro" (3 seats, deny) whose seats the group "Sales" grants by rule,
// "lite" (allow-over), "old" (expired), "nopool" (no pool in the tenant),
// and the groups "Sales" and "Support".
type env struct {
	t        *testing.T
	st       *sqlite.Store
	tenant   *store.Tenant
	engine   *licensing.Engine
	runner   *Runner
	pools    map[string]*store.Pool // by product code
	groups   map[string]*store.Group
	invited  *inviteLog
	clock    *fakeClock
	products map[string]*store.Product
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// inviteLog is the test's invitation sender: it records an invitation in
// the store, as notify does, and counts calls per user.
type inviteLog struct {
	st    store.Store
	mu    sync.Mutex
	count map[string]int // userName -> invitations sent
}

func (l *inviteLog) invite(ctx context.Context, u *store.User) error {
	inv := &store.Invitation{TenantID: u.TenantID, ID: store.NewID(), UserID: u.ID, Kind: store.InviteActivate,
		TokenHash: store.NewID(), ExpiresAt: time.Now().Add(72 * time.Hour), CreatedAt: time.Now()}
	if err := l.st.CreateInvitation(ctx, inv); err != nil {
		return err
	}
	l.mu.Lock()
	l.count[u.UserName]++
	l.mu.Unlock()
	return nil
}

// fakeHash stands in for argon2id, which would make every test slow; it
// is distinguishable from the password and salted like the real one, so a
// re-hash is a change.
func fakeHash(pw string) (string, error) {
	return "$fake$" + store.NewID()[24:] + "$" + fmt.Sprint(len(pw)), nil
}

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := openStore(t)
	return seedEnv(t, st, st)
}

// seedEnv fills st and builds a runner over wrapped (st itself, or a
// wrapper injecting faults).
func seedEnv(t *testing.T, st *sqlite.Store, wrapped store.Store) *env {
	t.Helper()
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	e := &env{t: t, st: st, clock: clock, pools: map[string]*store.Pool{}, groups: map[string]*store.Group{},
		products: map[string]*store.Product{}}
	e.tenant = &store.Tenant{Name: "acme-" + store.NewID()[30:]}
	must(t, st.CreateTenant(ctx, e.tenant))
	for _, p := range []struct {
		code, policy string
		total        int
		ends         time.Time
		pool         bool
	}{
		{"pro", store.PolicyDeny, 3, time.Time{}, true},
		{"lite", store.PolicyAllowOver, 1, time.Time{}, true},
		{"old", store.PolicyDeny, 10, clock.t.AddDate(0, -1, 0), true},
		{"nopool", store.PolicyDeny, 0, time.Time{}, false},
	} {
		prod, err := st.GetProductByCode(ctx, p.code)
		if err != nil {
			prod = &store.Product{Code: p.code, Name: strings.ToUpper(p.code[:1]) + p.code[1:]}
			must(t, st.CreateProduct(ctx, prod))
		}
		e.products[p.code] = prod
		if !p.pool {
			continue
		}
		pool := &store.Pool{TenantID: e.tenant.ID, ProductID: prod.ID, Total: p.total, Policy: p.policy,
			StartsAt: clock.t.AddDate(-1, 0, 0), EndsAt: p.ends}
		must(t, st.CreatePool(ctx, pool))
		e.pools[p.code] = pool
	}
	for _, name := range []string{"Sales", "Support"} {
		g := &store.Group{TenantID: e.tenant.ID, DisplayName: name}
		must(t, st.CreateGroup(ctx, g))
		e.groups[name] = g
	}
	must(t, st.CreateRule(ctx, &store.Rule{TenantID: e.tenant.ID, GroupID: e.groups["Sales"].ID, PoolID: e.pools["pro"].ID}))
	e.engine = licensing.New(wrapped, licensing.WithClock(clock.Now), licensing.WithLogger(quiet))
	e.invited = &inviteLog{st: wrapped, count: map[string]int{}}
	e.runner = &Runner{Store: wrapped, Engine: e.engine, HashPassword: fakeHash, Invite: e.invited.invite,
		Holder: "node-a", Now: clock.Now, Logger: quiet, Limits: Limits{BatchSize: 7}}
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// header is the template's header as a person would type it.
var header = []string{"First Name", "Last Name", "Username", "E-mail", "Password", "Mobile Phone", "Business Phone",
	"Company", "Unique Customer Code", "UDID", "Groups", "Products", "Account Admin", "Notes"}

// person returns a valid row for header.
func person(i int) []string {
	return []string{fmt.Sprintf("First%d", i), fmt.Sprintf("Last%d", i), fmt.Sprintf("user%d@acme.test", i),
		fmt.Sprintf("user%d@acme.test", i), "", fmt.Sprintf("+44 7700 9%05d", i), "", "Acme", fmt.Sprintf("C-%d", i), "", "", "", "no", ""}
}

func csvBytes(rows ...[]string) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.WriteAll(rows)
	return b.Bytes()
}

func xlsxBytes(t testing.TB, rows ...[]string) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		vals := make([]any, len(r))
		for j, v := range r {
			vals[j] = v
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		must(t, f.SetSheetRow("Sheet1", cell, &vals))
	}
	b, err := f.WriteToBuffer()
	must(t, err)
	return b.Bytes()
}

func (e *env) submit(data []byte, name, mode string) *store.ImportJob {
	e.t.Helper()
	j, err := e.runner.Submit(context.Background(), e.tenant.ID, name, bytes.NewReader(data), mode, "admin:test")
	if err != nil {
		e.t.Fatalf("Submit(%s): %v", name, err)
	}
	return j
}

func (e *env) run(j *store.ImportJob) *store.ImportJob {
	e.t.Helper()
	j, err := e.runner.Run(context.Background(), e.tenant.ID, j.ID)
	if err != nil {
		e.t.Fatalf("Run: %v", err)
	}
	return j
}

func (e *env) rows(j *store.ImportJob) []*store.ImportRow {
	e.t.Helper()
	rows, err := e.st.ImportRows(context.Background(), e.tenant.ID, j.ID, 0, 0)
	must(e.t, err)
	return rows
}

func (e *env) users() []*store.User {
	e.t.Helper()
	page, err := e.st.ListUsers(context.Background(), e.tenant.ID, store.Query{Limit: 100000})
	must(e.t, err)
	return page.Users
}

func (e *env) user(name string) *store.User {
	e.t.Helper()
	u, err := e.st.GetUserByUserName(context.Background(), e.tenant.ID, name)
	if err != nil {
		e.t.Fatalf("user %s: %v", name, err)
	}
	return u
}

// snapshot renders everything an import changes, without ids, times or
// hashes, so two stores can be compared: users with their fields, group
// members, seats and pool counters, pending invitations.
func (e *env) snapshot() string {
	e.t.Helper()
	ctx := context.Background()
	var lines []string
	names := map[string]string{}
	for _, u := range e.users() {
		names[u.ID] = u.UserName
		pw := u.PasswordHash != ""
		ent, _ := u.Extra[uriEnterprise].(map[string]any)
		invs, err := e.st.ListInvitations(ctx, e.tenant.ID, u.ID)
		must(e.t, err)
		lines = append(lines, fmt.Sprintf("user %s name=%q/%q display=%q emails=%v phones=%v admin=%v pw=%v act=%s active=%v code=%q udid=%q notes=%q org=%v invitations=%d",
			u.UserName, u.Name.GivenName, u.Name.FamilyName, u.DisplayName, u.Emails, u.PhoneNumbers, u.AccountAdmin, pw,
			u.Activation, u.Active, u.CustomerCode, u.UDID, u.Notes, ent["organization"], len(invs)))
	}
	for name, g := range e.groups {
		ms, err := e.st.ListMembers(ctx, e.tenant.ID, g.ID, "", 100000)
		must(e.t, err)
		for _, m := range ms {
			lines = append(lines, fmt.Sprintf("member %s %s", name, names[m.MemberID]))
		}
	}
	for code, p := range e.pools {
		as, err := e.st.ListAssignments(ctx, e.tenant.ID, store.AssignmentQuery{PoolID: p.ID})
		must(e.t, err)
		for _, a := range as {
			src := slices.Clone(a.Sources)
			for i, s := range src {
				for gn, g := range e.groups {
					if s == store.GroupSource(g.ID) {
						src[i] = "group:" + gn
					}
				}
			}
			slices.Sort(src)
			lines = append(lines, fmt.Sprintf("seat %s %s %s %v", code, names[a.UserID], a.State, src))
		}
		pool, err := e.st.GetPool(ctx, e.tenant.ID, p.ID)
		must(e.t, err)
		lines = append(lines, fmt.Sprintf("pool %s total=%d assigned=%d overage=%d", code, pool.Total, pool.Assigned, pool.Overage))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// dumpXLSX renders every sheet's cells as text: golden files compare what
// a person sees, not the bytes excelize happens to write.
func dumpXLSX(t *testing.T, data []byte) []byte {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	must(t, err)
	defer f.Close()
	var b bytes.Buffer
	for _, sheet := range f.GetSheetList() {
		fmt.Fprintf(&b, "== sheet %s\n", sheet)
		rows, err := f.GetRows(sheet)
		must(t, err)
		for i, r := range rows {
			q := make([]string, len(r))
			for j, c := range r {
				q[j] = fmt.Sprintf("%q", c)
			}
			fmt.Fprintf(&b, "%d: %s\n", i+1, strings.Join(q, " | "))
		}
	}
	return b.Bytes()
}
