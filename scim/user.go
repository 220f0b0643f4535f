package scim

import (
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// userExtras are the User attributes that live outside the record, each
// loaded only when the projection asks for it (nil otherwise).
type userExtras struct {
	groups   []store.GroupRef
	licenses []licensing.UserLicense
	devices  []*store.Device
}

// appendUser renders u as a SCIM User with the extras the caller loaded.
func (h *handler) appendUser(w *jsonWriter, u *store.User, p *projection, x userExtras) {
	rt := userType
	ent, _ := u.Extra[uriEnterprise].(map[string]any)
	hasRoster := userHasRoster(u) || len(x.licenses) > 0 || len(x.devices) > 0
	groups := x.groups

	w.open('{')
	w.rawKey(keySchemas)
	w.open('[')
	w.str(uriUser)
	if len(ent) > 0 {
		w.str(uriEnterprise)
	}
	if hasRoster {
		w.str(uriRoster)
	}
	w.close(']')
	appendIdentity(w, rt, u.ID, u.ExternalID, p)
	for _, a := range rt.core.attrs {
		if !p.attr("", a) {
			continue
		}
		switch a.name {
		case "userName":
			w.strAt(a.key, u.UserName)
		case "name":
			appendName(w, a, &u.Name, p)
		case "displayName":
			w.strAt(a.key, u.DisplayName)
		case "nickName":
			w.strAt(a.key, u.NickName)
		case "profileUrl":
			w.strAt(a.key, u.ProfileURL)
		case "title":
			w.strAt(a.key, u.Title)
		case "userType":
			w.strAt(a.key, u.UserType)
		case "preferredLanguage":
			w.strAt(a.key, u.PreferredLanguage)
		case "locale":
			w.strAt(a.key, u.Locale)
		case "timezone":
			w.strAt(a.key, u.Timezone)
		case "active":
			w.rawKey(a.key)
			w.boolean(u.Active)
		case "emails":
			appendMultiValues(w, a, u.Emails, p)
		case "phoneNumbers":
			appendMultiValues(w, a, u.PhoneNumbers, p)
		case "password":
			// never returned
		case "groups":
			if groups != nil {
				h.appendGroupRefs(w, a, groups, p)
			}
		default:
			if v, ok := u.Extra[a.name]; ok {
				appendAttr(w, "", a, v, p)
			}
		}
	}
	if len(ent) > 0 && p.ext(uriEnterprise) {
		appendExtension(w, rt.ext(uriEnterprise), ent, p)
	}
	if hasRoster && p.ext(uriRoster) {
		appendRoster(w, u, p, x)
	}
	h.appendMeta(w, rt, u.ID, u.Version, u.CreatedAt, u.UpdatedAt, p)
	w.close('}')
}

func userHasRoster(u *store.User) bool {
	return u.Notes != "" || len(u.Permissions) > 0 || u.AccountAdmin || u.CustomerCode != "" || u.UDID != ""
}

func appendName(w *jsonWriter, a *attrDef, n *store.Name, p *projection) {
	if *n == (store.Name{}) {
		return
	}
	w.rawKey(a.key)
	w.open('{')
	for _, s := range a.subs {
		if !p.sub("", a, s) {
			continue
		}
		switch s.name {
		case "formatted":
			w.strAt(s.key, n.Formatted)
		case "familyName":
			w.strAt(s.key, n.FamilyName)
		case "givenName":
			w.strAt(s.key, n.GivenName)
		case "middleName":
			w.strAt(s.key, n.MiddleName)
		case "honorificPrefix":
			w.strAt(s.key, n.HonorificPrefix)
		case "honorificSuffix":
			w.strAt(s.key, n.HonorificSuffix)
		}
	}
	w.close('}')
}

func appendMultiValues(w *jsonWriter, a *attrDef, mvs []store.MultiValue, p *projection) {
	if len(mvs) == 0 {
		return
	}
	w.rawKey(a.key)
	w.open('[')
	for i := range mvs {
		mv := &mvs[i]
		w.open('{')
		for _, s := range a.subs {
			if !p.sub("", a, s) {
				continue
			}
			switch s.name {
			case "value":
				w.strAt(s.key, mv.Value)
			case "display":
				w.strAt(s.key, mv.Display)
			case "type":
				w.strAt(s.key, mv.Type)
			case "primary":
				if mv.Primary {
					w.rawKey(s.key)
					w.boolean(true)
				}
			}
		}
		w.close('}')
	}
	w.close(']')
}

func appendExtension(w *jsonWriter, s *schemaDef, m map[string]any, p *projection) {
	w.key(s.urn)
	w.open('{')
	for _, a := range s.attrs {
		if !p.attr(s.urn, a) {
			continue
		}
		if v, ok := lookupKey(m, a.name); ok {
			appendAttr(w, s.urn, a, v, p)
		}
	}
	w.close('}')
}

func appendRoster(w *jsonWriter, u *store.User, p *projection, x userExtras) {
	s := userType.ext(uriRoster)
	w.key(uriRoster)
	w.open('{')
	for _, a := range s.attrs {
		if !p.attr(uriRoster, a) {
			continue
		}
		switch a.name {
		case "notes":
			w.strAt(a.key, u.Notes)
		case "permissions":
			if len(u.Permissions) > 0 {
				w.rawKey(a.key)
				w.open('[')
				for _, perm := range u.Permissions {
					w.str(perm)
				}
				w.close(']')
			}
		case "accountAdmin":
			w.rawKey(a.key)
			w.boolean(u.AccountAdmin)
		case "customerCode":
			w.strAt(a.key, u.CustomerCode)
		case "udid":
			w.strAt(a.key, u.UDID)
		case "licenses":
			appendStates(w, a.name, len(x.licenses), func(i int) (string, string, string) {
				l := x.licenses[i]
				return l.ProductCode, l.ProductName, l.State
			})
		case "devices":
			appendStates(w, a.name, len(x.devices), func(i int) (string, string, string) {
				d := x.devices[i]
				return d.DeviceCode, d.Name, d.State
			})
		}
	}
	w.close('}')
}

func (h *handler) appendGroupRefs(w *jsonWriter, a *attrDef, groups []store.GroupRef, p *projection) {
	w.rawKey(a.key)
	w.open('[')
	for _, g := range groups {
		w.open('{')
		for _, s := range a.subs {
			if !p.sub("", a, s) {
				continue
			}
			switch s.name {
			case "value":
				w.strAt(s.key, g.ID)
			case "$ref":
				w.rawKey(s.key)
				w.str(h.location(groupType, g.ID))
			case "display":
				w.strAt(s.key, g.DisplayName)
			case "type":
				w.strAt(s.key, "direct")
			}
		}
		w.close('}')
	}
	w.close(']')
}

// appendStates renders the Roster extension's read-only lists (licenses,
// devices): n entries of value, display and state; nothing when empty.
func appendStates(w *jsonWriter, name string, n int, entry func(i int) (value, display, state string)) {
	if n == 0 {
		return
	}
	w.key(name)
	w.open('[')
	for i := range n {
		value, display, state := entry(i)
		w.open('{')
		w.strField("value", value)
		w.strField("display", display)
		w.strField("state", state)
		w.close('}')
	}
	w.close(']')
}
