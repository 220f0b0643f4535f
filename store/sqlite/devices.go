package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/roster-scim/roster/store"
)

const deviceCols = `tenant_id, id, product_id, device_code, name, user_id, assignment_id, state, last_seen, version, created, updated`

func scanDevice(sc scanner) (*store.Device, error) {
	d := new(store.Device)
	var seen sql.NullInt64
	var created, updated int64
	if err := sc.Scan(&d.TenantID, &d.ID, &d.ProductID, &d.DeviceCode, &d.Name, &d.UserID, &d.AssignmentID, &d.State,
		&seen, &d.Version, &created, &updated); err != nil {
		return nil, err
	}
	d.LastSeenAt, d.CreatedAt, d.UpdatedAt = fromMS(seen), msTime(created), msTime(updated)
	return d, nil
}

// activeDevices counts the devices using a slot of the assignment's seat,
// leaving out the device with id except (being rebound).
func activeDevices(ctx context.Context, tx *wtx, tenantID, assignmentID, except string) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM devices WHERE tenant_id = ? AND assignment_id = ? AND state = 'active' AND id <> ?`,
		tenantID, assignmentID, except).Scan(&n)
	return n, err
}

// BindDevice binds d.DeviceCode to the user's active assignment
// d.AssignmentID (see store.Devices). A blocked device stays blocked:
// binding it again is ErrInvalid{"deviceCode"} until an admin unblocks it.
// A code left unbound (its seat went away) can be bound by anyone.
func (s *Store) BindDevice(ctx context.Context, d *store.Device, maxPerSeat int) error {
	switch {
	case d.TenantID == "":
		return &store.ErrInvalid{Field: "tenantId", Reason: "required"}
	case d.DeviceCode == "":
		return &store.ErrInvalid{Field: "deviceCode", Reason: "required"}
	case d.AssignmentID == "":
		return &store.ErrInvalid{Field: "assignmentId", Reason: "required"}
	}
	t := now()
	seen := d.LastSeenAt
	if seen.IsZero() {
		seen = t
	}
	seen = store.Timestamp(seen)
	var out *store.Device
	err := s.tx(ctx, func(tx *wtx) error {
		var userID, state, productID string
		err := tx.QueryRowContext(ctx, `SELECT a.user_id, a.state, p.product_id FROM assignments a
			JOIN pools p ON p.tenant_id = a.tenant_id AND p.id = a.pool_id
			WHERE a.tenant_id = ? AND a.id = ?`, d.TenantID, d.AssignmentID).Scan(&userID, &state, &productID)
		if err != nil {
			return notFound(err)
		}
		switch {
		case d.UserID != "" && userID != d.UserID:
			return &store.ErrInvalid{Field: "assignmentId", Reason: "seat belongs to another user"}
		case state != store.AssignActive:
			return &store.ErrInvalid{Field: "assignmentId", Reason: "seat is not active"}
		case d.ProductID != "" && d.ProductID != productID:
			return &store.ErrInvalid{Field: "productId", Reason: "seat is of another product"}
		}
		cur, err := scanDevice(tx.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE tenant_id = ? AND product_id = ? AND device_code = ?`,
			d.TenantID, productID, d.DeviceCode))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			cur = nil
		case err != nil:
			return err
		case cur.State == store.DeviceBlocked:
			return &store.ErrInvalid{Field: "deviceCode", Reason: "device is blocked"}
		case cur.UserID != userID && cur.AssignmentID != "":
			return &store.ErrConflict{Attr: "deviceCode"}
		}
		if cur == nil || cur.AssignmentID != d.AssignmentID {
			except := ""
			if cur != nil {
				except = cur.ID
			}
			n, err := activeDevices(ctx, tx, d.TenantID, d.AssignmentID, except)
			if err != nil {
				return err
			}
			if maxPerSeat > 0 && n >= maxPerSeat {
				return store.ErrDeviceLimit
			}
		}
		if cur == nil {
			nd := *d
			if nd.ID == "" {
				nd.ID = store.NewID()
			}
			nd.ProductID, nd.UserID, nd.State, nd.LastSeenAt = productID, userID, store.DeviceActive, seen
			nd.Version, nd.CreatedAt, nd.UpdatedAt = 1, t, t
			_, err := tx.ExecContext(ctx, `INSERT INTO devices (`+deviceCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
				nd.TenantID, nd.ID, nd.ProductID, nd.DeviceCode, nd.Name, nd.UserID, nd.AssignmentID, nd.State,
				seen.UnixMilli(), t.UnixMilli(), t.UnixMilli())
			if err != nil {
				return constraint(err, map[string]string{"devices.device_code": "deviceCode", "devices.product_id": "deviceCode", "devices.id": "id"}, nil)
			}
			out = &nd
			return nil
		}
		cur.UserID, cur.AssignmentID, cur.State, cur.LastSeenAt = userID, d.AssignmentID, store.DeviceActive, seen
		if d.Name != "" {
			cur.Name = d.Name
		}
		cur.Version++
		cur.UpdatedAt = t
		_, err = tx.ExecContext(ctx, `UPDATE devices SET user_id = ?, assignment_id = ?, state = ?, name = ?, last_seen = ?, version = ?, updated = ?
			WHERE tenant_id = ? AND id = ?`,
			cur.UserID, cur.AssignmentID, cur.State, cur.Name, seen.UnixMilli(), cur.Version, t.UnixMilli(), cur.TenantID, cur.ID)
		out = cur
		return err
	})
	if err != nil {
		return err
	}
	*d = *out
	return nil
}

