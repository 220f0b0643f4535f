package licensing_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// publishedKeys is what an app holds: the JWKS document as JSON, decoded
// with nothing but the public part.
func (f *fixture) publishedKeys() *jose.JSONWebKeySet {
	f.t.Helper()
	set, err := f.eng.JWKS(f.ctx, f.tenant)
	must(f.t, err)
	b, err := json.Marshal(set)
	must(f.t, err)
	if strings.Contains(string(b), `"d"`) {
		f.t.Fatalf("JWKS publishes a private key: %s", b)
	}
	var out jose.JSONWebKeySet
	must(f.t, json.Unmarshal(b, &out))
	return &out
}

func TestLeaseVerifiesOfflineWithJWKSOnly(t *testing.T) {
	f := newFixture(t, 2, store.PolicyDeny)
	u := f.user("a@x.io")
	must(t, f.eng.Assign(f.ctx, f.tenant, f.pool.ID, u.ID, "admin:test"))
	g, err := f.eng.DeviceLogin(f.ctx, u, "counter", "DEV-1", "Pixel", time.Hour)
	must(t, err)
	keys := f.publishedKeys()
	c, err := licensing.VerifyLease(g.Lease, keys, f.now)
	if err != nil {
		t.Fatalf("VerifyLease(fresh lease) = %v", err)
	}
	if c.User != u.ID || c.Product != "counter" || c.Device != "DEV-1" || c.Tenant != f.tenant {
		t.Errorf("claims = %+v", c)
	}
	if _, err := licensing.VerifyLease(g.Lease, keys, f.now.Add(2*time.Hour)); !errors.Is(err, licensing.ErrLeaseExpired) {
		t.Errorf("VerifyLease after exp = %v, want ErrLeaseExpired", err)
	}
	// Tamper with the payload: a different device.
	parts := strings.Split(g.Lease, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(payload), "DEV-1", "DEV-2", 1)
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
	if _, err := licensing.VerifyLease(strings.Join(parts, "."), keys, f.now); !errors.Is(err, licensing.ErrLeaseInvalid) {
		t.Errorf("VerifyLease(tampered) = %v, want ErrLeaseInvalid", err)
	}
	// Rotation: the old lease keeps verifying until it expires.
	_, err = f.eng.RotateKey(f.ctx, f.tenant, 24*time.Hour)
	must(t, err)
	keys = f.publishedKeys()
	if len(keys.Keys) != 2 {
		t.Errorf("after rotation JWKS has %d keys, want 2", len(keys.Keys))
	}
	if _, err := licensing.VerifyLease(g.Lease, keys, f.now); err != nil {
		t.Errorf("old lease after rotation = %v, want valid", err)
	}
	g2, err := f.eng.Renew(f.ctx, f.tenant, g.Lease, time.Hour)
	must(t, err)
	if _, err := licensing.VerifyLease(g2.Lease, keys, f.now); err != nil {
		t.Errorf("renewed lease = %v", err)
	}
	f.now = f.now.Add(48 * time.Hour) // past the old key's publication window
	keys = f.publishedKeys()
	if len(keys.Keys) != 1 {
		t.Errorf("retired key still published after its window: %d keys", len(keys.Keys))
	}
}

