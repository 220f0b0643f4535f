package store

import (
	"errors"
	"fmt"
)

// Sentinel errors every backend returns, so each door maps them once
// (SCIM to status + scimType, portal and API to a message).
var (
	// ErrNotFound: the record does not exist in this tenant. A record of
	// another tenant is reported exactly like a missing one.
	ErrNotFound = errors.New("not found")
	// ErrPrecondition: a compare-and-set write saw a different version.
	ErrPrecondition = errors.New("version mismatch")
	// ErrNoSeats: the pool has no free seat and its policy denies overage.
	ErrNoSeats = errors.New("no seats available")
	// ErrDeviceLimit: the seat already has maxDevicesPerSeat devices bound.
	ErrDeviceLimit = errors.New("device limit reached")
	// ErrExpired: the pool (or invitation) is outside its validity window.
	ErrExpired = errors.New("expired")
)

// ErrConflict reports a uniqueness violation on Attr (for example
// "userName", "externalId", "displayName", "deviceCode").
type ErrConflict struct {
	Attr string
}

func (e *ErrConflict) Error() string { return fmt.Sprintf("%s already exists", e.Attr) }

// ErrInvalid reports a value a store refuses to write.
type ErrInvalid struct {
	Field  string
	Reason string
}

func (e *ErrInvalid) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason) }

// IsConflict reports whether err is (or wraps) an *ErrConflict and returns it.
func IsConflict(err error) (*ErrConflict, bool) {
	var c *ErrConflict
	ok := errors.As(err, &c)
	return c, ok
}

// IsInvalid reports whether err is (or wraps) an *ErrInvalid and returns it.
func IsInvalid(err error) (*ErrInvalid, bool) {
	var c *ErrInvalid
	ok := errors.As(err, &c)
	return c, ok
}
