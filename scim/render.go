package scim

import (
	"strconv"
	"strings"
	"time"
)

// Rendering shared by Users and Groups: values kept verbatim, meta and
// ETags.

// Keys every resource has, rendered in advance.
var (
	keySchemas    = jsonKey("schemas")
	keyID         = jsonKey("id")
	keyExternalID = jsonKey("externalId")
	keyMeta       = jsonKey("meta")
)

// appendIdentity writes id, always returned, and externalId.
func appendIdentity(w *jsonWriter, rt *resourceType, id, externalID string, p *projection) {
	w.rawKey(keyID)
	w.str(id)
	if externalID != "" && p.attr("", rt.common.exact["externalId"]) {
		w.strAt(keyExternalID, externalID)
	}
}

// appendAttr renders a value kept verbatim (User.Extra) following the
// attribute definition, so sub-attributes come out in schema order and
// projection applies to them.
func appendAttr(w *jsonWriter, urn string, a *attrDef, v any, p *projection) {
	if isEmptyValue(v) {
		return
	}
	w.rawKey(a.key)
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
			w.rawKey(s.key)
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

func (h *handler) location(rt *resourceType, id string) string {
	return h.baseURL + rt.endpoint + "/" + id
}

func (h *handler) appendMeta(w *jsonWriter, rt *resourceType, id string, version int64, created, modified time.Time, p *projection) {
	a := rt.common.exact["meta"]
	if !p.attr("", a) {
		return
	}
	w.rawKey(keyMeta)
	w.open('{')
	for _, s := range a.subs {
		if !p.sub("", a, s) {
			continue
		}
		switch s.name {
		case "resourceType":
			w.strAt(s.key, rt.name)
		case "created":
			w.rawKey(s.key)
			w.time(created)
		case "lastModified":
			w.rawKey(s.key)
			w.time(modified)
		case "location":
			w.rawKey(s.key)
			w.sep()
			w.b = append(w.b, '"')
			w.b = appendJSONChars(w.b, h.baseURL)
			w.b = appendJSONChars(w.b, rt.endpoint)
			w.b = append(w.b, '/')
			w.b = appendJSONChars(w.b, id)
			w.b = append(w.b, '"')
			w.comma = true
		case "version":
			w.rawKey(s.key)
			w.sep()
			w.b = append(w.b, `"W/\"`...)
			w.b = strconv.AppendInt(w.b, version, 10)
			w.b = append(w.b, `\""`...)
			w.comma = true
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
