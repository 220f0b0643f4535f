package scim

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"

	"github.com/roster-scim/roster/store"
)

func projectionFor(r *http.Request, rt *resourceType) *projection {
	if r.URL.RawQuery == "" {
		return nil
	}
	q := r.URL.Query()
	return parseProjection(rt, q.Get("attributes"), q.Get("excludedAttributes"))
}

func groupsWanted(p *projection) bool {
	return p.attr("", userType.core.exact["groups"])
}

// userExtras loads the attributes kept outside the user record that the
// projection asks for: groups, and the Roster extension's licenses and
// devices (all returned only on request, as /Schemas says).
func (h *handler) userExtras(ctx context.Context, tenant, userID string, p *projection) (userExtras, error) {
	var x userExtras
	var err error
	if groupsWanted(p) {
		if x.groups, err = h.store.GroupsOf(ctx, tenant, userID); err != nil {
			return x, err
		}
	}
	if h.lic == nil || !p.ext(uriRoster) {
		return x, nil
	}
	ext := userType.ext(uriRoster)
	if p.attr(uriRoster, ext.exact["licenses"]) {
		if x.licenses, err = h.lic.UserLicenses(ctx, tenant, userID); err != nil {
			return x, err
		}
	}
	if p.attr(uriRoster, ext.exact["devices"]) {
		x.devices, err = h.lic.UserDevices(ctx, tenant, userID)
	}
	return x, err
}

// updateUser writes u, read as cur: through the store's write of what
// changed when it has one (store.UserChangeWriter), else UpdateUser.
func (h *handler) updateUser(ctx context.Context, cur, u *store.User) error {
	if cw, ok := h.store.(store.UserChangeWriter); ok {
		if err := cw.UpdateUserFrom(ctx, cur, u); !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
	}
	return h.store.UpdateUser(ctx, u)
}

// respondUser renders u with the request's projection.
func (h *handler) respondUser(w http.ResponseWriter, r *http.Request, tenant string, status int, u *store.User, location string) {
	p := projectionFor(r, userType)
	x, err := h.userExtras(r.Context(), tenant, u.ID, p)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	jw := getWriter()
	defer putWriter(jw)
	h.appendUser(jw, u, p, x)
	writeResource(w, status, u.Version, location, jw.b)
}

