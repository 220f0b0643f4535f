package licensing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/roster-scim/roster/store"
)

// Assign gives userID a direct seat of poolID (the seeds' "Assign license").
// A full pool is store.ErrNoSeats and leaves nothing behind: an admin who
// clicks Assign wants a seat now, not a place on the waiting list.
func (e *Engine) Assign(ctx context.Context, tenantID, poolID, userID string, actor Actor) error {
	u, err := e.st.GetUser(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	if !u.Active {
		return &store.ErrInvalid{Field: "user", Reason: "the user is inactive; reactivate them before assigning a license"}
	}
	before, err := e.st.GetAssignment(ctx, tenantID, poolID, userID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if before != nil && before.State == store.AssignActive && slices.Contains(before.Sources, store.SourceDirect) {
		return nil
	}
	a := &store.Assignment{TenantID: tenantID, PoolID: poolID, UserID: userID, Sources: []string{store.SourceDirect}}
	err = e.st.ClaimSeat(ctx, a, e.now())
	if errors.Is(err, store.ErrNoSeats) {
		if before == nil || !slices.Contains(before.Sources, store.SourceDirect) {
			if _, rerr := e.st.ReleaseSource(ctx, tenantID, poolID, userID, store.SourceDirect); rerr != nil && !errors.Is(rerr, store.ErrNotFound) {
				return errors.Join(err, rerr)
			}
		}
		return err
	}
	if err != nil {
		return err
	}
	e.record(ctx, tenantID, actor, "seat.assign", u, poolID, "direct")
	e.seatMail(ctx, u, SeatAssigned, poolID, "You now have a seat of %s.")
	return nil
}

// Unassign removes userID's direct seat of poolID (the seeds' "Remove
// license"). A seat that a group rule also grants stays, and the error says
// which groups grant it, because removing it would only bring it back.
func (e *Engine) Unassign(ctx context.Context, tenantID, poolID, userID string, actor Actor) error {
	u, err := e.st.GetUser(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	a, err := e.st.GetAssignment(ctx, tenantID, poolID, userID)
	if err != nil {
		return err
	}
	groups := groupSources(a.Sources)
	if !slices.Contains(a.Sources, store.SourceDirect) {
		return &store.ErrInvalid{Field: "seat", Reason: "the seat is granted by group membership (" + strings.Join(groups, ", ") + "); remove the user from the group instead"}
	}
	left, err := e.st.ReleaseSource(ctx, tenantID, poolID, userID, store.SourceDirect)
	if err != nil {
		return err
	}
	if left != nil {
		return &store.ErrInvalid{Field: "seat", Reason: "the direct assignment was removed but groups still grant the seat (" + strings.Join(groups, ", ") + ")"}
	}
	e.record(ctx, tenantID, actor, "seat.unassign", u, poolID, "direct")
	e.seatMail(ctx, u, SeatRemoved, poolID, "Your seat of %s was removed.")
	if a.State == store.AssignActive {
		return e.promoteWaiting(ctx, tenantID, poolID)
	}
	return nil
}

func groupSources(sources []string) []string {
	var out []string
	for _, s := range sources {
		if g, ok := strings.CutPrefix(s, "group:"); ok {
			out = append(out, g)
		}
	}
	return out
}

// Move hands fromUserID's seat of poolID to toUserID, who must hold none
// (the seeds' "Move license"). The pool count does not change. A seat a
// group grants cannot move: the rule would immediately ask for it back.
func (e *Engine) Move(ctx context.Context, tenantID, poolID, fromUserID, toUserID string, actor Actor) error {
	from, err := e.st.GetUser(ctx, tenantID, fromUserID)
	if err != nil {
		return err
	}
	to, err := e.st.GetUser(ctx, tenantID, toUserID)
	if err != nil {
		return err
	}
	if !to.Active {
		return &store.ErrInvalid{Field: "to", Reason: "the receiving user is inactive"}
	}
	a, err := e.st.GetAssignment(ctx, tenantID, poolID, fromUserID)
	if err != nil {
		return err
	}
	if g := groupSources(a.Sources); len(g) > 0 {
		return &store.ErrInvalid{Field: "from", Reason: "the seat is granted by group membership (" + strings.Join(g, ", ") + "); change group membership instead"}
	}
	if _, err := e.st.MoveSeat(ctx, tenantID, poolID, fromUserID, toUserID); err != nil {
		return err
	}
	e.record(ctx, tenantID, actor, "seat.move.out", from, poolID, "moved to "+to.UserName)
	e.record(ctx, tenantID, actor, "seat.move.in", to, poolID, "moved from "+from.UserName)
	e.seatMail(ctx, from, SeatRemoved, poolID, "Your seat of %s was moved to another user.")
	e.seatMail(ctx, to, SeatAssigned, poolID, "You now have a seat of %s.")
	return nil
}

// FlagInactive deactivates a user who holds no seat (the seeds only allow
// it then, so an admin never silently frees a seat by deactivating).
func (e *Engine) FlagInactive(ctx context.Context, tenantID, userID string, actor Actor) error {
	held, err := e.st.ListAssignments(ctx, tenantID, store.AssignmentQuery{UserID: userID, State: store.AssignActive})
	if err != nil {
		return err
	}
	if len(held) > 0 {
		names := make([]string, 0, len(held))
		for _, a := range held {
			names = append(names, e.productName(ctx, tenantID, a.PoolID))
		}
		return &store.ErrInvalid{Field: "active", Reason: "the user holds a license (" + strings.Join(names, ", ") + "); remove it first"}
	}
	return e.updateUser(ctx, tenantID, userID, actor, "user.deactivate", func(u *store.User) { u.Active = false })
}

// SetNote edits the admin's note on a user.
func (e *Engine) SetNote(ctx context.Context, tenantID, userID, note string, actor Actor) error {
	return e.updateUser(ctx, tenantID, userID, actor, "user.note", func(u *store.User) { u.Notes = note })
}

// updateUser applies fn with compare-and-set, retrying when another writer
// got there first.
func (e *Engine) updateUser(ctx context.Context, tenantID, userID string, actor Actor, action string, fn func(*store.User)) error {
	for range 5 {
		u, err := e.st.GetUser(ctx, tenantID, userID)
		if err != nil {
			return err
		}
		fn(u)
		err = e.st.UpdateUser(ctx, u)
		if errors.Is(err, store.ErrPrecondition) {
			continue
		}
		if err == nil {
			e.record(ctx, tenantID, actor, action, u, "", "")
		}
		return err
	}
	return store.ErrPrecondition
}

// Resize sets a pool's total. Shrinking below the seats in use is refused
// with the number to free; growing grants seats to the waiting list.
func (e *Engine) Resize(ctx context.Context, tenantID, poolID string, total int, actor Actor) error {
	if total < 0 {
		return &store.ErrInvalid{Field: "total", Reason: "must be zero or more"}
	}
	for range 5 {
		p, err := e.st.GetPool(ctx, tenantID, poolID)
		if err != nil {
			return err
		}
		if total < p.Assigned {
			return &store.ErrInvalid{Field: "total", Reason: fmt.Sprintf("%d seats are assigned; free %d before shrinking to %d", p.Assigned, p.Assigned-total, total)}
		}
		p.Total = total
		err = e.st.UpdatePool(ctx, p)
		if errors.Is(err, store.ErrPrecondition) {
			continue
		}
		if err != nil {
			return err
		}
		ev := &store.AuditEvent{TenantID: tenantID, ID: store.NewID(), At: store.Timestamp(e.now()), Actor: string(actor),
			Action: "pool.resize", TargetType: "pool", TargetID: poolID, After: fmt.Sprintf(`{"total":%d}`, total)}
		if err := e.st.AppendAudit(ctx, ev); err != nil {
			e.log.ErrorContext(ctx, "audit write failed", "err", err)
		}
		return e.promoteWaiting(ctx, tenantID, poolID)
	}
	return store.ErrPrecondition
}

// AddRule maps groupID to poolID and converges the group's users.
func (e *Engine) AddRule(ctx context.Context, tenantID, groupID, poolID string, actor Actor) (*store.Rule, error) {
	if _, err := e.st.GetGroup(ctx, tenantID, groupID); err != nil {
		return nil, err
	}
	if _, err := e.st.GetPool(ctx, tenantID, poolID); err != nil {
		return nil, err
	}
	r := &store.Rule{TenantID: tenantID, GroupID: groupID, PoolID: poolID}
	if err := e.st.CreateRule(ctx, r); err != nil {
		return nil, err
	}
	return r, e.GroupChanged(ctx, tenantID, groupID, []string{groupID}, actor)
}

// RemoveRule deletes a rule and converges the users it covered.
func (e *Engine) RemoveRule(ctx context.Context, tenantID, ruleID string, actor Actor) error {
	rules, err := e.st.ListRules(ctx, tenantID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(rules, func(r *store.Rule) bool { return r.ID == ruleID })
	if i < 0 {
		return store.ErrNotFound
	}
	if err := e.st.DeleteRule(ctx, tenantID, ruleID); err != nil {
		return err
	}
	users, err := e.usersUnder(ctx, tenantID, []string{rules[i].GroupID})
	if err != nil {
		return err
	}
	// Users who lost the rule still carry its source; SyncUser drops it.
	var errs []error
	for _, id := range users {
		errs = append(errs, e.SyncUser(ctx, tenantID, id, actor))
	}
	return errors.Join(errs...)
}

// Reprocess recomputes a whole tenant: recounts every pool (returning seats
// a crash leaked), converges every user whose seats differ from what the
// rules say, and fills freed seats from the waiting lists. It returns how
// many pool counters it had to correct.
func (e *Engine) Reprocess(ctx context.Context, tenantID string, actor Actor) (int, error) {
	pools, err := e.st.ListPools(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	fixed := 0
	for _, p := range pools {
		n, err := e.st.Recount(ctx, tenantID, p.ID)
		if err != nil {
			return fixed, err
		}
		fixed += n
	}
	users, err := e.usersToSync(ctx, tenantID)
	if err != nil {
		return fixed, err
	}
	var errs []error
	for _, id := range users {
		if err := e.SyncUser(ctx, tenantID, id, actor); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range pools {
		if err := e.promoteWaiting(ctx, tenantID, p.ID); err != nil {
			errs = append(errs, err)
		}
	}
	return fixed, errors.Join(errs...)
}

// usersToSync finds, in bulk, the users whose assignments may differ from
// what rules and active flags say: members of licensed groups missing a
// group source, holders of a group source they no longer qualify for,
// inactive users holding a seat and active users whose seat is
// suspended. Everyone else is already converged, so a tenant of 100,000
// users costs a handful of list queries rather than one sync per user.
func (e *Engine) usersToSync(ctx context.Context, tenantID string) ([]string, error) {
	rules, err := e.st.ListRules(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	want := map[string]map[string]bool{} // user -> "pool|source"
	for _, r := range rules {
		members, err := e.usersUnder(ctx, tenantID, []string{r.GroupID})
		if err != nil {
			return nil, err
		}
		for _, u := range members {
			if want[u] == nil {
				want[u] = map[string]bool{}
			}
			want[u][r.PoolID+"|"+store.GroupSource(r.GroupID)] = true
		}
	}
	inactive := map[string]bool{}
	const page = 1000
	off := store.Compare{Attr: store.AttrPath{Name: "active"}, Op: store.OpEq, Value: false}
	for offset := 0; ; offset += page {
		res, err := e.st.ListUsers(ctx, tenantID, store.Query{Filter: off, Offset: offset, Limit: page})
		if err != nil {
			return nil, err
		}
		for _, u := range res.Users {
			inactive[u.ID] = true
		}
		if len(res.Users) < page {
			break
		}
	}
	have, err := e.st.ListAssignments(ctx, tenantID, store.AssignmentQuery{})
	if err != nil {
		return nil, err
	}
	need := map[string]bool{}
	held := map[string]map[string]bool{}
	for _, a := range have {
		if held[a.UserID] == nil {
			held[a.UserID] = map[string]bool{}
		}
		for _, src := range a.Sources {
			held[a.UserID][a.PoolID+"|"+src] = true
			if strings.HasPrefix(src, "group:") && !want[a.UserID][a.PoolID+"|"+src] {
				need[a.UserID] = true // lost the group
			}
		}
		switch {
		case inactive[a.UserID] && a.State == store.AssignActive:
			need[a.UserID] = true
		case !inactive[a.UserID] && a.State == store.AssignSuspended:
			need[a.UserID] = true
		}
	}
	for u, srcs := range want {
		if inactive[u] {
			continue
		}
		for src := range srcs {
			if !held[u][src] {
				need[u] = true
			}
		}
	}
	out := make([]string, 0, len(need))
	for u := range need {
		out = append(out, u)
	}
	slices.Sort(out)
	return out, nil
}
