package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

// TokenPrefix starts every SCIM token, so a token pasted in the wrong
// place (a log, a ticket, a repository) is recognisable and secret
// scanners can be taught to find it.
const TokenPrefix = "rst_"

// secretBytes is the entropy of every secret this package mints: 256 bits
// make guessing hopeless and let a fast hash stand in for a password hash.
const secretBytes = 32

// tokenLen is the length of a well-formed token: the prefix and 32 bytes
// in unpadded base64url.
var tokenLen = len(TokenPrefix) + base64.RawURLEncoding.EncodedLen(secretBytes)

// newSecret returns 32 random bytes in unpadded base64url.
func newSecret() string {
	var b [secretBytes]byte
	// crypto/rand.Read never fails on supported platforms (it aborts the
	// program instead), so there is no error to handle.
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// HashSecret returns the hex SHA-256 of secret: the only form in which
// tokens and link secrets are stored (store.Token.Hash,
// store.Invitation.TokenHash).
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// WellFormedToken reports whether s has the shape of a SCIM token, so a
// request carrying something else (a JWT from a misconfigured IdP, a
// truncated paste) is refused without a store lookup.
func WellFormedToken(s string) bool {
	if len(s) != tokenLen || !strings.HasPrefix(s, TokenPrefix) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s[len(TokenPrefix):])
	return err == nil
}

// TokenCreator is the store method MintToken needs.
type TokenCreator interface {
	CreateToken(ctx context.Context, t *store.Token) error
}

// MintToken creates a SCIM token for tenantID and returns its secret,
// which exists nowhere else: the caller shows it once and forgets it.
func MintToken(ctx context.Context, tokens TokenCreator, tenantID, name string, now time.Time) (secret string, t *store.Token, err error) {
	if tenantID == "" {
		return "", nil, errors.New("mint token: no tenant")
	}
	secret = TokenPrefix + newSecret()
	t = &store.Token{
		ID:        store.NewID(),
		TenantID:  tenantID,
		Name:      name,
		Hash:      HashSecret(secret),
		CreatedAt: store.Timestamp(now),
	}
	if err := tokens.CreateToken(ctx, t); err != nil {
		return "", nil, fmt.Errorf("mint token: %w", err)
	}
	// Void this process's remembered refusals (DefaultNegativeTTL), so
	// the new token works at once on this node.
	minted.Add(1)
	return secret, t, nil
}
