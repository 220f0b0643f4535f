package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/sqlite"
)

const usageBench = `Usage: roster bench [flags]

Measures Roster against a bare net/http baseline in one run and prints
each scenario's requests/s, p50, p99, errors and the Roster/baseline ratio
(the median of the rounds' ratios; each round runs both servers back to
back).
Both servers run as child processes pinned to one core and the load
generator to another (when the machine has two), on a fresh data
directory preloaded with --users users and --groups groups.

Flags:
`

// benchScenario is one kind of request, sent to both servers.
type benchScenario struct {
	name string
	// write scenarios hit the baseline's POST handler (reads the body,
	// answers 201), read ones its GET handler (fixed JSON).
	write bool
	// next builds request i for Roster.
	next func(i int) (method, path string, body []byte)
	// prime, when set, runs once against Roster before the warm-up.
	prime func(get func(path string) error) error
}

// benchResult is one scenario's figures, also written as JSON.
type benchResult struct {
	Scenario      string  `json:"scenario"`
	RosterRPS     float64 `json:"roster_rps"`
	BaselineRPS   float64 `json:"baseline_rps"`
	Ratio         float64 `json:"ratio"` // median of the rounds' ratios
	RatioMin      float64 `json:"ratio_min"`
	RatioMax      float64 `json:"ratio_max"`
	RatioOfTotals float64 `json:"ratio_of_totals"`
	// CPU time each server spent per request (median over rounds), and
	// the baseline's over Roster's.
	RosterCPUus    float64 `json:"roster_cpu_us_per_req"`
	BaselineCPUus  float64 `json:"baseline_cpu_us_per_req"`
	CPURatio       float64 `json:"cpu_ratio"`
	RosterP50ms    float64 `json:"roster_p50_ms"`
	RosterP99ms    float64 `json:"roster_p99_ms"`
	BaselineP50ms  float64 `json:"baseline_p50_ms"`
	BaselineP99ms  float64 `json:"baseline_p99_ms"`
	RosterErrors   int64   `json:"roster_errors"`
	BaselineErrors int64   `json:"baseline_errors"`
}

