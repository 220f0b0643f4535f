package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

// InviteBootstrap is the store.Invitation kind of a bootstrap operator
// link. Such an invitation belongs to no user (UserID ""); it is filed
// under the tenant the server created on first start.
const InviteBootstrap = "bootstrap"

// BootstrapPath is where a bootstrap link points.
const BootstrapPath = "/admin/bootstrap"

// bootstrapPrefix marks a bootstrap link secret, distinct from SCIM
// tokens so one is never mistaken for the other.
const bootstrapPrefix = "rsb_"

// DefaultBootstrapTTL is how long a bootstrap link stays usable.
const DefaultBootstrapTTL = 24 * time.Hour

// BootstrapInvitations is what Bootstrap needs from the store. Links are
// kept as invitations, so every node of a cluster accepts a link another
// node printed, and UseInvitation makes "once" hold across nodes.
type BootstrapInvitations interface {
	CreateInvitation(ctx context.Context, inv *store.Invitation) error
	InvitationByHash(ctx context.Context, hash string) (*store.Invitation, error)
	UseInvitation(ctx context.Context, tenantID, id string, at time.Time) error
	RevokeInvitations(ctx context.Context, tenantID, userID string, at time.Time) error
}

// Bootstrap is the way into the admin portal while no OIDC provider is
// configured: `roster serve` prints a one-time link; opening it and
// confirming signs the browser in as the platform operator.
//
// The portal serves the link: opening it only shows a confirmation
// button (CheckLink), and the POST that button sends spends it
// (RedeemLink), so a chat or mail client that fetches links to preview
// them cannot burn it.
type Bootstrap struct {
	Invitations BootstrapInvitations
	// TenantID files the links in the store (see InviteBootstrap).
	TenantID string
	// TTL is how long a link is valid (default DefaultBootstrapTTL).
	TTL time.Duration
	Now func() time.Time
}

func (b *Bootstrap) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// NewLink stores a fresh link secret, revoking any earlier unused one, and
// returns the secret; the link is BootstrapURL(publicURL, secret).
func (b *Bootstrap) NewLink(ctx context.Context) (string, error) {
	now := store.Timestamp(b.now())
	ttl := b.TTL
	if ttl <= 0 {
		ttl = DefaultBootstrapTTL
	}
	if err := b.Invitations.RevokeInvitations(ctx, b.TenantID, "", now); err != nil {
		return "", fmt.Errorf("bootstrap link: revoke earlier links: %w", err)
	}
	secret := bootstrapPrefix + newSecret()
	inv := &store.Invitation{
		TenantID:  b.TenantID,
		ID:        store.NewID(),
		Kind:      InviteBootstrap,
		TokenHash: HashSecret(secret),
		ExpiresAt: now.Add(ttl),
		CreatedAt: now,
	}
	if err := b.Invitations.CreateInvitation(ctx, inv); err != nil {
		return "", fmt.Errorf("bootstrap link: %w", err)
	}
	return secret, nil
}

// BootstrapURL is the link to print for secret.
func BootstrapURL(publicURL, secret string) string {
	return strings.TrimRight(publicURL, "/") + BootstrapPath + "?token=" + url.QueryEscape(secret)
}

var errLinkUsed = errors.New("link used, expired or unknown")

// check finds the unused, unexpired bootstrap invitation of secret.
func (b *Bootstrap) check(ctx context.Context, secret string) (*store.Invitation, error) {
	if !strings.HasPrefix(secret, bootstrapPrefix) {
		return nil, errLinkUsed
	}
	hash := HashSecret(secret)
	inv, err := b.Invitations.InvitationByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errLinkUsed
	}
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(inv.TokenHash), []byte(hash)) != 1 ||
		inv.Kind != InviteBootstrap || inv.TenantID != b.TenantID ||
		!inv.UsedAt.IsZero() || !b.now().Before(inv.ExpiresAt) {
		return nil, errLinkUsed
	}
	return inv, nil
}
