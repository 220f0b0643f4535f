package mongo

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/roster-scim/roster/store"
)

// Document shapes. Field names are what an operator sees in mongosh, so
// they are spelled like the SCIM attributes where there is one. Zero times
// and empty optional strings are left out (omitempty), which keeps them
// out of partial indexes and makes "present" mean "set". Slices are never
// omitted, so nil and empty survive a round trip (BSON null vs []).

type nameDoc struct {
	Formatted       string `bson:"formatted,omitempty"`
	FamilyName      string `bson:"familyName,omitempty"`
	GivenName       string `bson:"givenName,omitempty"`
	MiddleName      string `bson:"middleName,omitempty"`
	HonorificPrefix string `bson:"honorificPrefix,omitempty"`
	HonorificSuffix string `bson:"honorificSuffix,omitempty"`
}

type mvDoc struct {
	Value   string `bson:"value,omitempty"`
	Display string `bson:"display,omitempty"`
	Type    string `bson:"type,omitempty"`
	Primary bool   `bson:"primary,omitempty"`
}

// emailKey is one element of a user's emailsNorm: the folded value of the
// e-mail at the same position, absent for an empty value, so value-path
// filters (emails[value sw "a"]) see the same elements the evaluator does.
type emailKey struct {
	V string `bson:"v,omitempty"`
}

type userDoc struct {
	ID                string     `bson:"_id"`
	TenantID          string     `bson:"tenantId"`
	ExternalID        string     `bson:"externalId,omitempty"`
	UserName          string     `bson:"userName"`
	UserNameNorm      string     `bson:"userNameNorm"`
	Name              nameDoc    `bson:"name"`
	DisplayName       string     `bson:"displayName,omitempty"`
	DisplayNameNorm   string     `bson:"displayNameNorm,omitempty"`
	NickName          string     `bson:"nickName,omitempty"`
	ProfileURL        string     `bson:"profileUrl,omitempty"`
	Title             string     `bson:"title,omitempty"`
	UserType          string     `bson:"userType,omitempty"`
	PreferredLanguage string     `bson:"preferredLanguage,omitempty"`
	Locale            string     `bson:"locale,omitempty"`
	Timezone          string     `bson:"timezone,omitempty"`
	Active            bool       `bson:"active"`
	Emails            []mvDoc    `bson:"emails"`
	EmailsNorm        []emailKey `bson:"emailsNorm"`
	EmailSort         string     `bson:"emailSort,omitempty"`
	PhoneNumbers      []mvDoc    `bson:"phoneNumbers"`
	PasswordHash      string     `bson:"passwordHash,omitempty"`
	Notes             string     `bson:"notes,omitempty"`
	Permissions       []string   `bson:"permissions"`
	AccountAdmin      bool       `bson:"accountAdmin,omitempty"`
	CustomerCode      string     `bson:"customerCode,omitempty"`
	UDID              string     `bson:"udid,omitempty"`
	NoSystemMessages  bool       `bson:"noSystemMessages,omitempty"`
	Activation        string     `bson:"activation,omitempty"`
	// Extra is the JSON of User.Extra: the attributes Roster does not
	// model are kept exactly as JSON gave them (numbers stay float64,
	// objects map[string]any), as on every other backend.
	Extra     string    `bson:"extra,omitempty"`
	Version   int64     `bson:"version"`
	CreatedAt time.Time `bson:"createdAt"`
	UpdatedAt time.Time `bson:"updatedAt"`
	// Deleting marks a user whose DeleteUser cascade has begun, so a retry
	// finishes it whatever version it is given.
	Deleting bool `bson:"deleting,omitempty"`
}

func toMVDocs(in []store.MultiValue) []mvDoc {
	if in == nil {
		return nil
	}
	out := make([]mvDoc, len(in))
	for i, m := range in {
		out[i] = mvDoc(m)
	}
	return out
}

func fromMVDocs(in []mvDoc) []store.MultiValue {
	if in == nil {
		return nil
	}
	out := make([]store.MultiValue, len(in))
	for i, m := range in {
		out[i] = store.MultiValue(m)
	}
	return out
}

func encodeExtra(m map[string]any) (string, error) {
	if m == nil {
		return "", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", &store.ErrInvalid{Field: "extra", Reason: err.Error()}
	}
	return string(b), nil
}

func decodeExtra(s string) (map[string]any, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("mongo: corrupt extra attributes: %w", err)
	}
	return m, nil
}

// emailShadows computes emailsNorm and emailSort the way store/filter
// reads e-mails: values folded with NormUserName, one key per element;
// the sort key is the primary element's value, else the first non-empty.
func emailShadows(emails []store.MultiValue) (keys []emailKey, sortKey string) {
	if emails == nil {
		return nil, ""
	}
	keys = make([]emailKey, len(emails))
	for i, e := range emails {
		if e.Value != "" {
			keys[i].V = store.NormUserName(e.Value)
		}
	}
	for _, e := range emails {
		if e.Primary && e.Value != "" {
			return keys, store.NormUserName(e.Value)
		}
	}
	for _, e := range emails {
		if e.Value != "" {
			return keys, store.NormUserName(e.Value)
		}
	}
	return keys, ""
}

