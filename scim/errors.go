package scim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/roster-scim/roster/store"
)

// SCIM detail error keywords (RFC 7644 §3.12).
const (
	typeInvalidFilter = "invalidFilter"
	typeTooMany       = "tooMany"
	typeUniqueness    = "uniqueness"
	typeMutability    = "mutability"
	typeInvalidSyntax = "invalidSyntax"
	typeInvalidPath   = "invalidPath"
	typeNoTarget      = "noTarget"
	typeInvalidValue  = "invalidValue"
	typeInvalidVers   = "invalidVers"
)

// apiError is what a client is told. Only status, scimType and detail
// reach the response; cause goes to the log, so internal text (SQL, file
// paths, driver messages) never leaks to an IdP.
type apiError struct {
	status   int
	scimType string
	detail   string
	cause    error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.status, e.scimType, e.detail, e.cause)
	}
	return fmt.Sprintf("%d %s: %s", e.status, e.scimType, e.detail)
}

func (e *apiError) Unwrap() error { return e.cause }

func newError(status int, scimType, format string, args ...any) *apiError {
	return &apiError{status: status, scimType: scimType, detail: fmt.Sprintf(format, args...)}
}

func badRequest(scimType, format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, scimType, format, args...)
}

var (
	errUnauthorized = newError(http.StatusUnauthorized, "", "authentication required")
	errNotFound     = newError(http.StatusNotFound, "", "resource not found")
	errPrecondition = newError(http.StatusPreconditionFailed, "", "the resource changed: its version does not match If-Match")
	errInternal     = newError(http.StatusInternalServerError, "", "internal server error")
)

// toAPIError is the one table mapping store errors to SCIM responses.
// Anything it does not know is a 500 with a generic detail.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if errors.Is(err, store.ErrPrecondition) {
		return errPrecondition
	}
	if c, ok := store.IsConflict(err); ok {
		return newError(http.StatusConflict, typeUniqueness, "%s is already in use", c.Attr)
	}
	if inv, ok := store.IsInvalid(err); ok {
		if inv.Field == "filter" {
			return badRequest(typeInvalidFilter, "invalid filter: %s", inv.Reason)
		}
		return badRequest(typeInvalidValue, "invalid %s: %s", inv.Field, inv.Reason)
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return newError(http.StatusRequestEntityTooLarge, "", "request body larger than %d bytes", mbe.Limit)
	}
	return &apiError{status: errInternal.status, detail: errInternal.detail, cause: err}
}

// writeError sends err as a SCIM error body, logging what the client is
// not shown.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := toAPIError(err)
	if ae.status >= 500 {
		level := slog.LevelError
		if errors.Is(err, context.Canceled) {
			level = slog.LevelDebug // the client went away
		}
		h.log.Log(r.Context(), level, "scim request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeErrorBody(w, ae)
}

func writeErrorBody(w http.ResponseWriter, ae *apiError) {
	var jw jsonWriter
	jw.b = make([]byte, 0, 256)
	appendErrorBody(&jw, ae)
	hdr := w.Header()
	hdr.Set("Content-Type", contentType)
	hdr.Set("Content-Length", strconv.Itoa(len(jw.b)))
	hdr.Del("ETag")
	w.WriteHeader(ae.status)
	_, _ = w.Write(jw.b)
}

func appendErrorBody(jw *jsonWriter, ae *apiError) {
	jw.open('{')
	jw.key("schemas")
	jw.open('[')
	jw.str(uriError)
	jw.close(']')
	if ae.scimType != "" {
		jw.strField("scimType", ae.scimType)
	}
	jw.strField("detail", ae.detail)
	jw.strField("status", strconv.Itoa(ae.status))
	jw.close('}')
}