type benchReport struct {
	Commit      string        `json:"commit"`
	GoVersion   string        `json:"go"`
	CPUs        int           `json:"cpus"`
	Pinned      bool          `json:"pinned"`
	Users       int           `json:"users"`
	Groups      int           `json:"groups"`
	Concurrency int           `json:"concurrency"`
	Round       string        `json:"round"`
	Rounds      int           `json:"rounds"`
	PeakRSSMB   float64       `json:"roster_peak_rss_mb"`
	Results     []benchResult `json:"results"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	users := fs.Int("users", 100_000, "users to preload")
	groups := fs.Int("groups", 100, "groups to preload (one of them gets 100,000 members, or every user when fewer)")
	conc := fs.Int("concurrency", 32, "concurrent keep-alive connections")
	round := fs.Duration("round", 3*time.Second, "length of one measured round")
	rounds := fs.Int("rounds", 3, "alternating rounds per server and scenario")
	only := fs.String("scenarios", "", "comma-separated scenario names to run (default: all)")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file")
	dataDir := fs.String("data", "", "data directory to build (default: a temporary one, removed afterwards)")
	profDir := fs.String("profile", "", "write the Roster server's CPU profile of one extra round per scenario (cpu-SCENARIO.pprof) and its heap at the end (heap.pprof) to this directory")
	fs.Usage = func() { fmt.Fprint(stderr, usageBench); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *users < 100 || *groups < 1 || *conc < 1 || *rounds < 1 || *round < 100*time.Millisecond {
		fmt.Fprintln(stderr, "roster bench: need --users >= 100, --groups >= 1, --concurrency >= 1, --rounds >= 1, --round >= 100ms")
		return exitUsage
	}
	if err := bench(ctx, benchOptions{users: *users, groups: *groups, conc: *conc, round: *round, rounds: *rounds,
		only: *only, jsonOut: *jsonOut, dataDir: *dataDir, profDir: *profDir}, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "roster bench: %v\n", err)
		return exitFailure
	}
	return exitOK
}

type benchOptions struct {
	users, groups, conc, rounds int
	round                       time.Duration
	only, jsonOut, dataDir      string
	profDir                     string
}

// benchFixture is what the preload made and the scenarios address.
type benchFixture struct {
	token     string
	userIDs   []string
	userNames []string
	bigGroup  string // min(users, 100,000) members
	smallGrp  string // 10 members
	reserve   []string
	password  string
	tenant    string
}

func bench(ctx context.Context, o benchOptions, stdout, stderr io.Writer) error {
	dir := o.dataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "roster-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	fmt.Fprintf(stdout, "preloading %d users and %d groups into %s ...\n", o.users, o.groups, dir)
	start := time.Now()
	fx, err := benchPreload(ctx, filepath.Join(dir, "roster.db"), o.users, o.groups)
	if err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	fmt.Fprintf(stdout, "preloaded in %s\n", time.Since(start).Round(time.Millisecond))

	self, err := os.Executable()
	if err != nil {
		return err
	}
	pinned := runtime.NumCPU() >= 2
	if _, err := exec.LookPath("taskset"); err != nil {
		pinned = false
	}
	baseAddr, err := freeAddr()
	if err != nil {
		return err
	}
	base, err := startChild(ctx, pinned, self, []string{"bench-baseline", "--addr", baseAddr}, nil)
	if err != nil {
		return fmt.Errorf("start baseline: %w", err)
	}
	defer base.stop()
	rosterAddr, err := freeAddr()
	if err != nil {
		return err
	}
	// The bench token is one IdP sending as fast as it can, and every
	// device sign-in comes from one address, 32 at a time: the per-token
	// rate limit and the sign-in limit (which holds a try per attempt in
	// flight) would measure themselves, so both are off.
	env := []string{"ROSTER_LOG_LEVEL=error", "ROSTER_SCIM_MAX_RESULTS=1000", "ROSTER_SCIM_RATE_LIMIT_REQUESTS_PER_SECOND=0",
		"ROSTER_DEVICES_LOGIN_LIMIT_FAILURES_PER_MINUTE=0"}
	profAddr := ""
	if o.profDir != "" {
		if err := os.MkdirAll(o.profDir, 0o755); err != nil {
			return err
		}
		if profAddr, err = freeAddr(); err != nil {
			return err
		}
		env = append(env, benchProfileEnv+"="+profAddr)
	}
	srv, err := startChild(ctx, pinned, self, []string{"serve", "--addr", rosterAddr, "--data", dir}, env)
	if err != nil {
		return fmt.Errorf("start roster: %w", err)
	}
	defer srv.stop()
	if pinned {
		// The generator gets the other core.
		var set unix.CPUSet
		set.Set(0)
		_ = unix.SchedSetaffinity(0, &set)
	}
	for _, addr := range []string{baseAddr, rosterAddr} {
		if err := waitHTTP(ctx, "http://"+addr+"/healthz"); err != nil {
			return err
		}
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: o.conc * 2, MaxIdleConnsPerHost: o.conc * 2, DisableCompression: true}, Timeout: 30 * time.Second}
	report := benchReport{Commit: rosterVersion(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Pinned: pinned,
		Users: o.users, Groups: o.groups, Concurrency: o.conc, Round: o.round.String(), Rounds: o.rounds}
	scen := benchScenarios(fx, o.users)
	if o.only != "" {
		want := strings.Split(o.only, ",")
		scen = slices.DeleteFunc(scen, func(s benchScenario) bool { return !slices.Contains(want, s.name) })
	}
	fmt.Fprintf(stdout, "\n%d CPUs, pinned=%v, concurrency %d, %d x %s rounds per server\n", report.CPUs, pinned, o.conc, o.rounds, o.round)
	const row = "%-17s %12s %8s %8s %7s %14s %8s %8s %7s %13s %9s %9s %9s\n"
	fmt.Fprintf(stdout, row, "scenario", "roster req/s", "p50 ms", "p99 ms", "errors", "baseline req/s", "p50 ms", "p99 ms", "ratio", "rounds",
		"r cpu µs", "b cpu µs", "cpu ratio")
	for _, s := range scen {
		res := benchResult{Scenario: s.name}
		var rLat, bLat []time.Duration
		var rN, bN int
		var rT, bT time.Duration
		baseScenario := baselineScenario(s)
		if s.prime != nil {
			start := time.Now()
			if err := s.prime(func(path string) error { return benchGet(ctx, client, "http://"+rosterAddr+path, fx.token) }); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			fmt.Fprintf(stdout, "%s: primed in %s\n", s.name, time.Since(start).Round(time.Millisecond))
		}
		// Warm up both (caches, JIT-free but page cache and pools).
		drive(ctx, client, "http://"+rosterAddr, fx.token, s, o.conc, o.round/3)
		drive(ctx, client, "http://"+baseAddr, "", baseScenario, o.conc, o.round/3)
		// Each round measures the baseline and Roster back to back, in
		// alternating order, and yields one ratio: on a machine whose
		// other load comes and goes, neighbouring measurements share
		// most of it, so the median of the rounds' ratios is steadier
		// than the ratio of the totals (reported too).
		//
		// Each server's CPU time per request is measured too: it does not
		// depend on how much of its core the machine's other load leaves
		// it, so its ratio (baseline's over Roster's) moves less from run
		// to run than the throughput ratio, which it approaches when both
		// servers are CPU-bound.
		var ratios, cpuRatios, rCPU, bCPU []float64
		for i := range o.rounds {
			var b, r driveStats
			var bc, rc float64
			if i%2 == 0 {
				b, bc = driveCPU(ctx, client, base, "http://"+baseAddr, "", baseScenario, o.conc, o.round)
				r, rc = driveCPU(ctx, client, srv, "http://"+rosterAddr, fx.token, s, o.conc, o.round)
			} else {
				r, rc = driveCPU(ctx, client, srv, "http://"+rosterAddr, fx.token, s, o.conc, o.round)
				b, bc = driveCPU(ctx, client, base, "http://"+baseAddr, "", baseScenario, o.conc, o.round)
			}
			if bc > 0 && rc > 0 {
				rCPU, bCPU = append(rCPU, rc), append(bCPU, bc)
				cpuRatios = append(cpuRatios, bc/rc)
			}
			bLat, bN, bT = append(bLat, b.lat...), bN+b.n, bT+b.elapsed
			res.BaselineErrors += b.errors
			rLat, rN, rT = append(rLat, r.lat...), rN+r.n, rT+r.elapsed
			res.RosterErrors += r.errors
			if b.n > 0 {
				ratios = append(ratios, (float64(r.n)/r.elapsed.Seconds())/(float64(b.n)/b.elapsed.Seconds()))
			}
		}
		res.RosterRPS = float64(rN) / rT.Seconds()
		res.BaselineRPS = float64(bN) / bT.Seconds()
		if res.BaselineRPS > 0 {
			res.RatioOfTotals = res.RosterRPS / res.BaselineRPS
		}
		if len(ratios) > 0 {
			res.Ratio = median(ratios)
			res.RatioMin, res.RatioMax = slices.Min(ratios), slices.Max(ratios)
		}
		if len(cpuRatios) > 0 {
			res.CPURatio = median(cpuRatios)
			res.RosterCPUus, res.BaselineCPUus = median(rCPU), median(bCPU)
		}
		res.RosterP50ms, res.RosterP99ms = pct(rLat, 50), pct(rLat, 99)
		res.BaselineP50ms, res.BaselineP99ms = pct(bLat, 50), pct(bLat, 99)
		report.Results = append(report.Results, res)
		f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
		fmt.Fprintf(stdout, row, s.name, f(res.RosterRPS, 0), f(res.RosterP50ms, 2), f(res.RosterP99ms, 2), strconv.FormatInt(res.RosterErrors, 10),
			f(res.BaselineRPS, 0), f(res.BaselineP50ms, 2), f(res.BaselineP99ms, 2), f(res.Ratio, 3), f(res.RatioMin, 3)+"-"+f(res.RatioMax, 3),
			f(res.RosterCPUus, 1), f(res.BaselineCPUus, 1), f(res.CPURatio, 3))
		if st := firstErr.Load(); st != nil {
			fmt.Fprintf(stdout, "%17s first error: %s\n", "", *st)
			firstErr.Store(nil)
		}
		if profAddr != "" {
			// One more round, outside the figures above, while the
			// server profiles itself.
			file := filepath.Join(o.profDir, "cpu-"+s.name+".pprof")
			done := make(chan error, 1)
			go func() {
				done <- fetchProfile(ctx, fmt.Sprintf("http://%s/cpu?seconds=%d", profAddr, max(1, int(o.round.Seconds()))), file)
			}()
			time.Sleep(50 * time.Millisecond)
			drive(ctx, client, "http://"+rosterAddr, fx.token, s, o.conc, o.round)
			if err := <-done; err != nil {
				fmt.Fprintf(stderr, "roster bench: cpu profile of %s: %v\n", s.name, err)
			}
			firstErr.Store(nil)
		}
	}
	report.PeakRSSMB = srv.peakRSSMB()
	if profAddr != "" {
		if err := fetchProfile(ctx, "http://"+profAddr+"/heap", filepath.Join(o.profDir, "heap.pprof")); err != nil {
			fmt.Fprintf(stderr, "roster bench: heap profile: %v\n", err)
		}
		fmt.Fprintf(stdout, "\nprofiles in %s (go tool pprof %s cpu-SCENARIO.pprof)\n", o.profDir, self)
	}
	fmt.Fprintf(stdout, "\nroster peak RSS: %.0f MB\n", report.PeakRSSMB)
	fmt.Fprintf(stdout, "ratio: median of the rounds' Roster/baseline ratios (rounds: their range)\n")
	fmt.Fprintf(stdout, "cpu µs: each server's CPU time per request; cpu ratio: baseline's over Roster's, steadier than ratio on a busy machine\n")
	fmt.Fprintf(stdout, "the baseline's req/s is also the load generator's ceiling: a scenario whose ratio is near 1 measures the generator, not Roster\n")
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(report, "", "  ")
		if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// benchPreload fills a fresh database through the store, the same code
// path the server uses.
func benchPreload(ctx context.Context, path string, users, groups int) (*benchFixture, error) {
	st, err := sqlite.Open(path)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	t := &store.Tenant{Name: "default"}
	if err := st.CreateTenant(ctx, t); err != nil {
		return nil, err
	}
	secret, _, err := auth.MintToken(ctx, st, t.ID, "bench", time.Now())
	if err != nil {
		return nil, err
	}
	fx := &benchFixture{token: secret, tenant: t.ID, password: "bench-password-1"}
	hash, err := auth.HashPassword(fx.password)
	if err != nil {
		return nil, err
	}
	const reserve = 2000
	for i := range users + reserve {
		name := fmt.Sprintf("user%07d@bench.example", i)
		u := &store.User{TenantID: t.ID, UserName: name, DisplayName: fmt.Sprintf("User %d", i), Active: true,
			Name:   store.Name{GivenName: "User", FamilyName: strconv.Itoa(i)},
			Emails: []store.MultiValue{{Value: name, Type: "work", Primary: true}}}
		if i == 0 {
			u.PasswordHash = hash
		}
		if err := st.CreateUser(ctx, u); err != nil {
			return nil, err
		}
		if i < users {
			fx.userIDs = append(fx.userIDs, u.ID)
			fx.userNames = append(fx.userNames, name)
		} else {
			fx.reserve = append(fx.reserve, u.ID)
		}
	}
	for i := range groups {
		g := &store.Group{TenantID: t.ID, DisplayName: fmt.Sprintf("Group %d", i)}
		if err := st.CreateGroup(ctx, g); err != nil {
			return nil, err
		}
		switch i {
		case 0:
			fx.bigGroup = g.ID
			n := min(users, 100_000)
			for from := 0; from < n; from += 1000 {
				var ms []store.Member
				for _, id := range fx.userIDs[from:min(from+1000, n)] {
					ms = append(ms, store.Member{MemberID: id, Type: store.MemberUser})
				}
				if _, err := st.AddMembers(ctx, t.ID, g.ID, 0, ms); err != nil {
					return nil, err
				}
			}
		case 1:
			fx.smallGrp = g.ID
			var ms []store.Member
			for _, id := range fx.userIDs[:10] {
				ms = append(ms, store.Member{MemberID: id, Type: store.MemberUser})
			}
			if _, err := st.AddMembers(ctx, t.ID, g.ID, 0, ms); err != nil {
				return nil, err
			}
		}
	}
	prod := &store.Product{Code: "bench", Name: "Bench"}
	if err := st.CreateProduct(ctx, prod); err != nil {
		return nil, err
	}
	pool := &store.Pool{TenantID: t.ID, ProductID: prod.ID, Total: 10, Policy: store.PolicyDeny, AutoAssign: true}
	if err := st.CreatePool(ctx, pool); err != nil {
		return nil, err
	}
	// The pages an unfiltered list reads are written by the first reader
	// of each run after a write to it (store/sqlite/pages.go); a server
	// that has run a while has them for every run not written since.
	// Writing them now measures that server, not its first pass.
	return fx, st.BuildUserPages(ctx)
}

func benchScenarios(fx *benchFixture, users int) []benchScenario {
	// The first user signs in devices (device-login): the other scenarios
	// leave them alone, so PATCH active never makes them inactive.
	pick := func() int {
		if len(fx.userIDs) < 2 {
			return 0
		}
		return 1 + rand.IntN(len(fx.userIDs)-1)
	}
	var created atomic.Int64
	stamp := time.Now().UnixNano()
	member := func(group string) func(int) (string, string, []byte) {
		return func(i int) (string, string, []byte) {
			// Add a member from the reserve, then take it out again on the
			// next request for it: the group keeps its size.
			id := fx.reserve[i%len(fx.reserve)]
			op := `{"op":"add","path":"members","value":[{"value":"` + id + `"}]}`
			if (i/len(fx.reserve))%2 == 1 {
				op = `{"op":"remove","path":"members[value eq \"` + id + `\"]"}`
			}
			return "PATCH", "/scim/v2/Groups/" + group, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + op + `]}`)
		}
	}
	return []benchScenario{
		{name: "get", next: func(int) (string, string, []byte) { return "GET", "/scim/v2/Users/" + fx.userIDs[pick()], nil }},
		{name: "filter", next: func(int) (string, string, []byte) {
			return "GET", "/scim/v2/Users?filter=" + urlQueryEscape(`userName eq "`+fx.userNames[pick()]+`"`), nil
		}},
		{name: "list-100", next: func(int) (string, string, []byte) {
			return "GET", "/scim/v2/Users?count=100&startIndex=" + strconv.Itoa(1+rand.IntN(max(1, users-100))), nil
		}, prime: func(get func(string) error) error {
			// The tenant listed once whole, as a full sync or the
			// portal would: the first read of a page of users since
			// they were written renders and keeps it (store/sqlite
			// rendered.go), and a million users are more pages than
			// the warm-up reaches.
			for from := 1; from <= users; from += 1000 {
				if err := get("/scim/v2/Users?count=1000&startIndex=" + strconv.Itoa(from)); err != nil {
					return err
				}
			}
			return nil
		}},
		{name: "post", write: true, next: func(int) (string, string, []byte) {
			n := created.Add(1)
			return "POST", "/scim/v2/Users", []byte(fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"new%d-%d@bench.example","name":{"givenName":"New","familyName":"User"},"emails":[{"value":"new%d-%d@bench.example","type":"work","primary":true}],"active":true}`, stamp, n, stamp, n))
		}},
		{name: "patch-active", write: true, next: func(i int) (string, string, []byte) {
			return "PATCH", "/scim/v2/Users/" + fx.userIDs[pick()], []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":` + strconv.FormatBool(i%2 == 0) + `}]}`)
		}},
		{name: "patch-member-big", write: true, next: member(fx.bigGroup)},
		{name: "patch-member-10", write: true, next: member(fx.smallGrp)},
		{name: "bulk-100", write: true, next: func(int) (string, string, []byte) {
			var b strings.Builder
			b.WriteString(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[`)
			for j := range 100 {
				if j > 0 {
					b.WriteByte(',')
				}
				n := created.Add(1)
				fmt.Fprintf(&b, `{"method":"POST","path":"/Users","bulkId":"b%d","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bulk%d-%d@bench.example","active":true}}`, j, stamp, n)
			}
			b.WriteString(`]}`)
			return "POST", "/scim/v2/Bulk", []byte(b.String())
		}},
		{name: "device-login", write: true, next: func(i int) (string, string, []byte) {
			return "POST", "/api/v1/devices/login", []byte(`{"tenant":"default","userName":"` + fx.userNames[0] + `","password":"` + fx.password + `","deviceCode":"BENCH-1","product":"bench"}`)
		}},
	}
}

// baselineScenario sends the same method and body to the baseline.
func baselineScenario(s benchScenario) benchScenario {
	return benchScenario{name: s.name, write: s.write, next: func(i int) (string, string, []byte) {
		m, _, body := s.next(i)
		if !s.write {
			return "GET", "/Users/x", nil
		}
		return m, "/Users", body
	}}
}

// firstErr keeps the first failure of a scenario, printed under its row
// so a ratio built on errors is not mistaken for a result.
var firstErr atomic.Pointer[string]

type driveStats struct {
	n       int
	errors  int64
	elapsed time.Duration
	lat     []time.Duration
}

// drive runs conc workers against base for d and returns what they saw.
// benchGet makes one GET and wants 200.
func benchGet(ctx context.Context, client *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func drive(ctx context.Context, client *http.Client, base, token string, s benchScenario, conc int, d time.Duration) driveStats {
	var seq atomic.Int64
	var mu sync.Mutex
	var st driveStats
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var errs int64
			for time.Now().Before(deadline) && ctx.Err() == nil {
				method, path, body := s.next(int(seq.Add(1)))
				req, _ := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
				if body != nil {
					req.Header.Set("Content-Type", "application/scim+json")
				}
				if token != "" && strings.HasPrefix(path, "/scim/") {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs++
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				if resp.StatusCode >= 400 {
					errs++
					msg := fmt.Sprintf("%s %s: %s", method, path, resp.Status)
					firstErr.CompareAndSwap(nil, &msg)
				}
			}
			mu.Lock()
			st.lat = append(st.lat, lat...)
			st.errors += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	st.elapsed = time.Since(start)
	st.n = len(st.lat)
	return st
}

// driveCPU is drive, also returning the CPU time srv spent per request
// (µs; 0 when unknown).
func driveCPU(ctx context.Context, client *http.Client, srv *child, base, token string, s benchScenario, conc int, d time.Duration) (driveStats, float64) {
	before := srv.cpuTime()
	st := drive(ctx, client, base, token, s, conc, d)
	used := srv.cpuTime() - before
	if before == 0 || used <= 0 || st.n == 0 {
		return st, 0
	}
	return st, float64(used.Microseconds()) / float64(st.n)
}

// cpuTime is the CPU time the child's threads have run, from the
// scheduler's nanosecond counters (0 when unknown).
func (c *child) cpuTime() time.Duration {
	dir := fmt.Sprintf("/proc/%d/task", c.cmd.Process.Pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread exited
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			ns += n
		}
	}
	return time.Duration(ns)
}

func median(xs []float64) float64 {
	xs = slices.Sorted(slices.Values(xs))
	if len(xs)%2 == 0 {
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return xs[len(xs)/2]
}

func pct(lat []time.Duration, p int) float64 {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return float64(lat[(len(lat)-1)*p/100]) / float64(time.Millisecond)
}

func urlQueryEscape(s string) string {
	return strings.NewReplacer(" ", "%20", `"`, "%22", "@", "%40", "+", "%2B").Replace(s)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer within a minute", url)
}

