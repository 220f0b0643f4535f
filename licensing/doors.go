package licensing

import (
	"context"
	"errors"
	"slices"

	"github.com/roster-scim/roster/store"
)

// The functions in this file are what doors call instead of the store
// when an identity change may move seats, so SCIM, the portal and the
// importer give the same outcome.

// UserLicense is one seat of a user as an admin or an IdP sees it.
type UserLicense struct {
	PoolID      string
	ProductCode string
	ProductName string
	State       string
	Reason      string
	Sources     []string
}

// UserLicenses lists the user's seats with their products.
func (e *Engine) UserLicenses(ctx context.Context, tenantID, userID string) ([]UserLicense, error) {
	as, err := e.st.ListAssignments(ctx, tenantID, store.AssignmentQuery{UserID: userID})
	if err != nil {
		return nil, err
	}
	out := make([]UserLicense, 0, len(as))
	for _, a := range as {
		l := UserLicense{PoolID: a.PoolID, State: a.State, Reason: a.Reason, Sources: a.Sources}
		if p, err := e.st.GetPool(ctx, tenantID, a.PoolID); err == nil {
			if prod, err := e.st.GetProduct(ctx, p.ProductID); err == nil {
				l.ProductCode, l.ProductName = prod.Code, prod.Name
			}
		}
		out = append(out, l)
	}
	return out, nil
}

// DeleteUser deletes the user (the store's cascade returns their seats)
// and gives the freed seats to the waiting lists.
func (e *Engine) DeleteUser(ctx context.Context, tenantID, userID string, version int64, actor Actor) error {
	held, err := e.st.ListAssignments(ctx, tenantID, store.AssignmentQuery{UserID: userID, State: store.AssignActive})
	if err != nil {
		return err
	}
	u, _ := e.st.GetUser(ctx, tenantID, userID)
	if err := e.st.DeleteUser(ctx, tenantID, userID, version); err != nil {
		return err
	}
	var errs []error
	for _, a := range held {
		if u != nil {
			e.record(ctx, tenantID, actor, "seat.release", u, a.PoolID, "user deleted")
		}
		errs = append(errs, e.promoteWaiting(ctx, tenantID, a.PoolID))
	}
	return errors.Join(errs...)
}

// MembersBefore returns the current member ids of groupID when a license
// rule covers it (else nil): a door replacing the member list passes them
// with the new ones to GroupChanged, so removed members lose their seats.
func (e *Engine) MembersBefore(ctx context.Context, tenantID, groupID string) ([]string, error) {
	ruled, err := e.groupMatters(ctx, tenantID, groupID)
	if err != nil || !ruled {
		return nil, err
	}
	var ids []string
	after := ""
	for {
		page, err := e.st.ListMembers(ctx, tenantID, groupID, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, m := range page {
			ids = append(ids, m.MemberID)
		}
		if len(page) < 1000 {
			return ids, nil
		}
		after = page[len(page)-1].MemberID
	}
}

// DeleteGroup deletes the group (the store drops its memberships and
// rules) and converges the users who were in it.
func (e *Engine) DeleteGroup(ctx context.Context, tenantID, groupID string, version int64, actor Actor) error {
	var users []string
	if ruled, err := e.groupMatters(ctx, tenantID, groupID); err != nil {
		return err
	} else if ruled {
		if users, err = e.usersUnder(ctx, tenantID, []string{groupID}); err != nil {
			return err
		}
	}
	if err := e.st.DeleteGroup(ctx, tenantID, groupID, version); err != nil {
		return err
	}
	var errs []error
	for _, id := range slices.Compact(users) {
		errs = append(errs, e.SyncUser(ctx, tenantID, id, actor))
	}
	return errors.Join(errs...)
}

// UserDevices lists the devices bound to the user's seats.
func (e *Engine) UserDevices(ctx context.Context, tenantID, userID string) ([]*store.Device, error) {
	return e.st.ListDevices(ctx, tenantID, userID)
}
