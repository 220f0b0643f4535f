package licensing

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

// Engine applies license rules and admin seat operations. It is safe for
// concurrent use and holds no state of its own: any number of nodes may run
// one over the same store.
type Engine struct {
	st   store.Store
	now  func() time.Time
	log  *slog.Logger
	mail MailTemplates
}

// MailTemplates render the access-change e-mail (notify.Templates, message
// "access-change").
type MailTemplates interface {
	Render(name string, data map[string]string) (subject, text, html string, err error)
}

// WithMail renders access-change e-mails from templates; without it they
// are a bare subject and one sentence.
func WithMail(m MailTemplates) Option { return func(e *Engine) { e.mail = m } }

// Option configures an Engine.
type Option func(*Engine)

// WithClock replaces time.Now (tests, expiry).
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// WithLogger sets the logger for background work.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// New returns an engine over st.
func New(st store.Store, opts ...Option) *Engine {
	e := &Engine{st: st, now: time.Now, log: slog.Default()}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Actor says who made a change, for the audit log ("scim:<tokenID>",
// "admin:<subject>", "import:<jobID>", "system").
type Actor string

// System is the actor of rule-driven and reconciler changes.
const System Actor = "system"

// maxNesting bounds group nesting walks; deeper (or cyclic) structures stop
// there rather than loop.
const maxNesting = 32

// SyncUser converges one user's assignments to what the rules, their group
// memberships (direct and nested), their direct assignments and their
// active flag say. Doors call it after creating, updating or reactivating a
// user; it is idempotent.
func (e *Engine) SyncUser(ctx context.Context, tenantID, userID string, actor Actor) error {
	rules, err := e.st.ListRules(ctx, tenantID)
	if err != nil {
		return err
	}
	have, err := e.st.ListAssignments(ctx, tenantID, store.AssignmentQuery{UserID: userID})
	if err != nil {
		return err
	}
	if len(rules) == 0 && len(have) == 0 {
		// No rule can grant a seat and the user holds none: nothing to
		// converge, so neither the user nor their groups need reading.
		return nil
	}
	u, err := e.st.GetUser(ctx, tenantID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted: the store's cascade already returned its seats
	}
	if err != nil {
		return err
	}
	want := map[string][]string{} // pool -> group sources
	if len(rules) > 0 {
		groups, err := e.ancestors(ctx, tenantID, userID)
		if err != nil {
			return err
		}
		for _, r := range rules {
			if groups[r.GroupID] {
				want[r.PoolID] = append(want[r.PoolID], store.GroupSource(r.GroupID))
			}
		}
	}
	freed := map[string]bool{}
	var errs []error
	for _, a := range have {
		for _, src := range a.Sources {
			if strings.HasPrefix(src, "group:") && !slices.Contains(want[a.PoolID], src) {
				left, err := e.st.ReleaseSource(ctx, tenantID, a.PoolID, userID, src)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if left == nil {
					e.record(ctx, tenantID, actor, "seat.release", u, a.PoolID, "left the last group granting it")
					if a.State == store.AssignActive {
						freed[a.PoolID] = true
						e.seatMail(ctx, u, SeatRemoved, a.PoolID, "Your seat of %s was removed: you are no longer in a group that grants it.")
					}
				}
			}
		}
	}
	if !u.Active {
		for _, a := range have {
			if a.State == store.AssignActive {
				if err := e.st.Suspend(ctx, tenantID, a.PoolID, userID, "user inactive"); err != nil && !errors.Is(err, store.ErrNotFound) {
					errs = append(errs, err)
					continue
				}
				freed[a.PoolID] = true
				e.record(ctx, tenantID, actor, "seat.suspend", u, a.PoolID, "user inactive")
			}
		}
	} else {
		byPool := map[string]*store.Assignment{}
		for _, a := range have {
			byPool[a.PoolID] = a
		}
		for poolID, sources := range want {
			a := byPool[poolID]
			if a != nil && a.State == store.AssignActive && containsAll(a.Sources, sources) {
				continue
			}
			// A seat already held (another source adds to it) is no news.
			held := a != nil && a.State == store.AssignActive
			if err := e.claim(ctx, tenantID, poolID, u, sources, actor, !held); err != nil {
				errs = append(errs, err)
			}
		}
		// Suspended or waiting seats with only direct sources come back too.
		for _, a := range have {
			if _, ruled := want[a.PoolID]; ruled || a.State == store.AssignActive {
				continue
			}
			if slices.Contains(a.Sources, store.SourceDirect) {
				if err := e.claim(ctx, tenantID, a.PoolID, u, []string{store.SourceDirect}, actor, true); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	for poolID := range freed {
		if err := e.promoteWaiting(ctx, tenantID, poolID); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// claim asks for a seat. A full pool is not an error here: the assignment
// waits with its reason, which is the outcome a rule asks for.
func (e *Engine) claim(ctx context.Context, tenantID, poolID string, u *store.User, sources []string, actor Actor, announce bool) error {
	a := &store.Assignment{TenantID: tenantID, PoolID: poolID, UserID: u.ID, Sources: sources}
	err := e.st.ClaimSeat(ctx, a, e.now())
	switch {
	case err == nil:
		e.record(ctx, tenantID, actor, "seat.assign", u, poolID, strings.Join(sources, ","))
		if announce {
			e.seatMail(ctx, u, SeatAssigned, poolID, "You now have a seat of %s.")
		}
		return nil
	case errors.Is(err, store.ErrNoSeats):
		e.record(ctx, tenantID, actor, "seat.wait", u, poolID, "no seats")
		return nil
	case errors.Is(err, store.ErrExpired):
		e.record(ctx, tenantID, actor, "seat.refuse", u, poolID, "pool expired")
		return nil
	}
	return fmt.Errorf("claim seat: %w", err)
}

// promoteWaiting grants freed seats to the waiting list, first come first
// served, until the pool is full again.
func (e *Engine) promoteWaiting(ctx context.Context, tenantID, poolID string) error {
	waiting, err := e.st.ListAssignments(ctx, tenantID, store.AssignmentQuery{PoolID: poolID, State: store.AssignWaiting})
	if err != nil {
		return err
	}
	slices.SortFunc(waiting, func(a, b *store.Assignment) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, w := range waiting {
		u, err := e.st.GetUser(ctx, tenantID, w.UserID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !u.Active {
			continue
		}
		a := &store.Assignment{TenantID: tenantID, PoolID: poolID, UserID: w.UserID, Sources: w.Sources}
		err = e.st.ClaimSeat(ctx, a, e.now())
		if errors.Is(err, store.ErrNoSeats) || errors.Is(err, store.ErrExpired) {
			return nil // full again (or over): the rest keep waiting
		}
		if err != nil {
			return err
		}
		e.record(ctx, tenantID, System, "seat.assign", u, poolID, "a seat freed up")
		e.seatMail(ctx, u, SeatAssigned, poolID, "A seat of %s freed up and is now yours.")
	}
	return nil
}

// ancestors returns every group userID belongs to, directly or through
// nested groups.
func (e *Engine) ancestors(ctx context.Context, tenantID, memberID string) (map[string]bool, error) {
	seen := map[string]bool{}
	frontier := []string{memberID}
	for depth := 0; len(frontier) > 0 && depth < maxNesting; depth++ {
		var next []string
		for _, id := range frontier {
			refs, err := e.st.GroupsOf(ctx, tenantID, id)
			if err != nil {
				return nil, err
			}
			for _, g := range refs {
				if !seen[g.ID] {
					seen[g.ID] = true
					next = append(next, g.ID)
				}
			}
		}
		frontier = next
	}
	return seen, nil
}

// GroupChanged converges every user whose seats may have changed because
// memberIDs joined or left groupID: users among them, and the users inside
// member groups (nested).
func (e *Engine) GroupChanged(ctx context.Context, tenantID, groupID string, memberIDs []string, actor Actor) error {
	ruled, err := e.groupMatters(ctx, tenantID, groupID)
	if err != nil || !ruled {
		return err
	}
	users, err := e.usersUnder(ctx, tenantID, memberIDs)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range users {
		if err := e.SyncUser(ctx, tenantID, id, actor); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// groupMatters reports whether a rule names groupID or a group above it;
// membership changes of other groups cannot move a seat, so SCIM member
// PATCHes on unlicensed groups cost nothing extra.
func (e *Engine) groupMatters(ctx context.Context, tenantID, groupID string) (bool, error) {
	rules, err := e.st.ListRules(ctx, tenantID)
	if err != nil || len(rules) == 0 {
		return false, err
	}
	above, err := e.ancestors(ctx, tenantID, groupID)
	if err != nil {
		return false, err
	}
	above[groupID] = true
	for _, r := range rules {
		if above[r.GroupID] {
			return true, nil
		}
	}
	return false, nil
}

// usersUnder expands member ids to user ids, walking into member groups.
// The ids given may be users or groups; below them the membership records
// say which is which, so a large group costs one query per page.
func (e *Engine) usersUnder(ctx context.Context, tenantID string, memberIDs []string) ([]string, error) {
	var users []string
	seen := map[string]bool{}
	type item struct {
		id   string
		kind string // store.MemberUser, store.MemberGroup or "" (unknown)
	}
	frontier := make([]item, len(memberIDs))
	for i, id := range memberIDs {
		frontier[i] = item{id: id}
	}
	for depth := 0; len(frontier) > 0 && depth < maxNesting; depth++ {
		var next []item
		for _, it := range frontier {
			if seen[it.id] {
				continue
			}
			seen[it.id] = true
			if it.kind == "" {
				if _, err := e.st.GetUser(ctx, tenantID, it.id); err == nil {
					it.kind = store.MemberUser
				} else if !errors.Is(err, store.ErrNotFound) {
					return nil, err
				}
			}
			if it.kind == store.MemberUser {
				users = append(users, it.id)
				continue
			}
			after := ""
			for {
				page, err := e.st.ListMembers(ctx, tenantID, it.id, after, 1000)
				if err != nil {
					if errors.Is(err, store.ErrNotFound) {
						break
					}
					return nil, err
				}
				for _, m := range page {
					kind := m.Type
					if kind != store.MemberGroup {
						kind = store.MemberUser
					}
					next = append(next, item{id: m.MemberID, kind: kind})
				}
				if len(page) < 1000 {
					break
				}
				after = page[len(page)-1].MemberID
			}
		}
		frontier = next
	}
	return users, nil
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// record writes an audit event; a failed audit write is logged, not
// returned, because the seat change it describes already happened.
func (e *Engine) record(ctx context.Context, tenantID string, actor Actor, action string, u *store.User, poolID, reason string) {
	after, _ := json.Marshal(map[string]string{"userId": u.ID, "userName": u.UserName, "poolId": poolID})
	ev := &store.AuditEvent{
		TenantID: tenantID, ID: store.NewID(), At: store.Timestamp(e.now()), Actor: string(actor),
		Action: action, TargetType: "user", TargetID: u.ID, After: string(after), Reason: reason,
	}
	if err := e.st.AppendAudit(ctx, ev); err != nil {
		e.log.ErrorContext(ctx, "audit write failed", "action", action, "err", err)
	}
}

// Access changes, the Change field of the access-change e-mail.
const (
	SeatAssigned = "seat-assigned"
	SeatRemoved  = "seat-removed"
	AdminGranted = "admin-granted"
	AdminRevoked = "admin-revoked"
)

// Notify queues an access-change e-mail for u (change is one of
// SeatAssigned, SeatRemoved, AdminGranted, AdminRevoked; product is empty
// for the admin ones; summary is one sentence saying what changed), unless
// the user opted out of system messages or has no address. Doors that
// change access outside the engine (admin rights) call it too, so every
// such e-mail honours the same preference and templates. A failure is
// logged: the change it announces already happened.
func (e *Engine) Notify(ctx context.Context, u *store.User, change, product, summary string) {
	e.notify(ctx, u, "", change, product, summary)
}

// AdminRightsChanged records in the audit log, as actor, that u was made
// an account administrator (u.AccountAdmin) or no longer is, and queues
// the access-change e-mail saying so, as Notify. Doors call it after
// writing a change of accountAdmin, and only then.
func (e *Engine) AdminRightsChanged(ctx context.Context, u *store.User, actor Actor) {
	action, change := "user.admin.revoke", AdminRevoked
	if u.AccountAdmin {
		action, change = "user.admin.grant", AdminGranted
	}
	ev := &store.AuditEvent{TenantID: u.TenantID, ID: store.NewID(), At: store.Timestamp(e.now()), Actor: string(actor),
		Action: action, TargetType: "user", TargetID: u.ID}
	if err := e.st.AppendAudit(ctx, ev); err != nil {
		e.log.ErrorContext(ctx, "audit write failed", "action", action, "err", err)
	}
	if u.PrimaryEmail() == "" || u.NoSystemMessages {
		return // spare the tenant lookup
	}
	org := e.orgName(ctx, u.TenantID)
	summary := "You are now an account administrator of " + org + " in Roster."
	if !u.AccountAdmin {
		summary = "You are no longer an account administrator of " + org + " in Roster."
	}
	e.notify(ctx, u, org, change, "", summary)
}

func (e *Engine) orgName(ctx context.Context, tenantID string) string {
	if t, err := e.st.GetTenant(ctx, tenantID); err == nil {
		return t.Name
	}
	return "your organisation"
}

// notify is Notify with the tenant's name when the caller has it ("":
// looked up if a template needs it).
func (e *Engine) notify(ctx context.Context, u *store.User, org, change, product, summary string) {
	to := u.PrimaryEmail()
	if to == "" || u.NoSystemMessages {
		return
	}
	subject, text, html := "A license was assigned to you", summary, ""
	switch change {
	case SeatRemoved:
		subject = "A license was removed"
	case AdminGranted, AdminRevoked:
		subject = "Your administrator rights changed"
	}
	if e.mail != nil {
		if org == "" {
			org = e.orgName(ctx, u.TenantID)
		}
		name := u.Name.GivenName
		if name == "" {
			name = cmp.Or(u.DisplayName, u.UserName)
		}
		var err error
		subject, text, html, err = e.mail.Render("access-change", map[string]string{"Name": name, "UserName": u.UserName,
			"Org": org, "Change": change, "Product": product, "Summary": summary})
		if err != nil {
			e.log.ErrorContext(ctx, "access-change e-mail template", "user", u.ID, "err", err)
			return
		}
	}
	m := &store.OutboxMessage{
		TenantID: u.TenantID, ID: store.NewID(), Channel: "email", To: to,
		Subject: subject, Text: text, HTML: html, State: store.OutboxQueued,
		NextAttemptAt: e.now(), CreatedAt: store.Timestamp(e.now()),
	}
	if err := e.st.Enqueue(ctx, m); err != nil {
		e.log.ErrorContext(ctx, "queue notification failed", "user", u.ID, "err", err)
	}
}

// seatMail announces a seat of poolID given to or taken from u.
func (e *Engine) seatMail(ctx context.Context, u *store.User, change, poolID, summaryFormat string) {
	if u.PrimaryEmail() == "" || u.NoSystemMessages {
		return // spare the product lookup
	}
	product := e.productName(ctx, u.TenantID, poolID)
	e.Notify(ctx, u, change, product, fmt.Sprintf(summaryFormat, product))
}

func (e *Engine) productName(ctx context.Context, tenantID, poolID string) string {
	p, err := e.st.GetPool(ctx, tenantID, poolID)
	if err != nil {
		return "a product"
	}
	prod, err := e.st.GetProduct(ctx, p.ProductID)
	if err != nil {
		return "a product"
	}
	return prod.Name
}
