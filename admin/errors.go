package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// internalMsg is all a page says about a failure inside Roster: the cause
// goes to the log with the reference, never into the page.
const internalMsg = "Something went wrong on our side, and nothing was changed by this error. Try again in a moment; " +
	"if it keeps happening, tell your Roster operator the time it happened."

// userError is a failure a person can act on, with the words to show.
type userError struct {
	Status int
	Title  string
	Msg    string
}

func (e *userError) Error() string { return e.Msg }

// invalid is a 422 with a message for the form.
func invalid(format string, args ...any) error {
	return &userError{Status: http.StatusUnprocessableEntity, Title: "Check the form", Msg: fmt.Sprintf(format, args...)}
}

// attrLabels name a store attribute in the words of the pages.
var attrLabels = map[string]string{
	"userName":    "username",
	"externalId":  "external id",
	"displayName": "name",
	"name":        "name",
	"code":        "product code",
	"productId":   "pool for this product",
	"rule":        "license rule for this group and pool",
	"deviceCode":  "device code",
	"total":       "total seats",
	"members":     "members",
}

func label(attr string) string {
	if l, ok := attrLabels[attr]; ok {
		return l
	}
	return attr
}

// asUserError maps the store's and the licensing engine's error values to
// what a page says (one table for the portal, as STYLE.md asks), or nil
// when err is internal.
func asUserError(err error) *userError {
	var ue *userError
	if errors.As(err, &ue) {
		return ue
	}
	if c, ok := store.IsConflict(err); ok {
		if c.Attr == "productId" {
			return &userError{http.StatusConflict, "Already exists", "This account already has a pool for this product; resize that pool instead."}
		}
		return &userError{http.StatusConflict, "Already exists", "A record with this " + label(c.Attr) + " already exists."}
	}
	if v, ok := store.IsInvalid(err); ok {
		return &userError{http.StatusUnprocessableEntity, "Check the form", capitalise(label(v.Field)) + ": " + v.Reason + "."}
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &userError{http.StatusNotFound, "Not found", "This record does not exist in this account (any more); someone may have removed it."}
	case errors.Is(err, store.ErrNoSeats):
		return &userError{http.StatusConflict, "No seats available", "Every seat of this pool is taken. Free a seat or request more seats on the Licenses page."}
	case errors.Is(err, store.ErrDeviceLimit):
		return &userError{http.StatusConflict, "Device limit reached", "This seat already has as many devices as the pool allows. Unbind one of them first."}
	case errors.Is(err, store.ErrExpired):
		return &userError{http.StatusConflict, "Pool not running", "This pool has ended or not started yet, so it grants no new seats."}
	case errors.Is(err, store.ErrPrecondition):
		return &userError{http.StatusConflict, "Changed meanwhile", "Someone else changed this record while you were working on it. Reload the page and try again."}
	case errors.Is(err, auth.ErrTenantSuspended):
		return &userError{http.StatusForbidden, "Account suspended", "This account is suspended. Contact your Roster operator."}
	}
	for _, e := range []error{licensing.ErrNoLicense, licensing.ErrWaiting, licensing.ErrPoolExpired, licensing.ErrBlocked, licensing.ErrNoPool} {
		if errors.Is(err, e) {
			return &userError{http.StatusConflict, "Not possible", capitalise(e.Error()) + "."}
		}
	}
	return nil
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// errorData is the error page's content.
type errorData struct {
	Status  int
	Heading string
	Message string
	// Back is a link to go on from, with its label.
	Back, BackLabel string
}

// fail shows err: its own words when a person can act on it, the generic
// message (and a log line with the cause) otherwise.
func (s *server) fail(c *rc, err error) {
	ue := asUserError(err)
	if ue == nil {
		s.log.ErrorContext(c.ctx(), "admin: request failed", "method", c.r.Method, "path", c.r.URL.Path, "err", err)
		ue = &userError{http.StatusInternalServerError, "Something went wrong", internalMsg}
	}
	p := c.page(ue.Title, "", errorData{Status: ue.Status, Heading: ue.Title, Message: ue.Msg})
	if c.tenant == nil && !c.operator() {
		p.Bare = true
	}
	s.render(c.w, c.r, ue.Status, "error", p)
}

// errorPage shows an error outside a signed-in page.
func (s *server) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	s.render(w, r, status, "error", &page{Title: heading, Bare: true, OIDCMissing: s.oidc == nil,
		Data: errorData{Status: status, Heading: heading, Message: msg, Back: s.base, BackLabel: "Go to the portal"}})
}
