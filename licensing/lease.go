package licensing

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/roster-scim/roster/store"
)

// LeaseClaims is what a lease states: user may use product on device until
// Exp. Apps verify it offline with the tenant's public keys (JWKS).
type LeaseClaims struct {
	Tenant   string `json:"tenant"`
	User     string `json:"user"`
	UserName string `json:"userName,omitempty"`
	Product  string `json:"product"` // product code
	Device   string `json:"device"`  // device code
	IssuedAt int64  `json:"iat"`
	Exp      int64  `json:"exp"`
	ID       string `json:"jti"`
}

// Lease errors a device or app can act on.
var (
	ErrLeaseInvalid = errors.New("lease signature or format is invalid")
	ErrLeaseExpired = errors.New("lease has expired")
)

// currentKey returns the tenant's signing key, creating the first one on
// demand. Two nodes racing here may both create a key; the newer one wins
// as current and the other stays published, which is harmless.
func (e *Engine) currentKey(ctx context.Context, tenantID string) (*store.SigningKey, error) {
	keys, err := e.st.SigningKeys(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.RetiredAt.IsZero() {
			return k, nil
		}
	}
	return e.RotateKey(ctx, tenantID, 0)
}

// RotateKey makes a new current signing key for the tenant. The previous
// key stays published for keepOld (the longest lease it may have signed),
// so leases already handed out keep verifying until they expire.
func (e *Engine) RotateKey(ctx context.Context, tenantID string, keepOld time.Duration) (*store.SigningKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	now := store.Timestamp(e.now())
	old, err := e.st.SigningKeys(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	k := &store.SigningKey{TenantID: tenantID, ID: store.NewID(), Private: priv.Seed(), Public: pub, CreatedAt: now}
	if err := e.st.AddSigningKey(ctx, k); err != nil {
		return nil, err
	}
	for _, o := range old {
		if o.RetiredAt.IsZero() {
			if err := e.st.RetireSigningKey(ctx, tenantID, o.ID, now, now.Add(keepOld)); err != nil {
				return nil, err
			}
		}
	}
	return k, nil
}

// JWKS returns the tenant's published public keys: the current one and
// retired ones whose leases may still be valid.
func (e *Engine) JWKS(ctx context.Context, tenantID string) (*jose.JSONWebKeySet, error) {
	if _, err := e.currentKey(ctx, tenantID); err != nil {
		return nil, err
	}
	keys, err := e.st.SigningKeys(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	now := e.now()
	set := &jose.JSONWebKeySet{}
	for _, k := range keys {
		if !k.RetiredAt.IsZero() && !k.NotAfter.IsZero() && now.After(k.NotAfter) {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: ed25519.PublicKey(k.Public), KeyID: k.ID, Algorithm: string(jose.EdDSA), Use: "sig"})
	}
	return set, nil
}

// sign issues a lease for claims with the tenant's current key.
func (e *Engine) sign(ctx context.Context, c LeaseClaims) (string, *store.SigningKey, error) {
	k, err := e.currentKey(ctx, c.Tenant)
	if err != nil {
		return "", nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: ed25519.NewKeyFromSeed(k.Private)},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.ID))
	if err != nil {
		return "", nil, err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", nil, err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", nil, err
	}
	s, err := obj.CompactSerialize()
	return s, k, err
}

// VerifyLease checks a lease offline with nothing but a JWKS, as an app
// does: signature by a published key, then expiry at now.
func VerifyLease(token string, keys *jose.JSONWebKeySet, now time.Time) (*LeaseClaims, error) {
	obj, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(obj.Signatures) != 1 {
		return nil, ErrLeaseInvalid
	}
	kid := obj.Signatures[0].Header.KeyID
	found := keys.Key(kid)
	if len(found) == 0 {
		return nil, ErrLeaseInvalid
	}
	payload, err := obj.Verify(found[0].Key)
	if err != nil {
		return nil, ErrLeaseInvalid
	}
	var c LeaseClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, ErrLeaseInvalid
	}
	if now.Unix() >= c.Exp {
		return &c, ErrLeaseExpired
	}
	return &c, nil
}

// verifyOwn checks a lease against the tenant's own keys (renewal).
func (e *Engine) verifyOwn(ctx context.Context, tenantID, token string) (*LeaseClaims, error) {
	set, err := e.JWKS(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	c, err := VerifyLease(token, set, e.now())
	if err != nil && !errors.Is(err, ErrLeaseExpired) {
		return nil, err
	}
	if c.Tenant != tenantID {
		return nil, ErrLeaseInvalid
	}
	return c, nil
}

func leaseError(err error) error {
	return fmt.Errorf("lease: %w", err)
}
