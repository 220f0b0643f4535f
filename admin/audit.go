package admin

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"time"

	"github.com/roster-scim/roster/store"
)

// auditRow is one event as the pages show it.
type auditRow struct {
	At      time.Time
	Actor   string
	Action  string // the code, e.g. "seat.assign"
	Label   string // what it means
	Target  string
	Reason  string
	Details string
}

// actionLabels say what an audit action code means.
var actionLabels = map[string]string{
	"user.create":            "Created user",
	"user.update":            "Edited user",
	"user.delete":            "Removed user",
	"user.deactivate":        "Deactivated user",
	"user.reactivate":        "Reactivated user",
	"user.note":              "Edited note",
	"user.admin.grant":       "Gave administrator rights",
	"user.admin.revoke":      "Took administrator rights",
	"invitation.activate":    "Sent invitation",
	"invitation.reset":       "Sent password reset",
	"user.password.activate": "Activated account",
	"user.password.reset":    "Set a new password",
	"seat.assign":            "Assigned seat",
	"seat.unassign":          "Unassigned seat",
	"seat.release":           "Released seat",
	"seat.suspend":           "Suspended seat",
	"seat.wait":              "Put on waiting list",
	"seat.refuse":            "Refused seat",
	"seat.move.in":           "Received moved seat",
	"seat.move.out":          "Moved seat away",
	"pool.create":            "Created pool",
	"pool.update":            "Changed pool",
	"pool.resize":            "Resized pool",
	"pool.end":               "Ended pool",
	"pool.reprocess":         "Reprocessed licenses",
	"rule.create":            "Added license rule",
	"rule.delete":            "Removed license rule",
	"device.block":           "Blocked device",
	"device.unbind":          "Unbound device",
	"device.move":            "Moved device",
	"token.create":           "Created SCIM token",
	"token.revoke":           "Revoked SCIM token",
	"tenant.create":          "Created account",
	"tenant.update":          "Changed account",
	"tenant.suspend":         "Suspended account",
	"tenant.unsuspend":       "Reactivated account",
	"settings.update":        "Changed settings",
	"seat-request.create":    "Requested seats",
	"seat-request.approve":   "Approved seat request",
	"seat-request.reject":    "Rejected seat request",
	"product.create":         "Created product",
	"product.update":         "Changed product",
	"import.submit":          "Uploaded import file",
	"import.done":            "Finished import",
	actionImportRefused:      "Refused import file",
}

func auditRows(evs []*store.AuditEvent) []auditRow {
	rows := make([]auditRow, 0, len(evs))
	for _, e := range evs {
		r := auditRow{At: e.At, Actor: e.Actor, Action: e.Action, Label: actionLabels[e.Action], Reason: e.Reason, Target: e.TargetID}
		if r.Label == "" {
			r.Label = e.Action
		}
		for _, j := range []string{e.After, e.Before} {
			var m map[string]any
			if json.Unmarshal([]byte(j), &m) == nil {
				if n, ok := m["userName"].(string); ok && n != "" {
					r.Target = n
					break
				}
			}
		}
		if e.After != "" && e.Action != "user.create" && e.Action != "user.update" {
			r.Details = e.After
		}
		rows = append(rows, r)
	}
	return rows
}

// auditData is the Audit log page.
type auditData struct {
	Actor, Action, Target, Since, Until string
	Rows                                []auditRow
	OlderURL                            string
	Actions                             []string
	Error                               string
}

const auditPerPage = 50

func (s *server) auditPage(c *rc) error {
	qv := c.r.URL.Query()
	d := &auditData{Actor: qv.Get("actor"), Action: qv.Get("action"), Target: qv.Get("target"), Since: qv.Get("since"), Until: qv.Get("until")}
	for a := range actionLabels {
		d.Actions = append(d.Actions, a)
	}
	slices.Sort(d.Actions)
	q := store.AuditQuery{Actor: d.Actor, Action: d.Action, Limit: auditPerPage, Before: qv.Get("before")}
	if d.Target != "" {
		q.TargetID = d.Target
		// An admin thinks of users by their username, the log by id.
		if u, err := s.st.GetUserByUserName(c.ctx(), c.tenant.ID, d.Target); err == nil {
			q.TargetID = u.ID
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	var err error
	if d.Since != "" {
		if q.Since, err = time.Parse("2006-01-02", d.Since); err != nil {
			d.Error = "Dates look like 2026-01-31."
		}
	}
	if d.Until != "" {
		t, perr := time.Parse("2006-01-02", d.Until)
		if perr != nil {
			d.Error = "Dates look like 2026-01-31."
		}
		q.Until = t.Add(24*time.Hour - time.Millisecond) // the whole day
	}
	if d.Error == "" {
		evs, err := s.st.ListAudit(c.ctx(), c.tenant.ID, q)
		if err != nil {
			return err
		}
		d.Rows = auditRows(evs)
		if len(evs) == auditPerPage {
			v := url.Values{}
			for k, val := range map[string]string{"actor": d.Actor, "action": d.Action, "target": d.Target, "since": d.Since, "until": d.Until} {
				if val != "" {
					v.Set(k, val)
				}
			}
			v.Set("before", evs[len(evs)-1].ID)
			d.OlderURL = c.T("audit") + "?" + v.Encode()
		}
	}
	return c.show("audit", "Audit log", "audit", d)
}

// randomSecret is 32 random bytes, base64url: the secret of an invitation
// link, of which only the hash is stored.
func randomSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
