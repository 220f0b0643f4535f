package scim

import (
	"strconv"
	"strings"
	"time"

	"github.com/roster-scim/roster/store"
)

// appendUser renders u as a SCIM User. groups is rendered only when
// non-nil (the caller loads it only when the projection asks for it).
func (h *handler) appendUser(w *jsonWriter, u *store.User, p *projection, groups []store.GroupRef) {
	rt := userType
	ent, _ := u.Extra[uriEnterprise].(map[string]any)
	hasRoster := userHasRoster(u)

	w.open('{')
	w.key("schemas")
	w.open('[')
	w.str(uriUser)
	if len(ent) > 0 {
		w.str(uriEnterprise)
	}
	if hasRoster {
		w.str(uriRoster)
	}
	w.close(']')
	w.key("id")
	w.str(u.ID)
	if u.ExternalID != "" && p.attr("", rt.common.exact["externalId"]) {
		w.strField("externalId", u.ExternalID)
	}
	for _, a := range rt.core.attrs {
		if !p.attr("", a) {
			continue
		}
		switch a.name {
		case "userName":
			w.strField(a.name, u.UserName)
		case "name":
			appendName(w, a, &u.Name, p)
		case "displayName":
			w.strField(a.name, u.DisplayName)
		case "nickName":
			w.strField(a.name, u.NickName)
		case "profileUrl":
			w.strField(a.name, u.ProfileURL)
		case "title":
			w.strField(a.name, u.Title)
		case "userType":
			w.strField(a.name, u.UserType)
		case "preferredLanguage":
			w.strField(a.name, u.PreferredLanguage)
		case "locale":
			w.strField(a.name, u.Locale)
		case "timezone":
			w.strField(a.name, u.Timezone)
		case "active":
			w.key(a.name)
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
		appendRoster(w, u, p)
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
	w.key(a.name)
	w.open('{')
	for _, s := range a.subs {
		if !p.sub("", a, s) {
			continue
		}
		switch s.name {
		case "formatted":
			w.strField(s.name, n.Formatted)
		case "familyName":
			w.strField(s.name, n.FamilyName)
		case "givenName":
			w.strField(s.name, n.GivenName)
		case "middleName":
			w.strField(s.name, n.MiddleName)
		case "honorificPrefix":
			w.strField(s.name, n.HonorificPrefix)
		case "honorificSuffix":
			w.strField(s.name, n.HonorificSuffix)
		}
	}
	w.close('}')
}

func appendMultiValues(w *jsonWriter, a *attrDef, mvs []store.MultiValue, p *projection) {
	if len(mvs) == 0 {
		return
	}
	w.key(a.name)
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
				w.strField(s.name, mv.Value)
			case "display":
				w.strField(s.name, mv.Display)
			case "type":
				w.strField(s.name, mv.Type)
			case "primary":
				if mv.Primary {
					w.key(s.name)
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

func appendRoster(w *jsonWriter, u *store.User, p *projection) {
	s := userType.ext(uriRoster)
	w.key(uriRoster)
	w.open('{')
	for _, a := range s.attrs {
		if !p.attr(uriRoster, a) {
			continue
		}
		switch a.name {
		case "notes":
			w.strField(a.name, u.Notes)
		case "permissions":
			if len(u.Permissions) > 0 {
				w.key(a.name)
				w.open('[')
				for _, perm := range u.Permissions {
					w.str(perm)
				}
				w.close(']')
			}
		case "accountAdmin":
			w.key(a.name)
			w.boolean(u.AccountAdmin)
		case "customerCode":
			w.strField(a.name, u.CustomerCode)
		case "udid":
			w.strField(a.name, u.UDID)
		}
		// licenses and devices come from the licensing engine; until it
		// lands a user has none, and an empty attribute is not rendered.
	}
	w.close('}')
}

// appendAttr renders a value kept verbatim (User.Extra) following the
// attribute definition, so sub-attributes come out in schema order and
// projection applies to them.
func appendAttr(w *jsonWriter, urn string, a *attrDef, v any, p *projection) {
	if isEmptyValue(v) {
		return
	}
	w.key(a.name)
	appendValue(w, urn, a, v, p)
}

func appendValue(w *jsonWriter, urn string, a *attrDef, v any, p *projection) {
	if list, ok := v.([]any); ok && a.multi {
		w.open('[')
		for _, e := range list {
			appendElement(w, urn, a, e, p)
		}
		w.close(']')
		return
	}
	appendElement(w, urn, a, v, p)
}

func appendElement(w *jsonWriter, urn string, a *attrDef, v any, p *projection) {
	m, ok := v.(map[string]any)
	if !ok || !a.complex() {
		w.value(v)
		return
	}
	w.open('{')
	for _, s := range a.subs {
		if !p.sub(urn, a, s) {
			continue
		}
		if sv, ok := lookupKey(m, s.name); ok && !isEmptyValue(sv) {
			w.key(s.name)
			w.value(sv)
		}
	}
	w.close('}')
}

func isEmptyValue(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// lookupKey finds key in m exactly, then ignoring case (SCIM attribute
// names are case-insensitive).
func lookupKey(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func (h *handler) appendGroupRefs(w *jsonWriter, a *attrDef, groups []store.GroupRef, p *projection) {
	w.key(a.name)
	w.open('[')
	for _, g := range groups {
		w.open('{')
		for _, s := range a.subs {
			if !p.sub("", a, s) {
				continue
			}
			switch s.name {
			case "value":
				w.strField(s.name, g.ID)
			case "$ref":
				w.key(s.name)
				w.str(h.location(groupType, g.ID))
			case "display":
				w.strField(s.name, g.DisplayName)
			case "type":
				w.strField(s.name, "direct")
			}
		}
		w.close('}')
	}
	w.close(']')
}

func (h *handler) location(rt *resourceType, id string) string {
	return h.baseURL + rt.endpoint + "/" + id
}

func (h *handler) appendMeta(w *jsonWriter, rt *resourceType, id string, version int64, created, modified time.Time, p *projection) {
	a := rt.common.exact["meta"]
	if !p.attr("", a) {
		return
	}
	w.key("meta")
	w.open('{')
	for _, s := range a.subs {
		if !p.sub("", a, s) {
			continue
		}
		switch s.name {
		case "resourceType":
			w.strField(s.name, rt.name)
		case "created":
			w.key(s.name)
			w.time(created)
		case "lastModified":
			w.key(s.name)
			w.time(modified)
		case "location":
			w.key(s.name)
			w.str(h.location(rt, id))
		case "version":
			w.key(s.name)
			w.str(etag(version))
		}
	}
	w.close('}')
}

// etag renders a version as a weak entity tag.
func etag(version int64) string {
	b := make([]byte, 0, 24)
	b = append(b, `W/"`...)
	b = strconv.AppendInt(b, version, 10)
	b = append(b, '"')
	return string(b)
}
