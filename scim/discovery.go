package scim

import (
	"encoding/json"
	"net/http"
	"strings"
)

// buildDiscovery renders /ServiceProviderConfig, /ResourceTypes and
// /Schemas once: they change only with the code and the limits.
func (h *handler) buildDiscovery() {
	supported := map[string]any{"supported": true}
	h.spConfig = mustJSON(map[string]any{
		"schemas":          []string{uriSPConfig},
		"documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
		"patch":            supported,
		"bulk": map[string]any{
			"supported":      true,
			"maxOperations":  h.limits.BulkMaxOperations,
			"maxPayloadSize": h.limits.BulkMaxPayloadBytes,
		},
		"filter": map[string]any{
			"supported":  true,
			"maxResults": h.limits.MaxResults,
		},
		"changePassword": supported,
		"sort":           supported,
		"etag":           supported,
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "A Roster SCIM token sent as Authorization: Bearer <token>.",
			"specUri":     "https://datatracker.ietf.org/doc/html/rfc6750",
			"primary":     true,
		}},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     h.baseURL + "/ServiceProviderConfig",
		},
	})

	h.typeByID = map[string][]byte{}
	var types []any
	for _, rt := range []*resourceType{userType, groupType} {
		var exts []any
		for _, e := range rt.exts {
			exts = append(exts, map[string]any{"schema": e.urn, "required": false})
		}
		m := map[string]any{
			"schemas":     []string{uriResourceType},
			"id":          rt.name,
			"name":        rt.name,
			"endpoint":    rt.endpoint,
			"description": rt.core.lib.Description.Value(),
			"schema":      rt.core.urn,
			"meta": map[string]any{
				"resourceType": "ResourceType",
				"location":     h.baseURL + "/ResourceTypes/" + rt.name,
			},
		}
		if exts != nil {
			m["schemaExtensions"] = exts
		}
		types = append(types, m)
		h.typeByID[rt.name] = mustJSON(m)
	}
	h.resourceTypes = mustJSON(listOf(types))

	h.schemaByID = map[string][]byte{}
	var schemas []any
	for _, s := range []*schemaDef{userType.core, userType.exts[0], userType.exts[1], groupType.core} {
		m := s.lib.ToMap()
		m["meta"] = map[string]any{
			"resourceType": "Schema",
			"location":     h.baseURL + "/Schemas/" + s.urn,
		}
		schemas = append(schemas, m)
		h.schemaByID[s.urn] = mustJSON(m)
	}
	h.schemas = mustJSON(listOf(schemas))
}

func listOf(resources []any) map[string]any {
	return map[string]any{
		"schemas":      []string{uriListResponse},
		"totalResults": len(resources),
		"itemsPerPage": len(resources),
		"startIndex":   1,
		"Resources":    resources,
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (h *handler) serveDiscovery(w http.ResponseWriter, rest string, list []byte, byID map[string][]byte) {
	if rest == "" {
		writeJSON(w, http.StatusOK, list)
		return
	}
	id := strings.TrimPrefix(rest, "/")
	if b, ok := byID[id]; ok {
		writeJSON(w, http.StatusOK, b)
		return
	}
	for k, b := range byID {
		if strings.EqualFold(k, id) {
			writeJSON(w, http.StatusOK, b)
			return
		}
	}
	writeErrorBody(w, newError(http.StatusNotFound, "", "no such resource"))
}