type child struct {
	cmd  *exec.Cmd
	peak atomic.Int64 // kB
	done chan struct{}
}

// startChild runs self with args, on core 1 when pinned.
func startChild(ctx context.Context, pinned bool, self string, args, env []string) (*child, error) {
	var cmd *exec.Cmd
	if pinned {
		cmd = exec.CommandContext(ctx, "taskset", append([]string{"-c", "1", self}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, self, args...)
	}
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go c.watchRSS()
	return c, nil
}

// watchRSS samples the child's resident memory; the kernel's VmHWM is the
// peak, read last.
func (c *child) watchRSS() {
	for {
		select {
		case <-c.done:
			return
		case <-time.After(500 * time.Millisecond):
		}
		if kb := readStatusKB(c.cmd.Process.Pid, "VmHWM:"); kb > c.peak.Load() {
			c.peak.Store(kb)
		}
	}
}

func (c *child) peakRSSMB() float64 {
	if kb := readStatusKB(c.cmd.Process.Pid, "VmHWM:"); kb > c.peak.Load() {
		c.peak.Store(kb)
	}
	return float64(c.peak.Load()) / 1024
}

func readStatusKB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n
		}
	}
	return 0
}

func (c *child) stop() {
	close(c.done)
	_ = c.cmd.Process.Signal(os.Interrupt)
	waited := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-waited
	}
}

