package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The long tests run with -long or ROSTER_LONG=1. TestMain clears ROSTER_*
// variables before the tests run, so they are read here, at package
// initialisation.
var (
	longFlag     = flag.Bool("long", false, "run the long tests (the load test)")
	longEnv      = os.Getenv("ROSTER_LONG") == "1"
	loadDuration = os.Getenv("ROSTER_LOAD_DURATION") // default 5m
)

func skipUnlessLong(t *testing.T) {
	t.Helper()
	if !*longFlag && !longEnv {
		t.Skip("long test: run with -long or ROSTER_LONG=1")
	}
}

// loadOp is one kind of request of the load test's mix.
type loadOp struct {
	name   string
	weight int
}

var loadMix = []loadOp{
	{"get", 45}, {"filter", 15}, {"list", 8}, {"create", 12}, {"patch", 12}, {"member", 8},
}

type loadSample struct {
	at  time.Duration // since the start
	dur time.Duration
	op  int
}

// TestLoad: minutes of mixed SCIM traffic from 3 tenants at 200 concurrent
// clients against one `roster serve` process. Zero 5xx, a bounded p99,
// and after warm-up the heap and the goroutines stay flat.
func TestLoad(t *testing.T) {
	skipUnlessLong(t)
	if raceEnabled {
		t.Skip("the load test measures the real program: run it without -race")
	}
	duration := 5 * time.Minute
	if loadDuration != "" {
		d, err := time.ParseDuration(loadDuration)
		if err != nil {
			t.Fatalf("ROSTER_LOAD_DURATION: %v", err)
		}
		duration = d
	}
	const clients, tenants, preload = 200, 3, 2000
	warmup := min(duration/5, time.Minute)

	dir := t.TempDir()
	cfg := writeConfigFile(t, "log:\n  level: warn\nscim:\n  rate_limit:\n    requests_per_second: 0\n")
	p := startProc(t, dir, nil, "--config", cfg)
	tokens := []string{p.token}
	for i := 1; i < tenants; i++ {
		name := fmt.Sprintf("load%d", i)
		if code, out, errOut := run("tenant", "create", name, "--data", dir, "--config", cfg); code != 0 {
			t.Fatalf("tenant create: %s %s", out, errOut)
		}
		_, out, _ := run("token", "create", "--tenant", name, "--data", dir, "--config", cfg)
		tokens = append(tokens, regexp.MustCompile(`rst_\S+`).FindString(out))
	}

	transport := &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2, DisableCompression: true}
	client := &http.Client{Transport: transport, Timeout: 60 * time.Second}
	do := func(token, method, path, body string) (int, []byte, error) {
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, p.url+"/scim/v2"+path, r)
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/scim+json")
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, b, err
	}
	idOf := func(b []byte) string {
		var r struct{ ID string }
		json.Unmarshal(b, &r)
		return r.ID
	}

	// Preload: users and groups per tenant, in parallel.
	type tenantData struct {
		users  []string // ids
		names  []string
		groups []string
	}
	data := make([]*tenantData, tenants)
	var pwg sync.WaitGroup
	start := time.Now()
	for ti := range tenants {
		data[ti] = &tenantData{users: make([]string, preload), names: make([]string, preload)}
		for w := range 8 {
			pwg.Add(1)
			go func() {
				defer pwg.Done()
				for i := w; i < preload; i += 8 {
					name := fmt.Sprintf("pre-%d-%d@load.example", ti, i)
					code, b, err := do(tokens[ti], "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+name+`","displayName":"Preloaded","emails":[{"value":"`+name+`","primary":true}]}`)
					if err != nil || code != 201 {
						t.Errorf("preload: %d %v %s", code, err, b)
						return
					}
					data[ti].users[i], data[ti].names[i] = idOf(b), name
				}
			}()
		}
		for g := range 5 {
			code, b, err := do(tokens[ti], "POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Team %d"}`, g))
			if err != nil || code != 201 {
				t.Fatalf("preload group: %d %v %s", code, err, b)
			}
			data[ti].groups = append(data[ti].groups, idOf(b))
		}
	}
	pwg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("preloaded %d users and %d groups in each of %d tenants in %s", preload, 5, tenants, time.Since(start).Round(time.Second))

	// Samples of the server's own gauges every few seconds.
	type gauge struct {
		at                  time.Duration
		heap, rss, routines float64
	}
	var gauges []gauge
	scrape := func(at time.Duration) {
		res, err := client.Get(p.url + "/metrics")
		if err != nil {
			t.Errorf("scrape: %v", err)
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		heap, _ := metricValue(t, string(b), "go_memstats_heap_inuse_bytes")
		rss, _ := metricValue(t, string(b), "process_resident_memory_bytes")
		gr, _ := metricValue(t, string(b), "go_goroutines")
		gauges = append(gauges, gauge{at, heap, rss, gr})
	}

	weights := 0
	for _, o := range loadMix {
		weights += o.weight
	}
	var (
		status    [6]atomic.Int64 // by status class
		errs      atomic.Int64
		created   atomic.Int64
		samplesMu sync.Mutex
		samples   []loadSample
		firstErrs []string
	)
	stop := make(chan struct{})
	begin := time.Now()
	scrape(0) // at rest
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ti := c % tenants
			td, token := data[ti], tokens[ti]
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			var mine []loadSample
			var own []string // users this client created, for PATCHes
			defer func() {
				samplesMu.Lock()
				samples = append(samples, mine...)
				samplesMu.Unlock()
			}()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				pick, op := rng.IntN(weights), 0
				for pick >= loadMix[op].weight {
					pick -= loadMix[op].weight
					op++
				}
				i := rng.IntN(preload)
				var method, path, body string
				switch loadMix[op].name {
				case "get":
					method, path = "GET", "/Users/"+td.users[i]
				case "filter":
					method, path = "GET", "/Users?filter=userName%20eq%20%22"+td.names[i]+"%22"
				case "list":
					method, path = "GET", fmt.Sprintf("/Users?startIndex=%d&count=100", 1+rng.IntN(preload-100))
				case "create":
					method, path = "POST", "/Users"
					body = fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"c%d-%d@load.example","name":{"givenName":"Load","familyName":"Test"},"emails":[{"value":"c%d-%d@load.example","primary":true}]}`, c, n, c, n)
				case "patch":
					id := td.users[i]
					if len(own) > 0 && rng.IntN(2) == 0 {
						id = own[rng.IntN(len(own))]
					}
					method, path = "PATCH", "/Users/"+id
					body = fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"patched %d"},{"op":"replace","path":"active","value":%v}]}`, n, rng.IntN(4) != 0)
				case "member":
					verb := "add"
					if rng.IntN(2) == 0 {
						verb = "remove"
					}
					method, path = "PATCH", "/Groups/"+td.groups[rng.IntN(len(td.groups))]
					if verb == "add" {
						body = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + td.users[i] + `"}]}]}`
					} else {
						body = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"` + td.users[i] + `\"]"}]}`
					}
				}
				t0 := time.Now()
				code, b, err := do(token, method, path, body)
				d := time.Since(t0)
				if err != nil {
					errs.Add(1)
					samplesMu.Lock()
					if len(firstErrs) < 5 {
						firstErrs = append(firstErrs, fmt.Sprintf("%s %s: %v", method, path, err))
					}
					samplesMu.Unlock()
					continue
				}
				status[min(code/100, 5)].Add(1)
				if code >= 500 || code == 400 || code == 404 {
					samplesMu.Lock()
					if len(firstErrs) < 5 {
						firstErrs = append(firstErrs, fmt.Sprintf("%s %s: %d %.200s", method, path, code, b))
					}
					samplesMu.Unlock()
				}
				if code == 201 {
					created.Add(1)
					if len(own) < 100 {
						own = append(own, idOf(b))
					}
				}
				mine = append(mine, loadSample{at: t0.Sub(begin), dur: d, op: op})
			}
		}()
	}
	tick := time.NewTicker(5 * time.Second)
	for deadline := time.After(duration); ; {
		select {
		case <-tick.C:
			scrape(time.Since(begin))
			continue
		case <-deadline:
		}
		break
	}
	tick.Stop()
	close(stop)
	wg.Wait()
	scrape(time.Since(begin))
	elapsed := time.Since(begin)

	// Latencies after warm-up, overall and by operation.
	pct := func(ds []time.Duration, q float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		slices.Sort(ds)
		return ds[min(len(ds)-1, int(float64(len(ds))*q))]
	}
	var all []time.Duration
	byOp := make([][]time.Duration, len(loadMix))
	for _, s := range samples {
		if s.at < warmup {
			continue
		}
		all = append(all, s.dur)
		byOp[s.op] = append(byOp[s.op], s.dur)
	}
	total := int64(0)
	for i := range status {
		total += status[i].Load()
	}
	var report strings.Builder
	fmt.Fprintf(&report, "load: %s, %d clients, %d tenants: %d requests (%.0f/s), 2xx %d, 3xx %d, 4xx %d, 5xx %d, transport errors %d, users created %d\n",
		elapsed.Round(time.Second), clients, tenants, total, float64(total)/elapsed.Seconds(),
		status[2].Load(), status[3].Load(), status[4].Load(), status[5].Load(), errs.Load(), created.Load())
	p99 := pct(all, 0.99)
	fmt.Fprintf(&report, "after %s warm-up: p50 %s p99 %s p99.9 %s max %s\n", warmup,
		pct(all, 0.5).Round(time.Microsecond), p99.Round(time.Microsecond), pct(all, 0.999).Round(time.Microsecond), pct(all, 1).Round(time.Microsecond))
	for i, o := range loadMix {
		fmt.Fprintf(&report, "  %-7s %7d  p50 %-10s p99 %s\n", o.name, len(byOp[i]), pct(byOp[i], 0.5).Round(time.Microsecond), pct(byOp[i], 0.99).Round(time.Microsecond))
	}

	// Flatness: the second half after warm-up against the first half.
	var first, second []gauge
	mid := warmup + (elapsed-warmup)/2
	for _, g := range gauges {
		switch {
		case g.at < warmup:
		case g.at < mid:
			first = append(first, g)
		default:
			second = append(second, g)
		}
	}
	peak := func(gs []gauge, f func(gauge) float64) float64 {
		m := 0.0
		for _, g := range gs {
			m = max(m, f(g))
		}
		return m
	}
	heap := func(g gauge) float64 { return g.heap }
	rss := func(g gauge) float64 { return g.rss }
	routines := func(g gauge) float64 { return g.routines }
	const mb = 1 << 20
	fmt.Fprintf(&report, "heap in use peak %.0f MB then %.0f MB; RSS peak %.0f MB then %.0f MB; goroutines peak %.0f then %.0f (at rest before: %.0f, after: %.0f)\n",
		peak(first, heap)/mb, peak(second, heap)/mb, peak(first, rss)/mb, peak(second, rss)/mb,
		peak(first, routines), peak(second, routines), gauges[0].routines, gauges[len(gauges)-1].routines)
	t.Log(report.String())
	for _, e := range firstErrs {
		t.Log("first errors: " + e)
	}

	if n := status[5].Load(); n > 0 {
		t.Errorf("%d requests answered 5xx", n)
	}
	if n := errs.Load(); n > 0 {
		t.Errorf("%d requests failed in transport", n)
	}
	if p99 > 2*time.Second {
		t.Errorf("p99 %s after warm-up, want at most 2s", p99)
	}
	if len(first) == 0 || len(second) == 0 {
		t.Fatalf("too few gauge samples (%d) to judge flatness", len(gauges))
	}
	if a, b := peak(first, heap), peak(second, heap); b > a*1.25+32*mb {
		t.Errorf("heap grew after warm-up: peak %.0f MB, then %.0f MB", a/mb, b/mb)
	}
	if a, b := peak(first, routines), peak(second, routines); b > a+50 {
		t.Errorf("goroutines grew after warm-up: peak %.0f, then %.0f", a, b)
	}
	// Once the clients are gone the goroutines go too (idle keep-alive
	// connections aside, which the client still holds).
	transport.CloseIdleConnections()
	time.Sleep(2 * time.Second)
	scrape(time.Since(begin))
	if end := gauges[len(gauges)-1].routines; end > gauges[0].routines+20 {
		t.Errorf("goroutines after the load: %.0f, before: %.0f", end, gauges[0].routines)
	}
	p.stop()
}