// GetDevice reads a device.
func (s *Store) GetDevice(ctx context.Context, tenantID, id string) (*store.Device, error) {
	d, err := scanDevice(s.rd.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return d, notFound(err)
}

// GetDeviceByCode reads the device with a code of a product.
func (s *Store) GetDeviceByCode(ctx context.Context, tenantID, productID, code string) (*store.Device, error) {
	d, err := scanDevice(s.rd.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE tenant_id = ? AND product_id = ? AND device_code = ?`,
		tenantID, productID, code))
	return d, notFound(err)
}

// UnbindDevice deletes the device, freeing its slot.
func (s *Store) UnbindDevice(ctx context.Context, tenantID, id string) error {
	res, err := s.wr.ExecContext(ctx, `DELETE FROM devices WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return err
	}
	if rowsAffected(res) == 0 {
		return store.ErrNotFound
	}
	return nil
}

// SetDeviceState blocks (freeing the seat slot) or unblocks a device.
// Unblocking a device still bound to a seat takes its slot back, so it is
// ErrDeviceLimit when the pool's MaxDevicesPerSeat slots are in use.
func (s *Store) SetDeviceState(ctx context.Context, tenantID, id, state string) error {
	if state != store.DeviceActive && state != store.DeviceBlocked {
		return &store.ErrInvalid{Field: "state", Reason: "must be active or blocked"}
	}
	return s.tx(ctx, func(tx *wtx) error {
		d, err := scanDevice(tx.QueryRowContext(ctx, `SELECT `+deviceCols+` FROM devices WHERE tenant_id = ? AND id = ?`, tenantID, id))
		if err != nil {
			return notFound(err)
		}
		if d.State == state {
			return nil
		}
		if state == store.DeviceActive && d.AssignmentID != "" {
			var limit int
			err := tx.QueryRowContext(ctx, `SELECT p.max_devices FROM assignments a JOIN pools p ON p.tenant_id = a.tenant_id AND p.id = a.pool_id
				WHERE a.tenant_id = ? AND a.id = ?`, tenantID, d.AssignmentID).Scan(&limit)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if limit > 0 {
				n, err := activeDevices(ctx, tx, tenantID, d.AssignmentID, d.ID)
				if err != nil {
					return err
				}
				if n >= limit {
					return store.ErrDeviceLimit
				}
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE devices SET state = ?, version = version + 1, updated = ? WHERE tenant_id = ? AND id = ?`,
			state, now().UnixMilli(), tenantID, id)
		return err
	})
}

// ListDevices lists the tenant's devices (all of them when userID is ""),
// oldest first.
func (s *Store) ListDevices(ctx context.Context, tenantID string, userID string) ([]*store.Device, error) {
	if userID == "" {
		return list(ctx, s.rd, scanDevice, `SELECT `+deviceCols+` FROM devices WHERE tenant_id = ? ORDER BY created, id`, tenantID)
	}
	return list(ctx, s.rd, scanDevice, `SELECT `+deviceCols+` FROM devices WHERE tenant_id = ? AND user_id = ? ORDER BY created, id`, tenantID, userID)
}