func TestDeviceLoginRefusals(t *testing.T) {
	f := newFixture(t, 1, store.PolicyDeny)
	a, b := f.user("a@x.io"), f.user("b@x.io")
	if _, err := f.eng.DeviceLogin(f.ctx, a, "counter", "D1", "", 0); !errors.Is(err, licensing.ErrNoLicense) {
		t.Errorf("no seat, no auto-assign: %v, want ErrNoLicense", err)
	}
	if _, err := f.eng.DeviceLogin(f.ctx, a, "nope", "D1", "", 0); !errors.Is(err, licensing.ErrUnknownProduct) {
		t.Errorf("unknown product: %v", err)
	}
	must(t, f.eng.Assign(f.ctx, f.tenant, f.pool.ID, a.ID, "admin:test"))
	for _, code := range []string{"D1", "D2"} {
		if _, err := f.eng.DeviceLogin(f.ctx, a, "counter", code, "", 0); err != nil {
			t.Fatalf("device %s: %v", code, err)
		}
	}
	if _, err := f.eng.DeviceLogin(f.ctx, a, "counter", "D1", "", 0); err != nil {
		t.Errorf("signing in again on a bound device = %v, want ok", err)
	}
	if _, err := f.eng.DeviceLogin(f.ctx, a, "counter", "D3", "", 0); !errors.Is(err, store.ErrDeviceLimit) {
		t.Errorf("third device with max 2 = %v, want ErrDeviceLimit", err)
	}
	// Device code reused by another user: b needs a seat first.
	p, _ := f.st.GetPool(f.ctx, f.tenant, f.pool.ID)
	p.Total, p.AutoAssign = 2, true
	must(t, f.st.UpdatePool(f.ctx, p))
	var inv *store.ErrInvalid
	if _, err := f.eng.DeviceLogin(f.ctx, b, "counter", "D1", "", 0); !errors.As(err, &inv) || inv.Field != "deviceCode" {
		t.Errorf("another user's device code = %v, want ErrInvalid{deviceCode}", err)
	}
	// Refused, b took no seat: a wrong device code costs the pool nothing.
	if got := f.state(b); got != "" {
		t.Errorf("after a refused sign-in on another user's device, b's seat is %q, want none", got)
	}
	if assigned, _ := f.counts(); assigned != 1 {
		t.Errorf("after a refused sign-in the pool has %d seats assigned, want 1", assigned)
	}
	if _, err := f.eng.DeviceLogin(f.ctx, b, "counter", "B1", "", 0); err != nil {
		t.Fatalf("b on a device of b's own: %v", err)
	}
	if got := f.state(b); got != store.AssignActive {
		t.Errorf("auto-assign on a pool that allows it: state %q", got)
	}
	d, err := f.st.GetDeviceByCode(f.ctx, f.tenant, f.prod.ID, "D2")
	must(t, err)
	must(t, f.eng.BlockDevice(f.ctx, f.tenant, d.ID, "admin:test"))
	if _, err := f.eng.DeviceLogin(f.ctx, a, "counter", "D2", "", 0); !errors.Is(err, licensing.ErrBlocked) {
		t.Errorf("blocked device sign-in = %v, want ErrBlocked", err)
	}
	if _, err := f.eng.DeviceLogin(f.ctx, a, "counter", "D3", "", 0); err != nil {
		t.Errorf("blocking freed a slot, but a new device is refused: %v", err)
	}
	p, _ = f.st.GetPool(f.ctx, f.tenant, f.pool.ID)
	p.EndsAt = f.now.Add(-time.Minute)
	must(t, f.st.UpdatePool(f.ctx, p))
	if _, err := f.eng.DeviceLogin(f.ctx, a, "counter", "D1", "", 0); !errors.Is(err, licensing.ErrPoolExpired) {
		t.Errorf("expired pool = %v, want ErrPoolExpired", err)
	}
}

func TestBlockedDeviceCannotRenew(t *testing.T) {
	f := newFixture(t, 1, store.PolicyDeny)
	u := f.user("a@x.io")
	must(t, f.eng.Assign(f.ctx, f.tenant, f.pool.ID, u.ID, "admin:test"))
	g, err := f.eng.DeviceLogin(f.ctx, u, "counter", "D1", "", time.Hour)
	must(t, err)
	must(t, f.eng.BlockDevice(f.ctx, f.tenant, g.Device.ID, "admin:test"))
	if _, err := f.eng.Renew(f.ctx, f.tenant, g.Lease, time.Hour); !errors.Is(err, licensing.ErrBlocked) {
		t.Errorf("Renew after block = %v, want ErrBlocked", err)
	}
	if _, err := f.eng.Renew(f.ctx, f.tenant, g.Lease+"x", time.Hour); !errors.Is(err, licensing.ErrLeaseInvalid) {
		t.Errorf("Renew(garbage) = %v, want ErrLeaseInvalid", err)
	}
}

func TestMoveDevice(t *testing.T) {
	f := newFixture(t, 2, store.PolicyDeny)
	a, b, c := f.user("a@x.io"), f.user("b@x.io"), f.user("c@x.io")
	must(t, f.eng.Assign(f.ctx, f.tenant, f.pool.ID, a.ID, "admin:test"))
	must(t, f.eng.Assign(f.ctx, f.tenant, f.pool.ID, b.ID, "admin:test"))
	g, err := f.eng.DeviceLogin(f.ctx, a, "counter", "D1", "Tablet", time.Hour)
	must(t, err)
	var inv *store.ErrInvalid
	if _, err := f.eng.MoveDevice(f.ctx, f.tenant, g.Device.ID, c.ID, "admin:test"); !errors.As(err, &inv) {
		t.Errorf("move to a user without a seat = %v, want ErrInvalid", err)
	}
	if d, _ := f.st.GetDeviceByCode(f.ctx, f.tenant, f.prod.ID, "D1"); d == nil || d.UserID != a.ID {
		t.Errorf("a refused move changed the device: %+v", d)
	}
	moved, err := f.eng.MoveDevice(f.ctx, f.tenant, g.Device.ID, b.ID, "admin:test")
	must(t, err)
	if moved.UserID != b.ID || moved.Name != "Tablet" {
		t.Errorf("moved device = %+v, want bound to b with its name", moved)
	}
	if _, err := f.eng.Renew(f.ctx, f.tenant, g.Lease, time.Hour); err == nil {
		t.Errorf("the previous user's lease still renews after the move")
	}
	if _, err := f.eng.DeviceLogin(f.ctx, b, "counter", "D1", "Tablet", time.Hour); err != nil {
		t.Errorf("new owner signs in on the moved device: %v", err)
	}
	if _, err := f.eng.DeviceLogin(f.ctx, a, "counter", "D1", "Tablet", time.Hour); err == nil {
		t.Errorf("the previous owner can still sign in on the moved device")
	}
}