// benchProfileEnv, set on the server child by `roster bench --profile`,
// names a loopback address where the child serves its own CPU and heap
// profiles (see init below). Nothing else sets it.
const benchProfileEnv = "BENCH_ROSTER_PROFILE_ADDR" // not ROSTER_*: config refuses unknown ones

func init() {
	addr := os.Getenv(benchProfileEnv)
	if addr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/cpu", func(w http.ResponseWriter, r *http.Request) {
		sec, _ := strconv.Atoi(r.URL.Query().Get("seconds"))
		if err := pprof.StartCPUProfile(w); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		time.Sleep(time.Duration(max(sec, 1)) * time.Second)
		pprof.StopCPUProfile()
	})
	mux.HandleFunc("/heap", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		_ = pprof.Lookup("heap").WriteTo(w, 0)
	})
	go func() { _ = http.ListenAndServe(addr, mux) }()
}

// fetchProfile saves what url answers to file.
func fetchProfile(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

// baselineUser is the fixed ~600-byte SCIM User the baseline serves.
var baselineUser = []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"0193f0a8-1c2d-7e3f-8a4b-5c6d7e8f9a0b","externalId":"00u1abcd2EFGH3ijk4l5","userName":"barbara.jensen@example.com","name":{"formatted":"Ms. Barbara J Jensen","familyName":"Jensen","givenName":"Barbara"},"displayName":"Babs Jensen","active":true,"emails":[{"value":"barbara.jensen@example.com","type":"work","primary":true}],"phoneNumbers":[{"value":"+1 555 555 5555","type":"work"}],"meta":{"resourceType":"User","created":"2026-11-01T12:00:00.000Z","lastModified":"2026-11-01T12:00:00.000Z","location":"http://127.0.0.1/scim/v2/Users/0193f0a8-1c2d-7e3f-8a4b-5c6d7e8f9a0b","version":"W/\"1\""}}`)

// runBenchBaseline is the hidden `roster bench-baseline` child: the
// fastest server that answers like SCIM, to divide Roster's figures by.
func runBenchBaseline(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusOK
		if r.Method != http.MethodGet {
			_, _ = io.Copy(io.Discard, r.Body)
			status = http.StatusCreated
		}
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(status)
		_, _ = w.Write(baselineUser)
	})
	srv := &http.Server{Addr: *addr, Handler: mux}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "roster bench-baseline: %v\n", err)
		return exitFailure
	}
	return exitOK
}
