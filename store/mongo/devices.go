package mongo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mongodrv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/roster-scim/roster/store"
)

// Device limits work like seats, on a smaller scale: an assignment
// document carries the ids of the devices using its seat in a "slots"
// array, and a device takes a slot with one conditional $push that
// matches only while the array is shorter than the limit and does not
// hold the device yet. The device document is written after its slot, so
// a crash in between leaves a slot held by no device (a leak), which any
// bind finding the seat full, and Recount, take back once it is older
// than the grace period. Assignment.Devices is the number of slots.

type deviceDoc struct {
	ID           string    `bson:"_id"`
	TenantID     string    `bson:"tenantId"`
	ProductID    string    `bson:"productId"`
	DeviceCode   string    `bson:"deviceCode"`
	Name         string    `bson:"name,omitempty"`
	UserID       string    `bson:"userId"`
	AssignmentID string    `bson:"assignmentId,omitempty"`
	State        string    `bson:"state"`
	LastSeenAt   time.Time `bson:"lastSeenAt,omitempty"`
	Version      int64     `bson:"version"`
	CreatedAt    time.Time `bson:"createdAt"`
	UpdatedAt    time.Time `bson:"updatedAt"`
}

func (d *deviceDoc) record() *store.Device {
	return &store.Device{TenantID: d.TenantID, ID: d.ID, ProductID: d.ProductID, DeviceCode: d.DeviceCode, Name: d.Name,
		UserID: d.UserID, AssignmentID: d.AssignmentID, State: d.State, LastSeenAt: d.LastSeenAt, Version: d.Version,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
}

// takeSlot gives device devID a slot on assignment a (limit 0: none). It
// reports ErrDeviceLimit when every slot is held by a live device.
func (s *Store) takeSlot(ctx context.Context, tenantID, assignmentID, devID string, limit int, requireActive bool) error {
	for gc := 0; ; gc++ {
		filter := append(idFilter(tenantID, assignmentID), bson.E{Key: "slots.d", Value: bson.D{{Key: "$ne", Value: devID}}})
		if limit > 0 {
			filter = append(filter, bson.E{Key: "slots." + strconv.Itoa(limit-1), Value: bson.D{{Key: "$exists", Value: false}}})
		}
		if requireActive {
			filter = append(filter, bson.E{Key: "state", Value: store.AssignActive})
		}
		res, err := s.c.assignments.UpdateOne(ctx, filter,
			bson.D{{Key: "$push", Value: bson.D{{Key: "slots", Value: slot{D: devID, At: now()}}}}})
		if err != nil {
			return mapErr(err, collAssignments)
		}
		if res.MatchedCount == 1 {
			return nil
		}
		a, err := findOne[assignmentDoc](ctx, s.c.assignments, idFilter(tenantID, assignmentID))
		if err != nil {
			return err
		}
		switch {
		case requireActive && a.State != store.AssignActive:
			return &store.ErrInvalid{Field: "assignmentId", Reason: "seat is not active"}
		case a.holds(devID):
			return nil
		case gc > 0:
			return store.ErrDeviceLimit
		}
		if n, err := s.collectSlots(ctx, a); err != nil {
			return err
		} else if n == 0 {
			return store.ErrDeviceLimit
		}
	}
}

func (a *assignmentDoc) holds(devID string) bool {
	for _, sl := range a.Slots {
		if sl.D == devID {
			return true
		}
	}
	return false
}

// releaseSlot frees devID's slot on an assignment (if it holds one).
func (s *Store) releaseSlot(ctx context.Context, tenantID, assignmentID, devID string) error {
	if assignmentID == "" {
		return nil
	}
	_, err := s.c.assignments.UpdateOne(ctx, idFilter(tenantID, assignmentID),
		bson.D{{Key: "$pull", Value: bson.D{{Key: "slots", Value: bson.D{{Key: "d", Value: devID}}}}}})
	return mapErr(err, collAssignments)
}

// collectSlots frees the slots of a whose device is not an active device
// bound to a and that are older than the grace period (a bind in flight
// writes its device just after its slot). It returns how many it freed.
func (s *Store) collectSlots(ctx context.Context, a *assignmentDoc) (int, error) {
	if len(a.Slots) == 0 {
		return 0, nil
	}
	ids := make([]string, len(a.Slots))
	for i, sl := range a.Slots {
		ids[i] = sl.D
	}
	live, err := s.distinctStrings(ctx, s.c.devices, "_id", bson.D{{Key: "tenantId", Value: a.TenantID},
		{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}, {Key: "assignmentId", Value: a.ID}, {Key: "state", Value: store.DeviceActive}})
	if err != nil {
		return 0, err
	}
	alive := make(map[string]bool, len(live))
	for _, id := range live {
		alive[id] = true
	}
	cutoff := now().Add(-s.grace)
	freed := 0
	for _, sl := range a.Slots {
		if alive[sl.D] || !sl.At.Before(cutoff) {
			continue
		}
		res, err := s.c.assignments.UpdateOne(ctx, idFilter(a.TenantID, a.ID),
			bson.D{{Key: "$pull", Value: bson.D{{Key: "slots", Value: bson.D{{Key: "d", Value: sl.D}, {Key: "at", Value: sl.At}}}}}})
		if err != nil {
			return freed, mapErr(err, collAssignments)
		}
		freed += int(res.ModifiedCount)
	}
	return freed, nil
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
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var out *deviceDoc
	err := retryIntent(ctx, func() error {
		var err error
		out, err = s.bindOnce(ctx, d, maxPerSeat)
		return err
	})
	if err != nil {
		return err
	}
	*d = *out.record()
	return nil
}

func (s *Store) bindOnce(ctx context.Context, d *store.Device, maxPerSeat int) (*deviceDoc, error) {
	t := now()
	seen := stamp(d.LastSeenAt)
	if seen.IsZero() {
		seen = t
	}
	a, err := findOne[assignmentDoc](ctx, s.c.assignments, idFilter(d.TenantID, d.AssignmentID))
	if err != nil {
		return nil, err
	}
	pool, err := findOne[poolDoc](ctx, s.c.pools, idFilter(d.TenantID, a.PoolID), options.FindOne().SetProjection(bson.D{{Key: "productId", Value: 1}}))
	if err != nil {
		return nil, err
	}
	productID := pool.ProductID
	switch {
	case d.UserID != "" && a.UserID != d.UserID:
		return nil, &store.ErrInvalid{Field: "assignmentId", Reason: "seat belongs to another user"}
	case a.State != store.AssignActive:
		return nil, &store.ErrInvalid{Field: "assignmentId", Reason: "seat is not active"}
	case d.ProductID != "" && d.ProductID != productID:
		return nil, &store.ErrInvalid{Field: "productId", Reason: "seat is of another product"}
	}
	cur, err := findOne[deviceDoc](ctx, s.c.devices, bson.D{{Key: "tenantId", Value: d.TenantID}, {Key: "productId", Value: productID},
		{Key: "deviceCode", Value: d.DeviceCode}})
	switch {
	case errors.Is(err, store.ErrNotFound):
		cur = nil
	case err != nil:
		return nil, err
	case cur.State == store.DeviceBlocked:
		return nil, &store.ErrInvalid{Field: "deviceCode", Reason: "device is blocked"}
	case cur.UserID != a.UserID && cur.AssignmentID != "":
		return nil, &store.ErrConflict{Attr: "deviceCode"}
	}
	devID := d.ID
	if cur != nil {
		devID = cur.ID
	} else if devID == "" {
		devID = store.NewID()
	}
	took := false
	if cur == nil || cur.AssignmentID != d.AssignmentID || !a.holds(devID) {
		if err := s.takeSlot(ctx, d.TenantID, a.ID, devID, maxPerSeat, true); err != nil {
			return nil, err
		}
		took = true
	}
	if err := s.step("bind.slot"); err != nil {
		return nil, err
	}
	undo := func(err error) (*deviceDoc, error) {
		if took {
			if rerr := s.releaseSlot(ctx, d.TenantID, a.ID, devID); rerr != nil {
				return nil, rerr
			}
		}
		return nil, err
	}
	if cur == nil {
		nd := &deviceDoc{ID: devID, TenantID: d.TenantID, ProductID: productID, DeviceCode: d.DeviceCode, Name: d.Name,
			UserID: a.UserID, AssignmentID: a.ID, State: store.DeviceActive, LastSeenAt: seen, Version: 1, CreatedAt: t, UpdatedAt: t}
		if _, err := s.c.devices.InsertOne(ctx, nd); err != nil {
			err = mapErr(err, collDevices)
			if c, ok := store.IsConflict(err); ok && c.Attr == "deviceCode" {
				err = errRetry // bound concurrently: decide again on the stored device
			}
			return undo(err)
		}
		return nd, nil
	}
	set := bson.D{{Key: "userId", Value: a.UserID}, {Key: "assignmentId", Value: a.ID}, {Key: "state", Value: store.DeviceActive},
		{Key: "lastSeenAt", Value: seen}, {Key: "updatedAt", Value: t}}
	if d.Name != "" {
		set = append(set, bson.E{Key: "name", Value: d.Name})
	}
	var nd deviceDoc
	err = s.c.devices.FindOneAndUpdate(ctx, match(cur.TenantID, cur.ID, bson.E{Key: "version", Value: cur.Version}),
		bson.D{{Key: "$set", Value: set}, {Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&nd)
	if errors.Is(err, mongodrv.ErrNoDocuments) {
		return undo(errRetry)
	}
	if err != nil {
		return undo(mapErr(err, collDevices))
	}
	if cur.AssignmentID != "" && cur.AssignmentID != a.ID {
		if err := s.releaseSlot(ctx, d.TenantID, cur.AssignmentID, cur.ID); err != nil {
			return nil, err
		}
	}
	return &nd, nil
}

// GetDevice reads a device.
func (s *Store) GetDevice(ctx context.Context, tenantID, id string) (*store.Device, error) {
	d, err := findOne[deviceDoc](ctx, s.c.devices, idFilter(tenantID, id))
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// GetDeviceByCode reads the device with a code of a product.
func (s *Store) GetDeviceByCode(ctx context.Context, tenantID, productID, code string) (*store.Device, error) {
	d, err := findOne[deviceDoc](ctx, s.c.devices, bson.D{{Key: "tenantId", Value: tenantID}, {Key: "productId", Value: productID},
		{Key: "deviceCode", Value: code}})
	if err != nil {
		return nil, err
	}
	return d.record(), nil
}

// UnbindDevice deletes the device, then frees its slot (a crash between
// the two leaks the slot until it is collected, never the reverse).
func (s *Store) UnbindDevice(ctx context.Context, tenantID, id string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var d deviceDoc
	err := s.c.devices.FindOneAndDelete(ctx, idFilter(tenantID, id)).Decode(&d)
	if err != nil {
		return mapErr(err, collDevices)
	}
	return s.releaseSlot(ctx, tenantID, d.AssignmentID, d.ID)
}

// SetDeviceState blocks (freeing the seat slot) or unblocks a device.
// Unblocking a device still bound to a seat takes its slot back, so it is
// ErrDeviceLimit when the pool's MaxDevicesPerSeat slots are in use.
func (s *Store) SetDeviceState(ctx context.Context, tenantID, id, state string) error {
	if state != store.DeviceActive && state != store.DeviceBlocked {
		return &store.ErrInvalid{Field: "state", Reason: "must be active or blocked"}
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	return retryIntent(ctx, func() error {
		d, err := findOne[deviceDoc](ctx, s.c.devices, idFilter(tenantID, id))
		if err != nil {
			return err
		}
		if d.State == state {
			return nil
		}
		took := false
		if state == store.DeviceActive && d.AssignmentID != "" {
			limit, err := s.deviceLimit(ctx, tenantID, d.AssignmentID)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return err
			default:
				if err := s.takeSlot(ctx, tenantID, d.AssignmentID, d.ID, limit, false); err != nil {
					return err
				}
				took = true
			}
		}
		res, err := s.c.devices.UpdateOne(ctx, match(d.TenantID, d.ID, bson.E{Key: "version", Value: d.Version}),
			bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: state}, {Key: "updatedAt", Value: now()}}},
				{Key: "$inc", Value: bson.D{{Key: "version", Value: 1}}}})
		if err == nil && res.MatchedCount == 0 {
			err = errRetry
		}
		if err != nil {
			if took {
				if rerr := s.releaseSlot(ctx, tenantID, d.AssignmentID, d.ID); rerr != nil {
					return rerr
				}
			}
			return mapErrKeep(err, collDevices)
		}
		if state == store.DeviceBlocked {
			return s.releaseSlot(ctx, tenantID, d.AssignmentID, d.ID)
		}
		return nil
	})
}

