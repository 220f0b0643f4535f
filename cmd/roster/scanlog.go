package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/roster-scim/roster/store"
	"github.com/roster-scim/roster/store/filter"
)

// observeFilterScans makes the backend's fallbacks visible (DESIGN §3): a
// filter its indexes cannot answer is evaluated in Go over a bounded scan,
// and each such request is counted and logged with the filter's shape
// (values are personal data, so never them). Info when it was answered,
// warn when it was refused for reading more than the scan bound.
func observeFilterScans(st store.Store, m *metrics, log *slog.Logger) {
	o, ok := st.(interface{ ObserveFilterScans(filter.ScanObserver) })
	if !ok {
		return
	}
	fallbacks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_filter_scan_fallbacks_total",
		Help: "List requests whose filter had a part no index answers, evaluated in Go over a bounded scan, by resource (User, Group) and outcome (scanned, refused: more candidates than the bound).",
	}, []string{"resource", "outcome"})
	scanned := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roster_filter_scan_records_total",
		Help: "Records read by those scans, by resource.",
	}, []string{"resource"})
	for _, r := range []string{store.MemberUser, store.MemberGroup} {
		fallbacks.WithLabelValues(r, "scanned") // present at 0 from the start
		fallbacks.WithLabelValues(r, "refused")
		scanned.WithLabelValues(r)
	}
	m.reg.MustRegister(fallbacks, scanned)
	o.ObserveFilterScans(func(ctx context.Context, s filter.Scan) {
		outcome, level := "scanned", slog.LevelInfo
		if s.Refused {
			outcome, level = "refused", slog.LevelWarn
		}
		fallbacks.WithLabelValues(s.Resource, outcome).Inc()
		scanned.WithLabelValues(s.Resource).Add(float64(s.Scanned))
		log.Log(ctx, level, "filter answered by a scan: some of its attributes have no index",
			"resource", s.Resource, "filter", s.Filter, "unindexed", s.Unindexed, "scanned", s.Scanned, "refused", s.Refused)
	})
}
