package licensing

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

// DefaultLeaseTTL is how long a lease lets an app run offline before it
// must renew.
const DefaultLeaseTTL = 7 * 24 * time.Hour

// Grant is the answer to a device sign-in or renewal.
type Grant struct {
	Lease     string // compact JWS
	ExpiresAt time.Time
	Device    *store.Device
	Product   *store.Product
}

// Device sign-in errors, each a reason a person can act on.
var (
	ErrUnknownProduct = errors.New("unknown product")
	ErrNoPool         = errors.New("your organisation has no licenses for this product")
	ErrNoLicense      = errors.New("you have no license for this product; ask your administrator to assign one")
	ErrWaiting        = errors.New("all licenses are in use; you are on the waiting list")
	ErrPoolExpired    = errors.New("your organisation's licenses for this product have expired")
	ErrBlocked        = errors.New("this device has been blocked by your administrator")
	ErrUserInactive   = errors.New("your account is inactive")
)

// errDeviceTaken refuses a device code bound to another user's seat.
var errDeviceTaken = &store.ErrInvalid{Field: "deviceCode", Reason: "this device is registered to another user"}

// DeviceLogin binds deviceCode to u's seat of the product and returns a
// lease. The caller has already authenticated u. It auto-assigns a seat
// when the pool allows it, and respects the pool's device limit.
func (e *Engine) DeviceLogin(ctx context.Context, u *store.User, productCode, deviceCode, deviceName string, ttl time.Duration) (*Grant, error) {
	deviceCode = strings.TrimSpace(deviceCode)
	if deviceCode == "" || len(deviceCode) > 200 {
		return nil, &store.ErrInvalid{Field: "deviceCode", Reason: "must be 1 to 200 characters"}
	}
	if !u.Active {
		return nil, ErrUserInactive
	}
	prod, pool, err := e.productPool(ctx, u.TenantID, productCode)
	if err != nil {
		return nil, err
	}
	now := e.now()
	if !pool.ActiveAt(now) {
		return nil, ErrPoolExpired
	}
	// A blocked device, or one bound to someone else's seat, is refused
	// before a seat is auto-assigned: a refused sign-in takes nothing
	// from the pool.
	existing, err := e.st.GetDeviceByCode(ctx, u.TenantID, prod.ID, deviceCode)
	if err != nil {
		existing = nil // none, or BindDevice will meet the same failure
	}
	if existing != nil {
		if existing.State == store.DeviceBlocked {
			return nil, ErrBlocked
		}
		if existing.UserID != u.ID && existing.AssignmentID != "" {
			return nil, errDeviceTaken
		}
	}
	a, err := e.st.GetAssignment(ctx, u.TenantID, pool.ID, u.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	claimed := false
	if a == nil || a.State != store.AssignActive {
		if a != nil && a.State == store.AssignWaiting {
			return nil, ErrWaiting
		}
		if !pool.AutoAssign {
			return nil, ErrNoLicense
		}
		a = &store.Assignment{TenantID: u.TenantID, PoolID: pool.ID, UserID: u.ID, Sources: []string{store.SourceDirect}}
		switch err := e.st.ClaimSeat(ctx, a, now); {
		case errors.Is(err, store.ErrNoSeats):
			return nil, ErrWaiting
		case errors.Is(err, store.ErrExpired):
			return nil, ErrPoolExpired
		case err != nil:
			return nil, err
		}
		claimed = true
		e.record(ctx, u.TenantID, Actor("device:"+deviceCode), "seat.assign", u, pool.ID, "automatic on device sign-in")
	}
	d := &store.Device{TenantID: u.TenantID, ProductID: prod.ID, DeviceCode: deviceCode, Name: deviceName,
		UserID: u.ID, AssignmentID: a.ID, State: store.DeviceActive, LastSeenAt: store.Timestamp(now)}
	if existing != nil {
		d.ID = existing.ID
	}
	if err := e.st.BindDevice(ctx, d, pool.MaxDevicesPerSeat); err != nil {
		if claimed {
			// The device was taken or blocked meanwhile: give back the
			// seat this sign-in assigned.
			rctx := context.WithoutCancel(ctx)
			if _, rerr := e.st.ReleaseSource(rctx, u.TenantID, pool.ID, u.ID, store.SourceDirect); rerr == nil {
				e.record(rctx, u.TenantID, Actor("device:"+deviceCode), "seat.release", u, pool.ID, "device sign-in failed")
			}
		}
		if c, ok := store.IsConflict(err); ok && c.Attr == "deviceCode" {
			return nil, errDeviceTaken
		}
		return nil, err
	}
	return e.issue(ctx, u, prod, pool, d, ttl)
}

// Renew exchanges a lease the tenant signed, even an expired one, for a new
// one: what counts is checked anew (device still bound and not blocked,
// user active, seat held, pool running), so an app that was offline past
// its lease can come back without signing in again.
func (e *Engine) Renew(ctx context.Context, tenantID, token string, ttl time.Duration) (*Grant, error) {
	c, err := e.verifyOwn(ctx, tenantID, token)
	if err != nil {
		return nil, leaseError(err)
	}
	prev, err := e.st.GetLease(ctx, tenantID, c.ID)
	if err != nil {
		return nil, leaseError(ErrLeaseInvalid)
	}
	if !prev.RevokedAt.IsZero() {
		return nil, ErrBlocked
	}
	d, err := e.st.GetDevice(ctx, tenantID, prev.DeviceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoLicense
	}
	if err != nil {
		return nil, err
	}
	if d.State == store.DeviceBlocked {
		return nil, ErrBlocked
	}
	u, err := e.st.GetUser(ctx, tenantID, d.UserID)
	if err != nil {
		return nil, ErrNoLicense
	}
	if !u.Active {
		return nil, ErrUserInactive
	}
	prod, pool, err := e.productPool(ctx, tenantID, c.Product)
	if err != nil {
		return nil, err
	}
	if !pool.ActiveAt(e.now()) {
		return nil, ErrPoolExpired
	}
	a, err := e.st.GetAssignment(ctx, tenantID, pool.ID, u.ID)
	if err != nil || a.State != store.AssignActive || d.AssignmentID != a.ID {
		return nil, ErrNoLicense
	}
	return e.issue(ctx, u, prod, pool, d, ttl)
}

func (e *Engine) productPool(ctx context.Context, tenantID, productCode string) (*store.Product, *store.Pool, error) {
	prod, err := e.st.GetProductByCode(ctx, productCode)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrUnknownProduct
	}
	if err != nil {
		return nil, nil, err
	}
	pool, err := e.st.GetPoolByProduct(ctx, tenantID, prod.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrNoPool
	}
	if err != nil {
		return nil, nil, err
	}
	return prod, pool, nil
}

