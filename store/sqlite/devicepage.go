package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/roster-scim/roster/store"
)

var _ store.DevicePager = (*Store)(nil)

const deviceColsD = `d.tenant_id, d.id, d.product_id, d.device_code, d.name, d.user_id, d.assignment_id, d.state, d.last_seen, d.version, d.created, d.updated`

// ListDevicesPage walks the devices in the order of their unique key
// (tenant, product, code), so a page reads its own rows plus one pool
// and one assignment by key for each device looked at.
func (s *Store) ListDevicesPage(ctx context.Context, tenantID string, q store.DeviceQuery) (*store.DevicePage, error) {
	var b strings.Builder
	b.WriteString(`SELECT ` + deviceColsD + `, ` + seatColsA + ` FROM devices d
		LEFT JOIN pools p ON p.tenant_id = d.tenant_id AND p.product_id = d.product_id
		LEFT JOIN assignments a ON a.tenant_id = d.tenant_id AND a.pool_id = p.id AND a.user_id = d.user_id
		WHERE d.tenant_id = ?`)
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
	items, err := list(ctx, s.rd, scanDeviceSeat, b.String(), args...)
	if err != nil {
		return nil, err
	}
	p := &store.DevicePage{}
	if len(items) > limit {
		items, p.More = items[:limit], true
	}
	for _, it := range items {
		p.Devices = append(p.Devices, it.d)
		p.Seats = append(p.Seats, it.a)
	}
	return p, nil
}

// seatColsA are assignCols for a LEFT JOIN: a device whose user has no
// seat reads a.id as NULL, and the rest as zeros.
const seatColsA = `a.id IS NOT NULL, COALESCE(a.tenant_id, ''), COALESCE(a.id, ''), COALESCE(a.pool_id, ''), COALESCE(a.user_id, ''),
	COALESCE(a.state, ''), COALESCE(a.reason, ''), COALESCE(a.sources, '[]'), COALESCE(a.over, 0), COALESCE(a.version, 0),
	COALESCE(a.created, 0), COALESCE(a.updated, 0),
	(SELECT COUNT(*) FROM devices x WHERE x.tenant_id = a.tenant_id AND x.assignment_id = a.id AND x.state = 'active')`

type deviceSeat struct {
	d *store.Device
	a *store.Assignment
}

func scanDeviceSeat(sc scanner) (*deviceSeat, error) {
	d, a := new(store.Device), new(store.Assignment)
	var seen sql.NullInt64
	var dCreated, dUpdated, aCreated, aUpdated int64
	var hasSeat bool
	var sources string
	if err := sc.Scan(&d.TenantID, &d.ID, &d.ProductID, &d.DeviceCode, &d.Name, &d.UserID, &d.AssignmentID, &d.State,
		&seen, &d.Version, &dCreated, &dUpdated,
		&hasSeat, &a.TenantID, &a.ID, &a.PoolID, &a.UserID, &a.State, &a.Reason, &sources, &a.Over,
		&a.Version, &aCreated, &aUpdated, &a.Devices); err != nil {
		return nil, err
	}
	d.LastSeenAt, d.CreatedAt, d.UpdatedAt = fromMS(seen), msTime(dCreated), msTime(dUpdated)
	if !hasSeat {
		return &deviceSeat{d: d}, nil
	}
	if err := json.Unmarshal([]byte(sources), &a.Sources); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = msTime(aCreated), msTime(aUpdated)
	return &deviceSeat{d: d, a: a}, nil
}
