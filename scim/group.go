package scim

import (
	"context"

	"github.com/roster-scim/roster/store"
)

// memberPage is how many membership edges one store call reads when a
// group's members are rendered.
const memberPage = 5000

// loadMembers reads every member of a group, a page at a time.
func (h *handler) loadMembers(ctx context.Context, tenant, groupID string) ([]store.Member, error) {
	var all []store.Member
	after := ""
	for {
		page, err := h.store.ListMembers(ctx, tenant, groupID, after, memberPage)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < memberPage {
			return all, nil
		}
		after = page[len(page)-1].MemberID
	}
}

func membersWanted(p *projection) bool {
	return p.attr("", groupType.core.exact["members"])
}

// appendGroup renders g; members are rendered when wanted (the caller
// loaded them only then).
func (h *handler) appendGroup(w *jsonWriter, g *store.Group, members []store.Member, p *projection) {
	rt := groupType
	w.open('{')
	w.key("schemas")
	w.open('[')
	w.str(uriGroup)
	w.close(']')
	appendIdentity(w, rt, g.ID, g.ExternalID, p)
	for _, a := range rt.core.attrs {
		if !p.attr("", a) {
			continue
		}
		switch a.name {
		case "displayName":
			w.strField(a.name, g.DisplayName)
		case "members":
			if len(members) > 0 {
				h.appendMembers(w, a, members, p)
			}
		default:
			if v, ok := g.Extra[a.name]; ok {
				appendAttr(w, "", a, v, p)
			}
		}
	}
	h.appendMeta(w, rt, g.ID, g.Version, g.CreatedAt, g.UpdatedAt, p)
	w.close('}')
}

func (h *handler) appendMembers(w *jsonWriter, a *attrDef, members []store.Member, p *projection) {
	w.key(a.name)
	w.open('[')
	for i := range members {
		m := &members[i]
		w.open('{')
		for _, s := range a.subs {
			if !p.sub("", a, s) {
				continue
			}
			switch s.name {
			case "value":
				w.strField(s.name, m.MemberID)
			case "$ref":
				rt := userType
				if m.Type == store.MemberGroup {
					rt = groupType
				}
				w.key(s.name)
				w.str(h.location(rt, m.MemberID))
			case "type":
				w.strField(s.name, m.Type)
			case "display":
				w.strField(s.name, m.Display)
			}
		}
		w.close('}')
	}
	w.close(']')
}