func (e *Engine) issue(ctx context.Context, u *store.User, prod *store.Product, pool *store.Pool, d *store.Device, ttl time.Duration) (*Grant, error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	now := store.Timestamp(e.now())
	exp := now.Add(ttl)
	if !pool.EndsAt.IsZero() && pool.EndsAt.Before(exp) {
		exp = pool.EndsAt // a lease never outlives the licence it stands for
	}
	c := LeaseClaims{Tenant: u.TenantID, User: u.ID, UserName: u.UserName, Product: prod.Code, Device: d.DeviceCode,
		IssuedAt: now.Unix(), Exp: exp.Unix(), ID: store.NewID()}
	tok, k, err := e.sign(ctx, c)
	if err != nil {
		return nil, err
	}
	rec := &store.Lease{TenantID: u.TenantID, ID: c.ID, UserID: u.ID, ProductID: prod.ID, DeviceID: d.ID,
		KeyID: k.ID, IssuedAt: now, ExpiresAt: exp}
	if err := e.st.RecordLease(ctx, rec); err != nil {
		return nil, err
	}
	return &Grant{Lease: tok, ExpiresAt: exp, Device: d, Product: prod}, nil
}

// BlockDevice blocks a device: its seat slot is freed, its leases are
// revoked and renewal is refused.
func (e *Engine) BlockDevice(ctx context.Context, tenantID, deviceID string, actor Actor) error {
	if err := e.st.SetDeviceState(ctx, tenantID, deviceID, store.DeviceBlocked); err != nil {
		return err
	}
	if err := e.st.RevokeDeviceLeases(ctx, tenantID, deviceID, store.Timestamp(e.now())); err != nil {
		return err
	}
	return e.deviceAudit(ctx, tenantID, deviceID, actor, "device.block")
}

