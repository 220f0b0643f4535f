package licensing

import (
	"context"
	"time"
)

// Reconciler periodically reprocesses every tenant. It takes a work lease
// first, so with many nodes one of them does the work each round and
// another takes over when that node dies.
type Reconciler struct {
	Engine   *Engine
	Holder   string        // this node's name in the lease
	Interval time.Duration // between rounds
}

const reconcileLease = "licensing.reconcile"

// Run loops until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.Once(ctx)
		}
	}
}

// Once runs one round if this node gets the lease, reporting whether it
// did and how many pool counters it corrected.
func (r *Reconciler) Once(ctx context.Context) (ran bool, fixed int) {
	e := r.Engine
	ok, err := e.st.AcquireLease(ctx, reconcileLease, r.Holder, e.now(), 2*r.Interval+time.Minute)
	if err != nil || !ok {
		if err != nil {
			e.log.ErrorContext(ctx, "reconciler lease", "err", err)
		}
		return false, 0
	}
	tenants, err := e.st.ListTenants(ctx)
	if err != nil {
		e.log.ErrorContext(ctx, "reconciler list tenants", "err", err)
		return true, 0
	}
	for _, t := range tenants {
		n, err := e.Reprocess(ctx, t.ID, System)
		fixed += n
		if err != nil {
			e.log.ErrorContext(ctx, "reconcile tenant", "tenant", t.ID, "err", err)
		}
		if n > 0 {
			e.log.WarnContext(ctx, "reconciler corrected seat counts", "tenant", t.ID, "seats", n)
		}
	}
	return true, fixed
}
