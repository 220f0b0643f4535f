package admin

import (
	"context"
	"log/slog"
	"time"

	"github.com/roster-scim/roster/store"
)

// Sampler is the portal's housekeeping: at an interval it records every
// pool's usage for the Licenses page's chart and deletes portal sessions
// past their absolute lifetime. Like the reconciler it takes a work lease
// first, so with many nodes one of them does it each round.
type Sampler struct {
	Store store.Store
	// Holder is this node's name in the lease.
	Holder string
	// Interval between samples (default DefaultSampleInterval).
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// DefaultSampleInterval gives a 30-day chart about 720 points per pool.
const DefaultSampleInterval = time.Hour

const sampleLease = "admin.pool-samples"

// Run samples until ctx ends, once at start and then every Interval.
func (s *Sampler) Run(ctx context.Context) {
	iv := s.Interval
	if iv <= 0 {
		iv = DefaultSampleInterval
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		if _, err := s.Once(ctx); err != nil && ctx.Err() == nil {
			s.logger().ErrorContext(ctx, "pool usage sampling failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Sampler) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Once takes one sample of every pool if this node holds the lease,
// returning how many it wrote.
func (s *Sampler) Once(ctx context.Context) (int, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	iv := s.Interval
	if iv <= 0 {
		iv = DefaultSampleInterval
	}
	// The lease outlives the interval a little: the holder samples every
	// round, and another node takes over only after it missed one.
	ok, err := s.Store.AcquireLease(ctx, sampleLease, s.Holder, now(), iv+iv/2)
	if err != nil || !ok {
		return 0, err
	}
	if _, err := s.Store.DeleteExpiredSessions(ctx, store.Timestamp(now())); err != nil {
		s.logger().WarnContext(ctx, "deleting ended portal sessions failed", "err", err)
	}
	tenants, err := s.Store.ListTenants(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range tenants {
		pools, err := s.Store.ListPools(ctx, t.ID)
		if err != nil {
			return n, err
		}
		for _, p := range pools {
			waiting, err := s.Store.ListAssignments(ctx, t.ID, store.AssignmentQuery{PoolID: p.ID, State: store.AssignWaiting})
			if err != nil {
				return n, err
			}
			sm := &store.PoolSample{TenantID: t.ID, PoolID: p.ID, At: store.Timestamp(now()), Total: p.Total,
				Assigned: p.Assigned, Overage: p.Overage, Waiting: len(waiting)}
			if err := s.Store.AddPoolSample(ctx, sm); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
