package admin

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

// licensesData is the Licenses page: one card per pool.
type licensesData struct {
	Cards        []poolCard
	ReprocessURL string
	GroupsURL    string
}

type poolCard struct {
	ID, Product             string
	Total, Assigned, Free   int
	Overage                 int
	StartsAt, EndsAt        time.Time
	Ended, NotStarted       bool
	Policy                  string
	DevicesPerSeat          int
	AutoAssign              bool
	Waiting                 []waitRow
	WaitingCount            int
	Rules                   []ruleRow
	Chart                   template.HTML
	ChartText               string
	Requests                []*store.SeatRequest
	RequestURL, ResizeURL   string
	UsedPercent, FreeStatus string
}

type waitRow struct {
	Name, URL, Reason string
	Since             time.Time
}

// chartDays is how much history the usage chart shows.
const chartDays = 30

func (s *server) licensesPage(c *rc) error {
	k, err := s.catalog(c.ctx(), c.tenant.ID)
	if err != nil {
		return err
	}
	rules, err := s.st.ListRules(c.ctx(), c.tenant.ID)
	if err != nil {
		return err
	}
	requests, err := s.st.ListSeatRequests(c.ctx(), c.tenant.ID, "")
	if err != nil {
		return err
	}
	d := &licensesData{ReprocessURL: c.T("reprocess"), GroupsURL: c.T("groups")}
	now := s.now()
	for _, p := range k.Pools {
		card, err := s.poolCard(c, k, p, now)
		if err != nil {
			return err
		}
		for _, r := range rules {
			if r.PoolID == p.ID {
				card.Rules = append(card.Rules, ruleRow{ID: r.ID, Pool: s.groupName(c, r.GroupID), RemoveURL: c.T("rules", r.ID, "delete")})
			}
		}
		for _, r := range requests {
			if r.PoolID == p.ID && (r.State == store.RequestPending || now.Sub(r.DecidedAt) < 14*24*time.Hour) {
				card.Requests = append(card.Requests, r)
			}
		}
		d.Cards = append(d.Cards, card)
	}
	return c.show("licenses", "Licenses", "licenses", d)
}

// poolCard is what the Licenses and Devices & Licenses pages show of a
// pool: the seeds' total / assigned / unassigned / end date, plus the
// overage, the waiting list and the usage chart.
func (s *server) poolCard(c *rc, k *catalog, p *store.Pool, now time.Time) (poolCard, error) {
	card := poolCard{ID: p.ID, Product: k.ProductName(p.ProductID), Total: p.Total, Assigned: p.Assigned, Free: max(0, p.Unassigned()),
		Overage: p.Overage, StartsAt: p.StartsAt, EndsAt: p.EndsAt, Ended: !p.EndsAt.IsZero() && !now.Before(p.EndsAt),
		NotStarted: !p.StartsAt.IsZero() && now.Before(p.StartsAt), Policy: p.Policy, DevicesPerSeat: p.MaxDevicesPerSeat,
		AutoAssign: p.AutoAssign, RequestURL: c.T("pools", p.ID, "request")}
	if c.operator() {
		card.ResizeURL = c.T("pools", p.ID, "resize")
	}
	waiting, err := s.waitingHead(c, p.ID)
	if err != nil {
		return card, err
	}
	card.WaitingCount = waiting.total
	for _, a := range waiting.first {
		row := waitRow{Name: a.UserID, URL: c.T("users", a.UserID) + "?tab=licenses#panel", Reason: a.Reason, Since: a.CreatedAt}
		if u, err := s.st.GetUser(c.ctx(), c.tenant.ID, a.UserID); err == nil {
			row.Name = u.UserName
		}
		if row.Reason == "" {
			row.Reason = "no seats"
		}
		card.Waiting = append(card.Waiting, row)
	}
	samples, err := s.st.PoolSamples(c.ctx(), c.tenant.ID, p.ID, now.Add(-chartDays*24*time.Hour))
	if err != nil {
		return card, err
	}
	if len(samples) == 0 {
		return card, nil // no history yet: the page says so
	}
	// The chart always ends with the pool as it is now.
	samples = append(samples, &store.PoolSample{TenantID: p.TenantID, PoolID: p.ID, At: now, Total: p.Total,
		Assigned: p.Assigned, Overage: p.Overage, Waiting: waiting.total})
	card.Chart, card.ChartText = usageChart(card.Product, samples, now)
	return card, nil
}

// waitingShown is how much of a pool's waiting list its card lists.
const waitingShown = 20

