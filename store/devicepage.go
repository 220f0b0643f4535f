package store

import "context"

// DeviceQuery narrows and pages a tenant's devices (DevicePager).
type DeviceQuery struct {
	// ProductID keeps one product's devices ("" keeps all).
	ProductID string
	// License keeps devices by their user's seat in the pool of the
	// device's product: LicenseActive (an active seat), LicenseNone (no
	// seat, or one that is not active), LicenseWaiting (waiting for a
	// seat); "" keeps all.
	License string
	// State keeps devices in this state (DeviceActive, DeviceBlocked;
	// "" keeps all).
	State  string
	Offset int
	Limit  int
}

// DeviceQuery.License values.
const (
	LicenseActive  = "licensed"
	LicenseNone    = "unlicensed"
	LicenseWaiting = "waiting"
)

// DevicePage is one page of devices, ordered by product, then device
// code; More says that devices follow it.
type DevicePage struct {
	Devices []*Device
	// Seats[i] is the assignment of Devices[i]'s user in the pool of
	// its product (nil: none), read with the page.
	Seats []*Assignment
	More  bool
}

// DevicePager is an optional fast path for a door that shows a tenant's
// devices a page at a time (the portal's Devices & Licenses screen): a
// page costs its own size, not the tenant's number of devices. Without
// it a caller lists every device (Devices.ListDevices) and pages them
// itself.
type DevicePager interface {
	ListDevicesPage(ctx context.Context, tenantID string, q DeviceQuery) (*DevicePage, error)
}