// respondGroup renders g, loading its members only when they are returned.
func (h *handler) respondGroup(w http.ResponseWriter, r *http.Request, tenant string, status int, g *store.Group, location string) {
	p := projectionFor(r, groupType)
	var members []store.Member
	if membersWanted(p) {
		var err error
		if members, err = h.loadMembers(r.Context(), tenant, g.ID); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	jw := getWriter()
	defer putWriter(jw)
	h.appendGroup(jw, g, members, p)
	writeResource(w, status, g.Version, location, jw.b)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType, id string) {
	ctx := r.Context()
	if rt == userType {
		u, err := h.store.GetUser(ctx, tenant, id)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if notModified(w, r, u.Version) {
			return
		}
		h.respondUser(w, r, tenant, http.StatusOK, u, "")
		return
	}
	g, err := h.store.GetGroup(ctx, tenant, id)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if notModified(w, r, g.Version) {
		return
	}
	h.respondGroup(w, r, tenant, http.StatusOK, g, "")
}

// readResource reads and validates a POST or PUT body.
func (h *handler) readResource(w http.ResponseWriter, r *http.Request, rt *resourceType) (doc, error) {
	b, err := readBody(w, r, h.limits.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	body, err := decodeObject(b)
	if err != nil {
		return nil, err
	}
	if err := checkSchemas(rt, body); err != nil {
		return nil, err
	}
	return splitBody(rt, body)
}

func (h *handler) create(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType) {
	d, err := h.readResource(w, r, rt)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if rt == userType {
		u, err := h.createUser(r.Context(), tenant, d)
		h.respond(w, r, tenant, http.StatusCreated, u, err)
		return
	}
	g, err := h.createGroup(r.Context(), tenant, d)
	h.respond(w, r, tenant, http.StatusCreated, g, err)
}

// respond answers a write: err as a SCIM error, else the resource
// (with its Location when created).
func (h *handler) respond(w http.ResponseWriter, r *http.Request, tenant string, status int, res any, err error) {
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	switch x := res.(type) {
	case *store.User:
		loc := ""
		if status == http.StatusCreated {
			loc = h.location(userType, x.ID)
		}
		h.respondUser(w, r, tenant, status, x, loc)
	case *store.Group:
		loc := ""
		if status == http.StatusCreated {
			loc = h.location(groupType, x.ID)
		}
		h.respondGroup(w, r, tenant, status, x, loc)
	}
}

func (h *handler) createUser(ctx context.Context, tenant string, d doc) (*store.User, error) {
	v, err := validateDoc(userType, d)
	if err != nil {
		return nil, err
	}
	u := &store.User{TenantID: tenant, Activation: store.ActivationPending}
	if err := setUser(u, v); err != nil {
		return nil, err
	}
	if pw := str(v.core["password"]); pw != "" {
		if u.PasswordHash, err = h.hashPassword(ctx, pw); err != nil {
			return nil, err
		}
	}
	if err := h.store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	h.adminAfterUserWrite(ctx, false, u)
	return u, nil
}

func (h *handler) createGroup(ctx context.Context, tenant string, d doc) (*store.Group, error) {
	v, err := validateDoc(groupType, d)
	if err != nil {
		return nil, err
	}
	g := &store.Group{TenantID: tenant}
	members, _, err := setGroup(g, v)
	if err != nil {
		return nil, err
	}
	if err := h.store.CreateGroup(ctx, g); err != nil {
		return nil, err
	}
	if len(members) > 0 {
		if _, err := h.store.AddMembers(ctx, tenant, g.ID, g.Version, members); err != nil {
			// Nothing else knows the group yet: take it back rather than
			// leave a group the client was told was not created.
			if derr := h.store.DeleteGroup(context.WithoutCancel(ctx), tenant, g.ID, 0); derr != nil {
				h.log.ErrorContext(ctx, "scim: removing a half-created group failed", "group", g.ID, "err", derr)
			}
			return nil, err
		}
		h.seatsAfterMembers(ctx, tenant, g.ID, idsOf(members))
		// Re-read for the membership change's lastModified.
		return h.store.GetGroup(ctx, tenant, g.ID)
	}
	return g, nil
}

func (h *handler) replace(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType, id string) {
	d, err := h.readResource(w, r, rt)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if rt == userType {
		u, err := h.replaceUser(r, tenant, id, d)
		h.respond(w, r, tenant, http.StatusOK, u, err)
		return
	}
	g, err := h.replaceGroup(r, tenant, id, d)
	h.respond(w, r, tenant, http.StatusOK, g, err)
}

// retryable reports whether a failed compare-and-set should be retried
// on a fresh read: only when the client did not ask for a version.
func retryable(err error, conditional bool, attempt int) bool {
	return errors.Is(err, store.ErrPrecondition) && !conditional && attempt < maxAttempts-1
}

func (h *handler) replaceUser(r *http.Request, tenant, id string, d doc) (*store.User, error) {
	return h.writeUser(r, tenant, id, func(cur *store.User) (*validated, error) {
		// An extension the body does not mention is not asserted: an
		// IdP that knows nothing of Roster's fields must not wipe the
		// notes and permissions an admin set in the portal.
		full := make(doc, len(d)+2)
		for k, v := range d {
			full[k] = v
		}
		curDoc := userDoc(cur)
		for _, e := range userType.exts {
			if _, given := full[e.urn]; !given {
				if cv, ok := curDoc[e.urn]; ok {
					full[e.urn] = cv
				}
			}
		}
		return validateDoc(userType, full)
	})
}

func (h *handler) replaceGroup(r *http.Request, tenant, id string, d doc) (*store.Group, error) {
	ctx := r.Context()
	v, err := validateDoc(groupType, d)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		cur, err := h.store.GetGroup(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		conditional, ok := ifMatch(r, cur.Version)
		if !ok {
			return nil, errPrecondition
		}
		g := *cur
		members, given, err := setGroup(&g, v)
		if err != nil {
			return nil, err
		}
		// The name is written before the members, so a member list the
		// store would refuse must be refused first: a failed PUT leaves
		// the group as it was.
		if given && attempt == 0 {
			if err := h.checkMembers(ctx, tenant, id, members); err != nil {
				return nil, err
			}
		}
		if err := h.store.UpdateGroup(ctx, &g); err != nil {
			if retryable(err, conditional, attempt) {
				continue
			}
			return nil, err
		}
		// members omitted from a PUT is not asserted (RFC 7644 §3.5.1
		// allows either reading); members given, even [], replace.
		if given {
			version := int64(0)
			if conditional {
				version = g.Version
			}
			before := h.membersBefore(ctx, tenant, id)
			if _, err = h.store.ReplaceMembers(ctx, tenant, id, version, members); err != nil {
				// Only a race gets here (a member deleted, or the group
				// written, since checkMembers): put the old name back.
				h.restoreGroup(ctx, cur, &g)
				return nil, err
			}
			h.seatsAfterMembers(ctx, tenant, id, append(before, idsOf(members)...))
			return h.store.GetGroup(ctx, tenant, id)
		}
		return &g, nil
	}
}

// checkMembers refuses, as the store would, a member list with an empty
// or self reference or an id that is no user or group of the tenant.
func (h *handler) checkMembers(ctx context.Context, tenant, groupID string, members []store.Member) error {
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		switch {
		case m.MemberID == "":
			return &store.ErrInvalid{Field: "members", Reason: "member value is required"}
		case m.MemberID == groupID:
			return &store.ErrInvalid{Field: "members", Reason: "a group cannot be a member of itself"}
		case seen[m.MemberID]:
			continue
		}
		seen[m.MemberID] = true
		var err error
		isGroup := strings.EqualFold(m.Type, store.MemberGroup)
		if !isGroup {
			_, err = h.store.GetUser(ctx, tenant, m.MemberID)
		}
		if isGroup || m.Type == "" && errors.Is(err, store.ErrNotFound) {
			_, err = h.store.GetGroup(ctx, tenant, m.MemberID)
		}
		if errors.Is(err, store.ErrNotFound) {
			return &store.ErrInvalid{Field: "members", Reason: "no user or group with id " + m.MemberID}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// restoreGroup undoes a PUT's write of old's fields (now at written's
// version) after its member list failed; if the group changed again
// meanwhile, that later write stands.
func (h *handler) restoreGroup(ctx context.Context, old, written *store.Group) {
	g := *old
	g.Version = written.Version
	if err := h.store.UpdateGroup(context.WithoutCancel(ctx), &g); err != nil {
		h.log.WarnContext(ctx, "scim: restoring a group after a failed PUT", "group", old.ID, "err", err)
	}
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType, id string) {
	ctx := r.Context()
	version := int64(0)
	if r.Header.Get("If-Match") != "" {
		var cur int64
		if rt == userType {
			u, err := h.store.GetUser(ctx, tenant, id)
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			cur = u.Version
		} else {
			g, err := h.store.GetGroup(ctx, tenant, id)
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			cur = g.Version
		}
		if _, ok := ifMatch(r, cur); !ok {
			h.writeError(w, r, errPrecondition)
			return
		}
		version = cur
	}
	var err error
	switch {
	case h.lic != nil && rt == userType:
		err = h.lic.DeleteUser(ctx, tenant, id, version, actorOf(ctx))
	case h.lic != nil:
		err = h.lic.DeleteGroup(ctx, tenant, id, version, actorOf(ctx))
	case rt == userType:
		err = h.store.DeleteUser(ctx, tenant, id, version)
	default:
		err = h.store.DeleteGroup(ctx, tenant, id, version)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) patch(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType, id string) {
	b, err := readBody(w, r, h.limits.MaxBodyBytes)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ops, err := parsePatch(b)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if rt == userType {
		u, err := h.patchUser(r, tenant, id, ops)
		h.respond(w, r, tenant, http.StatusOK, u, err)
		return
	}
	version, err := h.patchGroup(r, tenant, id, ops)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	// A member change on a 100,000-member group is answered without
	// rendering the group, unless the client asked for attributes.
	if q := r.URL.Query(); q.Get("attributes") == "" && q.Get("excludedAttributes") == "" {
		w.Header().Set("ETag", etag(version))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	g, err := h.store.GetGroup(r.Context(), tenant, id)
	h.respond(w, r, tenant, http.StatusOK, g, err)
}

// errHashFirst ends a change that sets a password: hashing it takes far
// too long to happen while the store holds its writer.
var errHashFirst = errors.New("scim: the password must be hashed first")

func (h *handler) patchUser(r *http.Request, tenant, id string, ops []patchOp) (*store.User, error) {
	return h.writeUser(r, tenant, id, func(cur *store.User) (*validated, error) {
		d := userDoc(cur)
		if err := h.applyOps(userType, d, ops); err != nil {
			return nil, err
		}
		return validateDoc(userType, d)
	})
}

// writeUser replaces the stored user by what build makes of it (a PATCH's
// operations applied to it, a PUT's body): through the store's
// read-modify-write when it has one (store.UserModifier), else read,
// build and compare-and-set, again when a concurrent writer moved the
// version on and the request did not name one. A user build leaves as it
// was is not written: no new version.
func (h *handler) writeUser(r *http.Request, tenant, id string, build func(cur *store.User) (*validated, error)) (*store.User, error) {
	ctx := r.Context()
	if m, ok := h.store.(store.UserModifier); ok {
		before, after, err := m.ModifyUser(ctx, tenant, id, func(u *store.User) error {
			if _, ok := ifMatch(r, u.Version); !ok {
				return errPrecondition
			}
			v, err := build(u)
			if err != nil {
				return err
			}
			if str(v.core["password"]) != "" {
				return errHashFirst
			}
			return setUser(u, v)
		})
		switch {
		case errors.Is(err, errors.ErrUnsupported) || errors.Is(err, errHashFirst):
			// Read, build and compare-and-set below.
		case err != nil:
			return nil, err
		default:
			if after != before {
				h.afterUserWrite(ctx, before, after)
			}
			return after, nil
		}
	}
	var pwHash, pwFor string
	for attempt := 0; ; attempt++ {
		cur, err := h.store.GetUser(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		conditional, ok := ifMatch(r, cur.Version)
		if !ok {
			return nil, errPrecondition
		}
		v, err := build(cur)
		if err != nil {
			return nil, err
		}
		u := *cur
		if err := setUser(&u, v); err != nil {
			return nil, err
		}
		if pw := str(v.core["password"]); pw != "" {
			if pw != pwFor {
				if pwHash, err = h.hashPassword(ctx, pw); err != nil {
					return nil, err
				}
				pwFor = pw
			}
			u.PasswordHash = pwHash
		}
		if reflect.DeepEqual(&u, cur) {
			return cur, nil
		}
		if err := h.updateUser(ctx, cur, &u); err != nil {
			if retryable(err, conditional, attempt) {
				continue
			}
			return nil, err
		}
		h.afterUserWrite(ctx, cur, &u)
		return &u, nil
	}
}