// UnbindDevice removes a device from its seat; the user may sign in again
// on it, or on another device in its place.
func (e *Engine) UnbindDevice(ctx context.Context, tenantID, deviceID string, actor Actor) error {
	if err := e.st.RevokeDeviceLeases(ctx, tenantID, deviceID, store.Timestamp(e.now())); err != nil {
		return err
	}
	if err := e.st.UnbindDevice(ctx, tenantID, deviceID); err != nil {
		return err
	}
	return e.deviceAudit(ctx, tenantID, deviceID, actor, "device.unbind")
}

func (e *Engine) deviceAudit(ctx context.Context, tenantID, deviceID string, actor Actor, action string) error {
	return e.st.AppendAudit(ctx, &store.AuditEvent{TenantID: tenantID, ID: store.NewID(), At: store.Timestamp(e.now()),
		Actor: string(actor), Action: action, TargetType: "device", TargetID: deviceID})
}

// MoveDevice hands a device to another user of the tenant who holds an
// active seat of the same product (the seeds' "move license across
// devices"): its leases are revoked, so the previous user's app must sign
// in again, and the new user's seat counts it against the device limit.
func (e *Engine) MoveDevice(ctx context.Context, tenantID, deviceID, toUserID string, actor Actor) (*store.Device, error) {
	d, err := e.st.GetDevice(ctx, tenantID, deviceID)
	if err != nil {
		return nil, err
	}
	if d.State == store.DeviceBlocked {
		return nil, &store.ErrInvalid{Field: "device", Reason: "the device is blocked; unblock it before moving it"}
	}
	if d.UserID == toUserID {
		return d, nil
	}
	to, err := e.st.GetUser(ctx, tenantID, toUserID)
	if err != nil {
		return nil, err
	}
	if !to.Active {
		return nil, &store.ErrInvalid{Field: "to", Reason: "the receiving user is inactive"}
	}
	pool, err := e.st.GetPoolByProduct(ctx, tenantID, d.ProductID)
	if err != nil {
		return nil, err
	}
	a, err := e.st.GetAssignment(ctx, tenantID, pool.ID, toUserID)
	if err != nil || a.State != store.AssignActive {
		return nil, &store.ErrInvalid{Field: "to", Reason: "the receiving user has no active license for this product; assign one first"}
	}
	if err := e.st.RevokeDeviceLeases(ctx, tenantID, d.ID, store.Timestamp(e.now())); err != nil {
		return nil, err
	}
	if err := e.st.UnbindDevice(ctx, tenantID, d.ID); err != nil {
		return nil, err
	}
	moved := &store.Device{TenantID: tenantID, ProductID: d.ProductID, DeviceCode: d.DeviceCode, Name: d.Name,
		UserID: toUserID, AssignmentID: a.ID, State: store.DeviceActive, LastSeenAt: d.LastSeenAt}
	if err := e.st.BindDevice(ctx, moved, pool.MaxDevicesPerSeat); err != nil {
		// Put it back where it was rather than leave it nowhere.
		back := &store.Device{TenantID: tenantID, ProductID: d.ProductID, DeviceCode: d.DeviceCode, Name: d.Name,
			UserID: d.UserID, AssignmentID: d.AssignmentID, State: store.DeviceActive, LastSeenAt: d.LastSeenAt}
		if berr := e.st.BindDevice(ctx, back, 0); berr != nil {
			e.log.ErrorContext(ctx, "moving a device failed and it could not be bound back", "device", d.DeviceCode, "err", berr)
		}
		return nil, err
	}
	if err := e.deviceAudit(ctx, tenantID, moved.ID, actor, "device.move"); err != nil {
		return moved, err
	}
	return moved, nil
}
