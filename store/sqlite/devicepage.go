package sqlite

import (
	"context"
	"strings"

	"github.com/roster-scim/roster/store"
)

var _ store.DevicePager = (*Store)(nil)

const deviceColsD = `d.tenant_id, d.id, d.product_id, d.device_code, d.name, d.user_id, d.assignment_id, d.state, d.last_seen, d.version, d.created, d.updated`

// ListDevicesPage walks the devices in the order of their unique key
// (tenant, product, code), so a page reads its own rows plus, with a
// license filter, one pool and one assignment by key for each device
// looked at.
func (s *Store) ListDevicesPage(ctx context.Context, tenantID string, q store.DeviceQuery) (*store.DevicePage, error) {
	var b strings.Builder
	b.WriteString(`SELECT ` + deviceColsD + ` FROM devices d`)
	if q.License != "" {
		b.WriteString(` LEFT JOIN pools p ON p.tenant_id = d.tenant_id AND p.product_id = d.product_id
			LEFT JOIN assignments a ON a.tenant_id = d.tenant_id AND a.pool_id = p.id AND a.user_id = d.user_id`)
	}
	b.WriteString(` WHERE d.tenant_id = ?`)
	args := []any{tenantID}
	if q.ProductID != "" {
		b.WriteString(` AND d.product_id = ?`)
		args = append(args, q.ProductID)
	}
	if q.State != "" {
		b.WriteString(` AND d.state = ?`)
		args = append(args, q.State)
	}
	switch q.License {
	case "":
	case store.LicenseActive:
		b.WriteString(` AND a.state = 'active'`)
	case store.LicenseNone:
		b.WriteString(` AND (a.state IS NULL OR a.state <> 'active')`)
	case store.LicenseWaiting:
		b.WriteString(` AND a.state = 'waiting'`)
	default:
		return nil, &store.ErrInvalid{Field: "license", Reason: "unknown license filter " + q.License}
	}
	limit := max(q.Limit, 0)
	b.WriteString(` ORDER BY d.product_id, d.device_code LIMIT ? OFFSET ?`)
	args = append(args, limit+1, max(q.Offset, 0))
	devs, err := list(ctx, s.rd, scanDevice, b.String(), args...)
	if err != nil {
		return nil, err
	}
	p := &store.DevicePage{Devices: devs}
	if len(devs) > limit {
		p.Devices, p.More = devs[:limit], true
	}
	return p, nil
}
