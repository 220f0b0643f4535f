package sqlite

import (
	"time"

	"github.com/roster-scim/roster/store"
)

// userDoc is store.User as the doc column stores it: the same fields in
// the same order, so a *store.User converts to a *userDoc for free, but
// with short JSON names, empty values left out and the fields kept in
// columns (ids, version, times) not stored twice. A smaller document is
// faster to encode on every write and to decode on every read. Because
// the conversion needs identical fields, a field added to store.User
// without being added here breaks the build instead of going unsaved.
type userDoc struct {
	TenantID          string             `json:"-"`
	ID                string             `json:"-"`
	ExternalID        string             `json:"xid,omitempty"`
	UserName          string             `json:"un,omitempty"`
	Name              store.Name         `json:"name,omitzero"`
	DisplayName       string             `json:"dn,omitempty"`
	NickName          string             `json:"nick,omitempty"`
	ProfileURL        string             `json:"url,omitempty"`
	Title             string             `json:"title,omitempty"`
	UserType          string             `json:"type,omitempty"`
	PreferredLanguage string             `json:"lang,omitempty"`
	Locale            string             `json:"locale,omitempty"`
	Timezone          string             `json:"tz,omitempty"`
	Active            bool               `json:"active,omitempty"`
	Emails            []store.MultiValue `json:"emails,omitempty"`
	PhoneNumbers      []store.MultiValue `json:"phones,omitempty"`
	PasswordHash      string             `json:"pw,omitempty"`
	Notes             string             `json:"notes,omitempty"`
	Permissions       []string           `json:"perms,omitempty"`
	AccountAdmin      bool               `json:"admin,omitempty"`
	CustomerCode      string             `json:"cc,omitempty"`
	UDID              string             `json:"udid,omitempty"`
	NoSystemMessages  bool               `json:"nosys,omitempty"`
	Activation        string             `json:"act,omitempty"`
	Extra             map[string]any     `json:"extra,omitempty"`
	Version           int64              `json:"-"`
	CreatedAt         time.Time          `json:"-"`
	UpdatedAt         time.Time          `json:"-"`
}

// groupDoc is store.Group as the doc column stores it (see userDoc).
type groupDoc struct {
	TenantID    string         `json:"-"`
	ID          string         `json:"-"`
	ExternalID  string         `json:"xid,omitempty"`
	DisplayName string         `json:"dn,omitempty"`
	Extra       map[string]any `json:"extra,omitempty"`
	Version     int64          `json:"-"`
	CreatedAt   time.Time      `json:"-"`
	UpdatedAt   time.Time      `json:"-"`
}
