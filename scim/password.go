package scim

import (
	"context"

	"github.com/roster-scim/roster/auth"
)

// hashPassword hashes pw with argon2id (auth.HashPassword, shared by
// every door). Each hash holds 19 MiB for tens of milliseconds, so
// concurrent hashes are bounded by handler.hashes: a burst of IdP
// creates with passwords queues instead of exhausting memory.
func (h *handler) hashPassword(ctx context.Context, pw string) (string, error) {
	select {
	case h.hashes <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-h.hashes }()
	return auth.HashPassword(pw)
}
