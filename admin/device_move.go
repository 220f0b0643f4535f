package admin

import (
	"errors"

	"github.com/roster-scim/roster/store"
)

// moveDeviceData is the Move device page: the seeds' "move license across
// devices" seen from the device, which goes to another user who holds a
// license of its product.
type moveDeviceData struct {
	Device     *store.Device
	Product    string
	FromName   string
	FromUser   string
	Candidates []moveCandidate
	Action     string
	Cancel     string
	UserName   string
	Error      string
}

// moveCandidatesMax bounds the users offered as a list; anyone else is
// named by username.
const moveCandidatesMax = 50

func (s *server) moveDeviceData(c *rc, deviceID string) (*moveDeviceData, error) {
	dv, err := s.st.GetDevice(c.ctx(), c.tenant.ID, deviceID)
	if err != nil {
		return nil, err
	}
	k, err := s.catalog(c.ctx(), c.tenant.ID)
	if err != nil {
		return nil, err
	}
	d := &moveDeviceData{Device: dv, Product: k.ProductName(dv.ProductID), Action: c.T("devices", dv.ID, "move"),
		Cancel: c.returnTo(c.T("devices"))}
	if from, err := s.st.GetUser(c.ctx(), c.tenant.ID, dv.UserID); err == nil {
		d.FromName, d.FromUser = fullName(from), from.UserName
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	pool := k.PoolOfProduct(dv.ProductID)
	if pool == nil {
		return d, nil
	}
	// Offer the users of the screen who hold a seat of the product: a
	// page of licensed devices where the store pages them, else the
	// pool's seats.
	var userIDs []string
	pg, paged, err := devicePage(c, s.st, store.DeviceQuery{ProductID: dv.ProductID, License: store.LicenseActive, Limit: 4 * moveCandidatesMax})
	switch {
	case err != nil:
		return nil, err
	case paged:
		for _, x := range pg.Devices {
			userIDs = append(userIDs, x.UserID)
		}
	default:
		as, err := s.st.ListAssignments(c.ctx(), c.tenant.ID, store.AssignmentQuery{PoolID: pool.ID, State: store.AssignActive})
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			userIDs = append(userIDs, a.UserID)
		}
	}
	seen := map[string]bool{dv.UserID: true}
	for _, id := range userIDs {
		if seen[id] || len(d.Candidates) >= moveCandidatesMax {
			continue
		}
		seen[id] = true
		u, err := s.st.GetUser(c.ctx(), c.tenant.ID, id)
		if err != nil || !u.Active {
			continue
		}
		d.Candidates = append(d.Candidates, moveCandidate{ID: u.ID, Name: fullName(u), UserName: u.UserName})
	}
	return d, nil
}

func (s *server) moveDevicePage(c *rc) error {
	d, err := s.moveDeviceData(c, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.show("move_device", "Move device", "devices", d)
}

func (s *server) moveDevice(c *rc) error {
	if err := c.form(); err != nil {
		return err
	}
	d, err := s.moveDeviceData(c, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	to, typed, problem, err := s.recipient(c, "device")
	if err != nil {
		return err
	}
	if problem != "" {
		d.UserName, d.Error = typed, problem
		return c.showStatus(422, "move_device", "Move device", "devices", d)
	}
	moved, err := s.eng.MoveDevice(c.ctx(), c.tenant.ID, d.Device.ID, to, c.actor())
	if err != nil {
		ue := asUserError(err)
		if ue == nil {
			return err
		}
		d.Error = ue.Msg
		return c.showStatus(ue.Status, "move_device", "Move device", "devices", d)
	}
	who := "another user"
	if u, err := s.st.GetUser(c.ctx(), c.tenant.ID, moved.UserID); err == nil {
		who = u.UserName
	}
	return c.redirect(d.Cancel, "Device "+moved.DeviceCode+" moved to "+who+"; its app signs in again.")
}