// mapErrKeep is mapErr that lets errRetry through.
func mapErrKeep(err error, coll string) error {
	if errors.Is(err, errRetry) {
		return err
	}
	return mapErr(err, coll)
}

// deviceLimit is MaxDevicesPerSeat of the assignment's pool.
func (s *Store) deviceLimit(ctx context.Context, tenantID, assignmentID string) (int, error) {
	a, err := findOne[assignmentDoc](ctx, s.c.assignments, idFilter(tenantID, assignmentID), options.FindOne().SetProjection(bson.D{{Key: "poolId", Value: 1}}))
	if err != nil {
		return 0, err
	}
	p, err := findOne[poolDoc](ctx, s.c.pools, idFilter(tenantID, a.PoolID), options.FindOne().SetProjection(bson.D{{Key: "maxDevicesPerSeat", Value: 1}}))
	if err != nil {
		return 0, err
	}
	if p.MaxDevicesPerSeat < 0 {
		return 0, fmt.Errorf("mongo: pool %s: negative device limit", a.PoolID)
	}
	return p.MaxDevicesPerSeat, nil
}

// ListDevices lists the tenant's devices (all of them when userID is ""),
// oldest first.
func (s *Store) ListDevices(ctx context.Context, tenantID string, userID string) ([]*store.Device, error) {
	filter := bson.D{{Key: "tenantId", Value: tenantID}}
	if userID != "" {
		filter = append(filter, bson.E{Key: "userId", Value: userID})
	}
	ds, err := findAll[deviceDoc](ctx, s.c.devices, filter, options.Find().SetSort(sortBy("createdAt", 1, "_id", 1)))
	if err != nil {
		return nil, err
	}
	out := make([]*store.Device, len(ds))
	for i := range ds {
		out[i] = ds[i].record()
	}
	return out, nil
}
