package scim

import (
	"net/http"

	"github.com/roster-scim/roster/store"
)

// memberOp is a membership change a Group PATCH asked for, applied as one
// store call so its cost does not depend on the group's size.
type memberOp struct {
	kind    string // add, remove, replace
	members []store.Member
	ids     []string
}

// splitGroupOps separates membership changes from changes to the group
// record. Path-less values may carry both.
func (h *handler) splitGroupOps(ops []patchOp) (docOps []patchOp, memberOps []memberOp, err error) {
	for _, op := range ops {
		if op.path == "" {
			m, ok := op.value.(map[string]any)
			if !ok {
				return nil, nil, badRequest(typeInvalidValue, "%s without a path needs a value object", op.op)
			}
			rest := map[string]any{}
			for _, k := range sortedKeys(m) {
				t, err := h.resolvePath(groupType, k)
				if err == nil && isMembers(t) {
					mop, err := memberChange(op.op, t, m[k])
					if err != nil {
						return nil, nil, err
					}
					memberOps = append(memberOps, mop)
					continue
				}
				rest[k] = m[k]
			}
			if len(rest) > 0 {
				docOps = append(docOps, patchOp{op: op.op, value: rest})
			}
			continue
		}
		t, err := h.resolvePath(groupType, op.path)
		if err != nil {
			return nil, nil, err
		}
		if !isMembers(t) {
			docOps = append(docOps, op)
			continue
		}
		mop, err := memberChange(op.op, t, op.value)
		if err != nil {
			return nil, nil, err
		}
		memberOps = append(memberOps, mop)
	}
	return docOps, memberOps, nil
}

func isMembers(t *target) bool {
	return t.attr != nil && t.urn == "" && t.attr.name == "members"
}

func memberChange(op string, t *target, v any) (memberOp, error) {
	if t.sub != nil {
		return memberOp{}, badRequest(typeMutability, "member sub-attributes are immutable")
	}
	if t.filter != nil {
		if op != "remove" {
			return memberOp{}, badRequest(typeMutability, "a member cannot be modified, only added or removed")
		}
		ids, ok := memberIDs(t.filter, nil)
		if !ok {
			return memberOp{}, badRequest(typeInvalidFilter, `members can be selected by value only, as in members[value eq "id"]`)
		}
		return memberOp{kind: "remove", ids: ids}, nil
	}
	switch op {
	case "remove":
		if v == nil {
			return memberOp{kind: "replace"}, nil // remove them all
		}
		// Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]}
		members, err := memberList(v)
		if err != nil {
			return memberOp{}, err
		}
		ids := make([]string, len(members))
		for i, m := range members {
			ids[i] = m.MemberID
		}
		return memberOp{kind: "remove", ids: ids}, nil
	default:
		members, err := memberList(v)
		if err != nil {
			return memberOp{}, err
		}
		return memberOp{kind: op, members: members}, nil
	}
}

// memberIDs reads `value eq "a" or value eq "b"`.
func memberIDs(e store.Expr, ids []string) ([]string, bool) {
	switch x := e.(type) {
	case store.Or:
		ids, ok := memberIDs(x.L, ids)
		if !ok {
			return nil, false
		}
		return memberIDs(x.R, ids)
	case store.Compare:
		id, ok := x.Value.(string)
		if x.Attr.Name != "value" || x.Op != store.OpEq || !ok {
			return nil, false
		}
		return append(ids, id), true
	}
	return nil, false
}

// patchGroup applies ops and returns the group's new version. Changes to
// the record (displayName, externalId) are one compare-and-set; each
// membership change is one store call, conditional only when the client
// sent If-Match, so concurrent member adds from an IdP all land.
func (h *handler) patchGroup(r *http.Request, tenant, id string, ops []patchOp) (int64, error) {
	ctx := r.Context()
	docOps, memberOps, err := h.splitGroupOps(ops)
	if err != nil {
		return 0, err
	}
	// A PATCH is all or nothing (RFC 7644 §3.5.2): when a member change
	// follows other writes, check its members first, so an unknown one
	// fails the request before anything is written. A lone member change
	// needs no check: the store refuses it whole.
	if len(docOps) > 0 || len(memberOps) > 1 {
		for _, mop := range memberOps {
			if mop.kind != "remove" {
				if err := h.checkMembers(ctx, tenant, id, mop.members); err != nil {
					return 0, err
				}
			}
		}
	}
	conditional := r.Header.Get("If-Match") != ""
	var version int64
	if len(docOps) > 0 || conditional {
		for attempt := 0; ; attempt++ {
			cur, err := h.store.GetGroup(ctx, tenant, id)
			if err != nil {
				return 0, err
			}
			if _, ok := ifMatch(r, cur.Version); !ok {
				return 0, errPrecondition
			}
			version = cur.Version
			if len(docOps) == 0 {
				break
			}
			d := groupDoc(cur)
			if err := h.applyOps(groupType, d, docOps); err != nil {
				return 0, err
			}
			v, err := validateDoc(groupType, d)
			if err != nil {
				return 0, err
			}
			g := *cur
			if _, _, err := setGroup(&g, v); err != nil {
				return 0, err
			}
			if g.DisplayName == cur.DisplayName && g.ExternalID == cur.ExternalID {
				break
			}
			if err := h.store.UpdateGroup(ctx, &g); err != nil {
				if retryable(err, conditional, attempt) {
					continue
				}
				return 0, err
			}
			version = g.Version
			break
		}
	}
	for _, mop := range memberOps {
		expect := int64(0)
		if conditional {
			expect = version
		}
		var v int64
		var changed []string
		switch mop.kind {
		case "add":
			v, err = h.store.AddMembers(ctx, tenant, id, expect, mop.members)
			changed = idsOf(mop.members)
		case "remove":
			v, err = h.store.RemoveMembers(ctx, tenant, id, expect, mop.ids)
			changed = mop.ids
		default:
			changed = h.membersBefore(ctx, tenant, id)
			v, err = h.store.ReplaceMembers(ctx, tenant, id, expect, mop.members)
			changed = append(changed, idsOf(mop.members)...)
		}
		if err != nil {
			return 0, err
		}
		h.seatsAfterMembers(ctx, tenant, id, changed)
		version = v
	}
	return version, nil
}
