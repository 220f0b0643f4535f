package scim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/roster-scim/roster/store"
)

// listRequest is a query (RFC 7644 §3.4.2) from a GET's parameters or a
// POST .search body.
type listRequest struct {
	filter     string
	sortBy     string
	sortOrder  string
	startIndex int // 1-based
	count      int // -1: not given
	attributes string
	excluded   string
}

func (h *handler) listRequestFromQuery(r *http.Request) (*listRequest, error) {
	q := r.URL.Query()
	lr := &listRequest{
		filter:     q.Get("filter"),
		sortBy:     q.Get("sortBy"),
		sortOrder:  q.Get("sortOrder"),
		attributes: q.Get("attributes"),
		excluded:   q.Get("excludedAttributes"),
		startIndex: 1,
		count:      -1,
	}
	if _, ok := q["filter"]; ok && strings.TrimSpace(lr.filter) == "" {
		return nil, badRequest(typeInvalidFilter, "filter is empty")
	}
	var err error
	if s := q.Get("startIndex"); s != "" {
		if lr.startIndex, err = strconv.Atoi(s); err != nil {
			return nil, badRequest(typeInvalidValue, "startIndex must be an integer")
		}
	}
	if s := q.Get("count"); s != "" {
		if lr.count, err = strconv.Atoi(s); err != nil {
			return nil, badRequest(typeInvalidValue, "count must be an integer")
		}
		lr.count = max(lr.count, 0)
	}
	return lr, nil
}

