package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roster-scim/roster/store"
)

// stateCollector reports what is in the store rather than what this
// process did: seats per pool, the e-mail outbox and the import queue.
// It reads the store when scraped, at most once per refresh interval and
// within bounds (tenants, rows read, time), so a scrape every few
// seconds or a huge installation cannot turn /metrics into load. The
// values are the cluster's, the same on every node: aggregate them with
// max(), not sum().
type stateCollector struct {
	st  store.Store
	log *slog.Logger
	now func() time.Time

	// Bounds of one refresh.
	every      time.Duration // reuse a refresh this long
	timeout    time.Duration
	maxTenants int
	maxOutbox  int // messages read per tenant

	mu   sync.Mutex
	at   time.Time
	last []prometheus.Metric
}

var (
	descPoolTotal = prometheus.NewDesc("roster_pool_seats",
		"Seats a pool holds (its total).", []string{"tenant", "product"}, nil)
	descPoolAssigned = prometheus.NewDesc("roster_pool_seats_assigned",
		"Seats of a pool held by active assignments (never above roster_pool_seats).", []string{"tenant", "product"}, nil)
	descPoolOverage = prometheus.NewDesc("roster_pool_seats_overage",
		"Assignments granted beyond a pool's total under the allow-over policy.", []string{"tenant", "product"}, nil)
	descOutboxQueued = prometheus.NewDesc("roster_outbox_queued_messages",
		"E-mails and text messages waiting to be delivered (at most storage's read bound per tenant).", nil, nil)
	descOutboxOldest = prometheus.NewDesc("roster_outbox_oldest_queued_age_seconds",
		"Age of the oldest queued message seen; 0 when the outbox is empty.", nil, nil)
	descImportJobs = prometheus.NewDesc("roster_import_jobs",
		"Import jobs not finished yet, by state.", []string{"state"}, nil)
	descImportRows = prometheus.NewDesc("roster_import_rows_pending",
		"Rows of unfinished import jobs not processed yet.", nil, nil)
	descStateComplete = prometheus.NewDesc("roster_state_complete",
		"1 when the last store read for the roster_pool_*, roster_outbox_* and roster_import_* gauges covered every tenant in time, 0 when a bound cut it short.", nil, nil)
	descStateDuration = prometheus.NewDesc("roster_state_refresh_duration_seconds",
		"How long the last store read for the state gauges took.", nil, nil)
)

func newStateCollector(st store.Store, log *slog.Logger) *stateCollector {
	return &stateCollector{st: st, log: log, now: time.Now,
		every: 15 * time.Second, timeout: 5 * time.Second, maxTenants: 1000, maxOutbox: 1000}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPoolTotal, descPoolAssigned, descPoolOverage, descOutboxQueued,
		descOutboxOldest, descImportJobs, descImportRows, descStateComplete, descStateDuration} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil || c.now().Sub(c.at) >= c.every {
		c.last = c.read()
		c.at = c.now()
	}
	for _, m := range c.last {
		ch <- m
	}
}

// read takes one snapshot. Whatever it could not read in time is left
// out and roster_state_complete says so.
func (c *stateCollector) read() []prometheus.Metric {
	start := c.now()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	complete := true
	fail := func(what string, err error) {
		complete = false
		c.log.WarnContext(ctx, "metrics: reading state", "what", what, "err", err)
	}
	var out []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...))
	}

	tenants, err := c.st.ListTenants(ctx)
	if err != nil {
		fail("tenants", err)
	}
	if len(tenants) > c.maxTenants {
		tenants, complete = tenants[:c.maxTenants], false
	}
	products := map[string]string{} // id -> code
	if ps, err := c.st.ListProducts(ctx); err != nil {
		fail("products", err)
	} else {
		for _, p := range ps {
			products[p.ID] = p.Code
		}
	}
	var queued, jobsQueued, jobsRunning, rows int
	var oldest time.Time
	for _, t := range tenants {
		if ctx.Err() != nil {
			complete = false
			break
		}
		pools, err := c.st.ListPools(ctx, t.ID)
		if err != nil {
			fail("pools", err)
		}
		for _, p := range pools {
			product := products[p.ProductID]
			if product == "" {
				product = p.ProductID
			}
			gauge(descPoolTotal, float64(p.Total), t.Name, product)
			gauge(descPoolAssigned, float64(p.Assigned), t.Name, product)
			gauge(descPoolOverage, float64(p.Overage), t.Name, product)
		}
		msgs, err := c.st.ListOutbox(ctx, t.ID, c.maxOutbox)
		if err != nil {
			fail("outbox", err)
		}
		if len(msgs) == c.maxOutbox {
			complete = false // older ones were not read
		}
		for _, m := range msgs {
			if m.State == store.OutboxQueued {
				queued++
				if oldest.IsZero() || m.CreatedAt.Before(oldest) {
					oldest = m.CreatedAt
				}
			}
		}
		jobs, err := c.st.ListImportJobs(ctx, t.ID)
		if err != nil {
			fail("imports", err)
		}
		for _, j := range jobs {
			switch j.State {
			case store.JobQueued:
				jobsQueued++
			case store.JobRunning:
				jobsRunning++
			default:
				continue
			}
			rows += max(j.Total-j.Done-j.Failed, 0)
		}
	}
	gauge(descOutboxQueued, float64(queued))
	age := 0.0
	if !oldest.IsZero() {
		age = max(c.now().Sub(oldest).Seconds(), 0)
	}
	gauge(descOutboxOldest, age)
	gauge(descImportJobs, float64(jobsQueued), store.JobQueued)
	gauge(descImportJobs, float64(jobsRunning), store.JobRunning)
	gauge(descImportRows, float64(rows))
	done := 0.0
	if complete {
		done = 1
	}
	gauge(descStateComplete, done)
	gauge(descStateDuration, c.now().Sub(start).Seconds())
	return out
}
