package scim

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/roster-scim/roster/store"
)

// A list of users in the default representation (no attributes or
// excludedAttributes) renders every user the same way each time: a
// store that keeps renderings (store.RenderedUserStreamer) hands back
// the bytes it kept instead of the users to render again. The rendering
// is named by a key, and a store serves a rendering only under the key
// it was made with, so the key must change whenever the output could:
// it covers the base URL (meta.location), and the rendering of probe
// users with every attribute the default representation shows and
// characters that need escaping, so a change to the schema, the
// rendering code or a dependency's schema changes it by itself. A
// change the probes cannot see (a value they do not hold rendered
// differently) bumps userRenderingVersion.

// userRenderingVersion is the part of the key that a change to the
// default rendering invisible to the probe users must bump.
const userRenderingVersion = 1

// defaultUserRendering returns the default representation as a
// store.UserRendering, or one with a nil Append when the default
// representation has attributes kept outside the user record, which a
// store cannot render.
func (h *handler) defaultUserRendering() store.UserRendering {
	if h.extrasByDefault() {
		return store.UserRendering{}
	}
	appendUser := func(dst []byte, u *store.User) []byte {
		w := jsonWriter{b: dst}
		h.appendUser(&w, u, nil, userExtras{})
		return w.b
	}
	sum := sha256.New()
	var b []byte
	b = strconv.AppendInt(b, userRenderingVersion, 10)
	b = append(b, 0)
	b = append(b, h.baseURL...)
	for _, u := range probeUsers() {
		b = append(b, 0)
		b = appendUser(b, u)
	}
	sum.Write(b)
	return store.UserRendering{
		Key:    "scim-user-" + strconv.Itoa(userRenderingVersion) + "-" + hex.EncodeToString(sum.Sum(nil)[:12]),
		Append: appendUser,
	}
}

// extrasByDefault reports whether the default representation returns
// any attribute userExtras loads (it must agree with userExtras given a
// nil projection).
func (h *handler) extrasByDefault() bool {
	if groupsWanted(nil) {
		return true
	}
	if h.lic == nil {
		return false
	}
	var p *projection
	ext := userType.ext(uriRoster)
	return p.ext(uriRoster) && (p.attr(uriRoster, ext.exact["licenses"]) || p.attr(uriRoster, ext.exact["devices"]))
}

// probeUsers are users whose default rendering stands for all users'
// in the key: one with every attribute the representation shows, with
// values to escape, and one with as few as a user can have.
func probeUsers() []*store.User {
	at := time.Date(2001, 2, 3, 4, 5, 6, 789_000_000, time.UTC)
	odd := "q\"b\\s/<a>&é\u2028\x01\t\n😀\xff"
	mv := func(n string) []store.MultiValue {
		return []store.MultiValue{{Value: n + odd, Display: n, Type: "work", Primary: true}, {Value: n + "2", Type: "home"}}
	}
	full := &store.User{
		TenantID:   "t",
		ID:         "id" + odd,
		ExternalID: "ext" + odd,
		UserName:   "user" + odd,
		Name: store.Name{Formatted: "f" + odd, FamilyName: "fa", GivenName: "gi", MiddleName: "mi",
			HonorificPrefix: "hp", HonorificSuffix: "hs"},
		DisplayName: "dn", NickName: "nn", ProfileURL: "https://example.com/p", Title: "ti", UserType: "ut",
		PreferredLanguage: "en-GB", Locale: "en-GB", Timezone: "Europe/London",
		Active: true, Emails: mv("e"), PhoneNumbers: mv("p"),
		PasswordHash: "$argon2id$never-shown",
		Notes:        "no" + odd, Permissions: []string{"a", "b" + odd}, AccountAdmin: true, CustomerCode: "cc", UDID: "ud",
		NoSystemMessages: true, Activation: store.ActivationActive,
		Extra: map[string]any{
			"addresses":        []any{map[string]any{"streetAddress": "1 Road" + odd, "locality": "Town", "primary": true, "type": "work"}},
			"ims":              []any{map[string]any{"value": "im", "type": "xmpp"}},
			"photos":           []any{map[string]any{"value": "https://example.com/ph", "type": "photo"}},
			"entitlements":     []any{map[string]any{"value": "en", "display": "En", "primary": false}},
			"roles":            []any{map[string]any{"value": "ro", "type": "t"}},
			"x509Certificates": []any{map[string]any{"value": "MII="}},
			uriEnterprise: map[string]any{
				"employeeNumber": "42", "costCenter": "cc", "organization": "org", "division": "div",
				"department": "dep" + odd, "manager": map[string]any{"value": "m", "$ref": "../Users/m", "displayName": "Boss"},
			},
			"unknown": 1.5,
		},
		Version: 12345, CreatedAt: at, UpdatedAt: at.Add(time.Hour),
	}
	bare := &store.User{TenantID: "t", ID: "i", UserName: "u", Version: 1, CreatedAt: at, UpdatedAt: at}
	return []*store.User{full, bare}
}
