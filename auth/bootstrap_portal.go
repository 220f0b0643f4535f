package auth

import (
	"context"
	"errors"

	"github.com/roster-scim/roster/store"
)

// ErrLinkSpent: a bootstrap link secret that was used, expired, replaced
// by a newer link, or never existed.
var ErrLinkSpent = errLinkUsed

// CheckLink reports whether secret is a usable bootstrap link, without
// spending it (the portal's confirmation page).
func (b *Bootstrap) CheckLink(ctx context.Context, secret string) error {
	_, err := b.check(ctx, secret)
	return err
}

// RedeemLink spends the bootstrap link secret once, across nodes. The
// caller then starts an operator session (the portal keeps sessions in
// the store; see ServerSessions).
func (b *Bootstrap) RedeemLink(ctx context.Context, secret string) error {
	inv, err := b.check(ctx, secret)
	if err != nil {
		return err
	}
	err = b.Invitations.UseInvitation(ctx, inv.TenantID, inv.ID, store.Timestamp(b.now()))
	if errors.Is(err, store.ErrExpired) || errors.Is(err, store.ErrNotFound) {
		return errLinkUsed // another tab or node used it first
	}
	return err
}