type waitingList struct {
	first []*store.Assignment // the oldest, at most waitingShown
	total int
}

// waitingHead reads the head of a pool's waiting list and its length:
// from the store where it offers that (store.WaitingLister), else from
// every waiting assignment.
func (s *server) waitingHead(c *rc, poolID string) (waitingList, error) {
	if wl, ok := s.st.(store.WaitingLister); ok {
		first, total, err := wl.ListWaiting(c.ctx(), c.tenant.ID, poolID, waitingShown)
		// A wrapper around the store (roster serve's metrics) offers
		// the method whatever its backend does.
		if !errors.Is(err, errors.ErrUnsupported) {
			return waitingList{first, total}, err
		}
	}
	all, err := s.st.ListAssignments(c.ctx(), c.tenant.ID, store.AssignmentQuery{PoolID: poolID, State: store.AssignWaiting})
	if err != nil {
		return waitingList{}, err
	}
	slices.SortFunc(all, func(a, b *store.Assignment) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return waitingList{all[:min(len(all), waitingShown)], len(all)}, nil
}

func (s *server) reprocess(c *rc) error {
	fixed, err := s.eng.Reprocess(c.ctx(), c.tenant.ID, c.actor())
	if err != nil {
		return err
	}
	s.audit(c, "pool.reprocess", "tenant", c.tenant.ID, "", "", fmt.Sprintf("%d counters corrected", fixed))
	msg := "Licenses were reprocessed: every rule and seat count is up to date."
	if fixed > 0 {
		msg += fmt.Sprintf(" %d seat counts were corrected.", fixed)
	}
	return c.redirect(c.T("licenses"), msg)
}

// seatRequestCreate records a tenant admin's "Request seats" and tells
// the operators.
func (s *server) seatRequestCreate(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	back := c.T("licenses")
	pool, err := s.st.GetPool(c.ctx(), c.tenant.ID, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(c.val("seats"))
	if err != nil || n < 1 || n > 100000 {
		return c.back(back+"#pool-"+pool.ID, invalid("Enter how many more seats you need, from 1 to 100,000."), "")
	}
	note := c.val("note")
	if len(note) > 1000 {
		note = note[:1000]
	}
	who := c.sess.Email
	if who == "" {
		who = c.sess.Subject
	}
	now := store.Timestamp(s.now())
	r := &store.SeatRequest{TenantID: c.tenant.ID, ID: store.NewID(), PoolID: pool.ID, Seats: n, Note: note,
		State: store.RequestPending, RequestedBy: who, CreatedAt: now}
	if err := s.st.CreateSeatRequest(c.ctx(), r); err != nil {
		return err
	}
	product := s.poolLabel(c, pool.ID)
	s.audit(c, "seat-request.create", "pool", pool.ID, "", fmt.Sprintf(`{"seats":%d}`, n), note)
	if s.roles != nil {
		for _, to := range s.roles.Config.OperatorEmails {
			m := &store.OutboxMessage{TenantID: c.tenant.ID, ID: store.NewID(), Channel: "email", To: to,
				Subject: fmt.Sprintf("%s asks for %d more seats of %s", c.tenant.Name, n, product),
				Text: fmt.Sprintf("%s of %s asks for %d more seats of %s (now %d).\n\nNote: %s\n\nDecide in the portal: %s%s/op/requests\n",
					who, c.tenant.Name, n, product, pool.Total, note, s.public, s.base),
				State: store.OutboxQueued, NextAttemptAt: now, CreatedAt: now}
			if err := s.st.Enqueue(c.ctx(), m); err != nil {
				s.log.ErrorContext(c.ctx(), "admin: queue seat request e-mail", "err", err)
			}
		}
	}
	return c.redirect(back+"#pool-"+pool.ID, fmt.Sprintf("Your request for %d more seats of %s was sent to the operator.", n, product))
}

// poolResize is the operators' resize on the Licenses page (tenant
// admins request seats instead).
func (s *server) poolResize(c *rc) error {
	if !c.operator() {
		return &userError{http.StatusForbidden, "Operators only", "Only operators change a pool's size; use Request seats."}
	}
	if err := c.form(); err != nil {
		return err
	}
	back := c.T("licenses") + "#pool-" + c.r.PathValue("id")
	if ret := c.r.FormValue("return"); ret == "pools" {
		back = s.base + "/op/tenants/" + c.tenant.ID + "/pools"
	}
	n, err := strconv.Atoi(c.val("total"))
	if err != nil || n < 0 {
		return c.back(back, invalid("Enter the new total number of seats (0 or more)."), "")
	}
	return c.back(back, s.eng.Resize(c.ctx(), c.tenant.ID, c.r.PathValue("id"), n, c.actor()), fmt.Sprintf("The pool now has %d seats.", n))
}

// usageChart draws a pool's usage as an SVG line chart, server-side so
// it needs no script: total seats (dashed), assigned (filled) and the
// waiting list. It returns the SVG and a sentence saying the same for
// screen readers and text browsers.
func usageChart(product string, samples []*store.PoolSample, now time.Time) (template.HTML, string) {
	const w, h, left, right, top, bottom = 480.0, 180.0, 40.0, 10.0, 14.0, 26.0
	from := now.Add(-chartDays * 24 * time.Hour)
	samples = downsample(samples, 160)
	maxY := 1
	for _, s := range samples {
		maxY = max(maxY, s.Total, s.Assigned+s.Overage, s.Waiting)
	}
	maxY = niceCeil(maxY)
	x := func(t time.Time) float64 {
		f := float64(t.Sub(from)) / float64(now.Sub(from))
		return left + max(0, min(1, f))*(w-left-right)
	}
	y := func(v int) float64 { return top + (1-float64(v)/float64(maxY))*(h-top-bottom) }
	line := func(v func(*store.PoolSample) int) string {
		var b strings.Builder
		for i, s := range samples {
			if i == 0 {
				fmt.Fprintf(&b, "M%.1f %.1f", x(s.At), y(v(s)))
				continue
			}
			// Steps, not slopes: a count holds until the next sample.
			fmt.Fprintf(&b, " H%.1f V%.1f", x(s.At), y(v(s)))
		}
		fmt.Fprintf(&b, " H%.1f", x(now))
		return b.String()
	}
	used := func(s *store.PoolSample) int { return s.Assigned + s.Overage }
	area := line(used) + fmt.Sprintf(" V%.1f H%.1f Z", y(0), x(samples[0].At))
	last := samples[len(samples)-1]
	text := fmt.Sprintf("%s over the last %d days: now %d of %d seats in use, %d waiting; at most %d in use.",
		product, chartDays, used(last), last.Total, last.Waiting, peak(samples, used))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, w, h, template.HTMLEscapeString(text))
	for _, v := range []int{0, maxY / 2, maxY} {
		fmt.Fprintf(&b, `<line class="grid" x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f"/><text class="axis" x="%.0f" y="%.1f" text-anchor="end">%d</text>`,
			left, w-right, y(v), y(v), left-6, y(v)+4, v)
	}
	fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.0f">%s</text><text class="axis" x="%.0f" y="%.0f" text-anchor="end">today</text>`,
		left, h-6, from.UTC().Format("2 Jan"), w-right, h-6)
	fmt.Fprintf(&b, `<path class="used" d="%s"/>`, area)
	fmt.Fprintf(&b, `<path class="used-line" d="%s"/>`, line(used))
	fmt.Fprintf(&b, `<path class="total" d="%s"/>`, line(func(s *store.PoolSample) int { return s.Total }))
	if peak(samples, func(s *store.PoolSample) int { return s.Waiting }) > 0 {
		fmt.Fprintf(&b, `<path class="waiting" d="%s"/>`, line(func(s *store.PoolSample) int { return s.Waiting }))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), text
}

func peak(samples []*store.PoolSample, v func(*store.PoolSample) int) int {
	m := 0
	for _, s := range samples {
		m = max(m, v(s))
	}
	return m
}

// downsample keeps at most n samples, each the busiest of its stretch, so
// a chart of months of five-minute samples stays a few KB and peaks stay
// visible.
func downsample(samples []*store.PoolSample, n int) []*store.PoolSample {
	if len(samples) <= n {
		return samples
	}
	out := make([]*store.PoolSample, 0, n)
	per := float64(len(samples)) / float64(n)
	for i := range n {
		lo, hi := int(float64(i)*per), int(float64(i+1)*per)
		best := samples[lo]
		for _, s := range samples[lo:hi] {
			if s.Assigned+s.Overage > best.Assigned+best.Overage {
				best = s
			}
		}
		out = append(out, best)
	}
	out[len(out)-1] = samples[len(samples)-1]
	return out
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten, for axis labels.
func niceCeil(v int) int {
	p := 1
	for {
		for _, m := range []int{1, 2, 5} {
			if m*p >= v {
				return m * p
			}
		}
		p *= 10
	}
}