func (h *handler) listRequestFromBody(w http.ResponseWriter, r *http.Request) (*listRequest, error) {
	b, err := readBody(w, r, h.limits.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if _, err := decodeObject(b); err != nil {
		return nil, err
	}
	var body struct {
		Schemas            []string `json:"schemas"`
		Attributes         []string `json:"attributes"`
		ExcludedAttributes []string `json:"excludedAttributes"`
		Filter             *string  `json:"filter"`
		SortBy             string   `json:"sortBy"`
		SortOrder          string   `json:"sortOrder"`
		StartIndex         *int     `json:"startIndex"`
		Count              *int     `json:"count"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, badRequest(typeInvalidSyntax, "the SearchRequest is malformed")
	}
	lr := &listRequest{
		sortBy:     body.SortBy,
		sortOrder:  body.SortOrder,
		attributes: strings.Join(body.Attributes, ","),
		excluded:   strings.Join(body.ExcludedAttributes, ","),
		startIndex: 1,
		count:      -1,
	}
	if body.Filter != nil {
		if strings.TrimSpace(*body.Filter) == "" {
			return nil, badRequest(typeInvalidFilter, "filter is empty")
		}
		lr.filter = *body.Filter
	}
	if body.StartIndex != nil {
		lr.startIndex = *body.StartIndex
	}
	if body.Count != nil {
		lr.count = max(*body.Count, 0)
	}
	return lr, nil
}

// query builds the store query for rt. RFC 7644 §3.4.2.4: a startIndex
// below 1 is 1; count is capped at MaxResults (and defaults to it).
func (h *handler) query(rt *resourceType, lr *listRequest) (store.Query, error) {
	q := store.Query{Offset: max(lr.startIndex, 1) - 1, Limit: lr.count, MaxScan: h.limits.MaxScan}
	if q.Limit < 0 || q.Limit > h.limits.MaxResults {
		q.Limit = h.limits.MaxResults
	}
	if lr.filter != "" {
		e, err := h.compileFilter(rt, lr.filter)
		if err != nil {
			return q, err
		}
		q.Filter = e
	}
	if lr.sortBy != "" {
		_, p, a, err := resolveFilterAttr(rt, lr.sortBy)
		if err != nil {
			return q, badRequest(typeInvalidValue, "sortBy names an unknown attribute %q", lr.sortBy)
		}
		if p.Sub == "" && a.complex() {
			if a.sub("value") == nil {
				return q, badRequest(typeInvalidValue, "sortBy %q is complex: name a sub-attribute", lr.sortBy)
			}
			p.Sub = "value"
		}
		q.SortBy = p
	}
	switch {
	case lr.sortOrder == "" || strings.EqualFold(lr.sortOrder, "ascending"):
	case strings.EqualFold(lr.sortOrder, "descending"):
		q.Descending = true
	default:
		return q, badRequest(typeInvalidValue, "sortOrder must be ascending or descending")
	}
	return q, nil
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType) {
	lr, err := h.listRequestFromQuery(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.respondList(w, r, tenant, []*resourceType{rt}, lr)
}

// search answers POST /.search (rt nil: Users and Groups) and POST
// /{Users,Groups}/.search.
func (h *handler) search(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType) {
	lr, err := h.listRequestFromBody(w, r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	types := []*resourceType{userType, groupType}
	if rt != nil {
		types = []*resourceType{rt}
	}
	h.respondList(w, r, tenant, types, lr)
}

// respondList runs the query over each resource type in turn, as if
// their results were concatenated (users, then groups), and pages over
// the concatenation. For the root search, a filter naming an attribute
// only one type has selects from that type; one no type has is 400.
func (h *handler) respondList(w http.ResponseWriter, r *http.Request, tenant string, types []*resourceType, lr *listRequest) {
	ctx := r.Context()
	jw := getWriter()
	defer putWriter(jw)
	var firstErr error
	total, returned := 0, 0
	offset := max(lr.startIndex, 1) - 1
	answered := 0
	jw.b = append(jw.b, `{"schemas":["`+uriListResponse+`"],"Resources":[`...)
	jw.comma = false
	for _, rt := range types {
		q, err := h.query(rt, lr)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		answered++
		limit := q.Limit
		q.Offset = max(offset-total, 0)
		q.Limit = max(limit-returned, 0)
		n, matched, err := h.listType(ctx, jw, tenant, rt, q, parseProjection(rt, lr.attributes, lr.excluded))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		total += matched
		returned += n
	}
	if answered == 0 {
		h.writeError(w, r, firstErr)
		return
	}
	jw.close(']')
	jw.key("totalResults")
	jw.integer(int64(total))
	jw.key("itemsPerPage")
	jw.integer(int64(returned))
	jw.key("startIndex")
	jw.integer(int64(offset + 1))
	jw.close('}')
	writeJSON(w, http.StatusOK, jw.b)
}

// listType renders one type's page into jw, returning how many resources
// it rendered and how many matched in all.
func (h *handler) listType(ctx context.Context, jw *jsonWriter, tenant string, rt *resourceType, q store.Query, p *projection) (int, int, error) {
	if rt == userType {
		if name, ok := userNameEq(q.Filter); ok {
			return h.listByUserName(ctx, jw, tenant, name, q, p)
		}
		if rs, ok := h.store.(store.RenderedUserStreamer); ok && p == nil && h.userRendering.Append != nil {
			// The default representation, as the store kept it.
			n := 0
			total, err := rs.StreamRenderedUsers(ctx, tenant, q, h.userRendering, func(rendered string) error {
				jw.rawString(rendered)
				n++
				return nil
			})
			if n > 0 || !errors.Is(err, errors.ErrUnsupported) {
				return n, total, err
			}
		}
		if st, ok := h.store.(store.UserStreamer); ok {
			// Rendered as the store reads them: no page of users built.
			n := 0
			total, err := st.StreamUsers(ctx, tenant, q, func(u *store.User) error {
				x, err := h.userExtras(ctx, tenant, u.ID, p)
				if err != nil {
					return err
				}
				h.appendUser(jw, u, p, x)
				n++
				return nil
			})
			if n > 0 || !errors.Is(err, errors.ErrUnsupported) {
				return n, total, err
			}
		}
		page, err := h.store.ListUsers(ctx, tenant, q)
		if err != nil {
			return 0, 0, err
		}
		for _, u := range page.Users {
			x, err := h.userExtras(ctx, tenant, u.ID, p)
			if err != nil {
				return 0, 0, err
			}
			h.appendUser(jw, u, p, x)
		}
		return len(page.Users), page.Total, nil
	}
	page, err := h.store.ListGroups(ctx, tenant, q)
	if err != nil {
		return 0, 0, err
	}
	wantMembers := membersWanted(p)
	for _, g := range page.Groups {
		var members []store.Member
		if wantMembers {
			if members, err = h.loadMembers(ctx, tenant, g.ID); err != nil {
				return 0, 0, err
			}
		}
		h.appendGroup(jw, g, members, p)
	}
	return len(page.Groups), page.Total, nil
}

// userNameEq recognises the filter `userName eq "value"`, the lookup an
// IdP makes before every create.
func userNameEq(e store.Expr) (string, bool) {
	c, ok := e.(store.Compare)
	if !ok || c.Attr != userNamePath || c.Op != store.OpEq {
		return "", false
	}
	name, ok := c.Value.(string)
	return name, ok && name != ""
}

// listByUserName answers userNameEq's filter with the store's lookup by
// userName, which folds case as the filter does: userName is unique per
// tenant, so the matches are that user or none, in any order.
func (h *handler) listByUserName(ctx context.Context, jw *jsonWriter, tenant, name string, q store.Query, p *projection) (int, int, error) {
	u, err := h.store.GetUserByUserName(ctx, tenant, name)
	if errors.Is(err, store.ErrNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	if q.Offset > 0 || q.Limit == 0 {
		return 0, 1, nil
	}
	x, err := h.userExtras(ctx, tenant, u.ID, p)
	if err != nil {
		return 0, 0, err
	}
	h.appendUser(jw, u, p, x)
	return 1, 1, nil
}
