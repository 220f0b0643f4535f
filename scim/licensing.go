package scim

import (
	"context"
	"net/http"

	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// Licensing is what the SCIM layer tells about identity changes that can
// move seats. A SCIM request answers only after it returned, so an IdP
// that reads a user back sees its licenses settled.
type Licensing interface {
	SyncUser(ctx context.Context, tenantID, userID string, actor licensing.Actor) error
	GroupChanged(ctx context.Context, tenantID, groupID string, memberIDs []string, actor licensing.Actor) error
	MembersBefore(ctx context.Context, tenantID, groupID string) ([]string, error)
	DeleteUser(ctx context.Context, tenantID, userID string, version int64, actor licensing.Actor) error
	DeleteGroup(ctx context.Context, tenantID, groupID string, version int64, actor licensing.Actor) error
	UserLicenses(ctx context.Context, tenantID, userID string) ([]licensing.UserLicense, error)
	UserDevices(ctx context.Context, tenantID, userID string) ([]*store.Device, error)
	// AdminRightsChanged audits and announces (e-mail, as the portal) a
	// written change of the user's accountAdmin.
	AdminRightsChanged(ctx context.Context, u *store.User, actor licensing.Actor)
}

type actorKey struct{}

// withActor records who makes the request's changes, for the audit log.
// A GET or HEAD changes nothing, so it is spared the copy of the request.
func (h *handler) withActor(r *http.Request) *http.Request {
	if h.lic == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return r
	}
	a := "scim"
	if h.actor != nil {
		a = h.actor(r)
	}
	return r.WithContext(context.WithValue(r.Context(), actorKey{}, licensing.Actor(a)))
}

func actorOf(ctx context.Context) licensing.Actor {
	if a, ok := ctx.Value(actorKey{}).(licensing.Actor); ok {
		return a
	}
	return "scim"
}

// afterUserWrite converges the user's seats when their active flag
// changed (nothing else on a User moves a seat) and announces a change of
// their admin rights. It compares the records the write had in hand, so a
// write that touches neither costs no store access.
func (h *handler) afterUserWrite(ctx context.Context, before, after *store.User) {
	if h.lic == nil {
		return
	}
	if before.Active != after.Active {
		if err := h.lic.SyncUser(ctx, after.TenantID, after.ID, actorOf(ctx)); err != nil {
			h.licensingFailed(ctx, err)
		}
	}
	h.adminAfterUserWrite(ctx, before.AccountAdmin, after)
}

// adminAfterUserWrite announces that the user's accountAdmin changed
// from wasAdmin (false for a new user).
func (h *handler) adminAfterUserWrite(ctx context.Context, wasAdmin bool, after *store.User) {
	if h.lic != nil && wasAdmin != after.AccountAdmin {
		h.lic.AdminRightsChanged(ctx, after, actorOf(ctx))
	}
}

// seatsAfterMembers converges the seats of members that joined or left.
func (h *handler) seatsAfterMembers(ctx context.Context, tenant, groupID string, ids []string) {
	if h.lic == nil || len(ids) == 0 {
		return
	}
	if err := h.lic.GroupChanged(ctx, tenant, groupID, ids, actorOf(ctx)); err != nil {
		h.licensingFailed(ctx, err)
	}
}

// membersBefore is the member list a replacement is about to drop, when
// licensing cares.
func (h *handler) membersBefore(ctx context.Context, tenant, groupID string) []string {
	if h.lic == nil {
		return nil
	}
	ids, err := h.lic.MembersBefore(ctx, tenant, groupID)
	if err != nil {
		h.licensingFailed(ctx, err)
	}
	return ids
}

// licensingFailed logs a convergence error. The identity change itself is
// stored, and the reconciler converges the seats on its next round, so the
// IdP is not told to retry a change that succeeded.
func (h *handler) licensingFailed(ctx context.Context, err error) {
	h.log.ErrorContext(ctx, "scim: license convergence failed; the reconciler will retry", "err", err)
}

func idsOf(ms []store.Member) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.MemberID
	}
	return ids
}