func toUserDoc(u *store.User) (*userDoc, error) {
	extra, err := encodeExtra(u.Extra)
	if err != nil {
		return nil, err
	}
	norms, sortKey := emailShadows(u.Emails)
	return &userDoc{
		ID:                u.ID,
		TenantID:          u.TenantID,
		ExternalID:        u.ExternalID,
		UserName:          u.UserName,
		UserNameNorm:      store.NormUserName(u.UserName),
		Name:              nameDoc(u.Name),
		DisplayName:       u.DisplayName,
		DisplayNameNorm:   store.NormUserName(u.DisplayName),
		NickName:          u.NickName,
		ProfileURL:        u.ProfileURL,
		Title:             u.Title,
		UserType:          u.UserType,
		PreferredLanguage: u.PreferredLanguage,
		Locale:            u.Locale,
		Timezone:          u.Timezone,
		Active:            u.Active,
		Emails:            toMVDocs(u.Emails),
		EmailsNorm:        norms,
		EmailSort:         sortKey,
		PhoneNumbers:      toMVDocs(u.PhoneNumbers),
		PasswordHash:      u.PasswordHash,
		Notes:             u.Notes,
		Permissions:       u.Permissions,
		AccountAdmin:      u.AccountAdmin,
		CustomerCode:      u.CustomerCode,
		UDID:              u.UDID,
		NoSystemMessages:  u.NoSystemMessages,
		Activation:        u.Activation,
		Extra:             extra,
		Version:           u.Version,
		CreatedAt:         u.CreatedAt,
		UpdatedAt:         u.UpdatedAt,
	}, nil
}

func (d *userDoc) record() (*store.User, error) {
	extra, err := decodeExtra(d.Extra)
	if err != nil {
		return nil, err
	}
	return &store.User{
		TenantID:          d.TenantID,
		ID:                d.ID,
		ExternalID:        d.ExternalID,
		UserName:          d.UserName,
		Name:              store.Name(d.Name),
		DisplayName:       d.DisplayName,
		NickName:          d.NickName,
		ProfileURL:        d.ProfileURL,
		Title:             d.Title,
		UserType:          d.UserType,
		PreferredLanguage: d.PreferredLanguage,
		Locale:            d.Locale,
		Timezone:          d.Timezone,
		Active:            d.Active,
		Emails:            fromMVDocs(d.Emails),
		PhoneNumbers:      fromMVDocs(d.PhoneNumbers),
		PasswordHash:      d.PasswordHash,
		Notes:             d.Notes,
		Permissions:       d.Permissions,
		AccountAdmin:      d.AccountAdmin,
		CustomerCode:      d.CustomerCode,
		UDID:              d.UDID,
		NoSystemMessages:  d.NoSystemMessages,
		Activation:        d.Activation,
		Extra:             extra,
		Version:           d.Version,
		CreatedAt:         d.CreatedAt,
		UpdatedAt:         d.UpdatedAt,
	}, nil
}

type groupDoc struct {
	ID              string    `bson:"_id"`
	TenantID        string    `bson:"tenantId"`
	ExternalID      string    `bson:"externalId,omitempty"`
	DisplayName     string    `bson:"displayName"`
	DisplayNameNorm string    `bson:"displayNameNorm"`
	Extra           string    `bson:"extra,omitempty"`
	Version         int64     `bson:"version"`
	CreatedAt       time.Time `bson:"createdAt"`
	UpdatedAt       time.Time `bson:"updatedAt"`
	Deleting        bool      `bson:"deleting,omitempty"`
}

func toGroupDoc(g *store.Group) (*groupDoc, error) {
	extra, err := encodeExtra(g.Extra)
	if err != nil {
		return nil, err
	}
	return &groupDoc{
		ID:              g.ID,
		TenantID:        g.TenantID,
		ExternalID:      g.ExternalID,
		DisplayName:     g.DisplayName,
		DisplayNameNorm: store.NormDisplayName(g.DisplayName),
		Extra:           extra,
		Version:         g.Version,
		CreatedAt:       g.CreatedAt,
		UpdatedAt:       g.UpdatedAt,
	}, nil
}

func (d *groupDoc) record() (*store.Group, error) {
	extra, err := decodeExtra(d.Extra)
	if err != nil {
		return nil, err
	}
	return &store.Group{
		TenantID:    d.TenantID,
		ID:          d.ID,
		ExternalID:  d.ExternalID,
		DisplayName: d.DisplayName,
		Extra:       extra,
		Version:     d.Version,
		CreatedAt:   d.CreatedAt,
		UpdatedAt:   d.UpdatedAt,
	}, nil
}

// memberDoc is one membership edge.
type memberDoc struct {
	TenantID string `bson:"tenantId"`
	GroupID  string `bson:"groupId"`
	MemberID string `bson:"memberId"`
	Type     string `bson:"type"`
}

// updateOf builds an update that makes a stored document equal to doc in
// every field but those in keep (identity and creation fields): $set for
// the fields doc's encoding has, $unset for the ones omitempty left out,
// so clearing an optional attribute really clears it.
func updateOf(doc any, keep ...string) (bson.D, error) {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	set := make(bson.D, 0, len(d))
	present := make(map[string]bool, len(d))
	for _, e := range d {
		present[e.Key] = true
		if !slices.Contains(keep, e.Key) {
			set = append(set, e)
		}
	}
	unset := bson.D{}
	for _, f := range bsonFields(reflect.TypeOf(doc)) {
		if !present[f] && !slices.Contains(keep, f) {
			unset = append(unset, bson.E{Key: f, Value: ""})
		}
	}
	upd := bson.D{{Key: "$set", Value: set}}
	if len(unset) > 0 {
		upd = append(upd, bson.E{Key: "$unset", Value: unset})
	}
	return upd, nil
}

var fieldCache sync.Map // reflect.Type -> []string

// bsonFields lists the BSON field names of a struct type (or pointer).
func bsonFields(t reflect.Type) []string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v, ok := fieldCache.Load(t); ok {
		return v.([]string)
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("bson")
		name, _, _ := strings.Cut(tag, ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	fieldCache.Store(t, out)
	return out
}
