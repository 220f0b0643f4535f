package scim

import (
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/roster-scim/roster/store"
)

// Store is what the SCIM door needs of a backend.
type Store interface {
	store.Users
	store.Groups
	store.Memberships
}

// Limits bound what one request may ask for. Zero fields take the
// defaults shown.
type Limits struct {
	MaxFilterLength     int   // characters in a filter (2048)
	MaxResults          int   // resources in one list response (200)
	BulkMaxOperations   int   // operations in one /Bulk request (1000)
	BulkMaxPayloadBytes int64 // bytes of one /Bulk request (1 MiB)
	MaxBodyBytes        int64 // bytes of any other request body (1 MiB)
	// MaxScan bounds the records a store evaluates in Go for a filter its
	// indexes cannot answer (store.Query.MaxScan; 0: the store's default).
	MaxScan int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFilterLength <= 0 {
		l.MaxFilterLength = 2048
	}
	if l.MaxResults <= 0 {
		l.MaxResults = 200
	}
	if l.BulkMaxOperations <= 0 {
		l.BulkMaxOperations = 1000
	}
	if l.BulkMaxPayloadBytes <= 0 {
		l.BulkMaxPayloadBytes = 1 << 20
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 1 << 20
	}
	return l
}

// Deps is what New needs.
type Deps struct {
	Store Store
	// Tenant returns the tenant the request authenticated as; !ok is
	// answered with 401.
	Tenant func(r *http.Request) (tenantID string, ok bool)
	// User returns the id of the user the caller is, for /Me. Nil, or
	// !ok (a SCIM token is not a user), answers /Me with 501.
	User    func(r *http.Request) (userID string, ok bool)
	Logger  *slog.Logger
	BaseURL string // the URL the handler is mounted at, e.g. https://roster.example.com/scim/v2
	Limits  Limits
	// Licensing converges seats after identity changes; nil skips it.
	Licensing Licensing
	// Actor names the caller in the audit log ("scim:<token id>"); nil
	// records "scim".
	Actor func(r *http.Request) string
	// Now is accepted for symmetry with the other doors; every time a
	// SCIM response shows is stamped by the store, so nothing reads it.
	Now func() time.Time
}

type handler struct {
	store    Store
	tenant   func(*http.Request) (string, bool)
	me       func(*http.Request) (string, bool)
	lic      Licensing
	actor    func(*http.Request) string
	log      *slog.Logger
	baseURL  string
	basePath string
	limits   Limits

	filters *lru[store.Expr]
	paths   *lru[*target]
	hashes  chan struct{} // bounds concurrent argon2id hashing (memory)

	// userRendering is the default representation of a user, for a
	// store that keeps renderings (userrender.go); Append is nil when
	// the store cannot make it.
	userRendering store.UserRendering

	spConfig      []byte
	resourceTypes []byte
	schemas       []byte
	schemaByID    map[string][]byte
	typeByID      map[string][]byte
}

// New returns the SCIM 2.0 handler. It serves paths relative to where it
// is mounted ("/Users", "/Groups/{id}", "/Bulk", …); mounted under a
// prefix without stripping it, it strips the path of BaseURL itself.
func New(deps Deps) http.Handler {
	h := &handler{
		store:   deps.Store,
		tenant:  deps.Tenant,
		me:      deps.User,
		lic:     deps.Licensing,
		actor:   deps.Actor,
		log:     deps.Logger,
		baseURL: strings.TrimRight(deps.BaseURL, "/"),
		limits:  deps.Limits.withDefaults(),
		filters: newLRU[store.Expr](4096),
		paths:   newLRU[*target](1024),
		hashes:  make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if u, err := url.Parse(h.baseURL); err == nil {
		h.basePath = strings.TrimRight(u.Path, "/")
	}
	h.buildDiscovery()
	h.userRendering = h.defaultUserRendering()
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.ErrorContext(r.Context(), "scim handler panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			writeErrorBody(w, errInternal)
		}
	}()
	tenant, ok := "", false
	if h.tenant != nil {
		tenant, ok = h.tenant(r)
	}
	if !ok || tenant == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
		writeErrorBody(w, errUnauthorized)
		return
	}
	h.route(w, h.withActor(r), tenant, h.relPath(r))
}

// relPath is the request path below the mount point.
func (h *handler) relPath(r *http.Request) string {
	p := r.URL.Path
	if h.basePath != "" && strings.HasPrefix(p, h.basePath) && (len(p) == len(h.basePath) || p[len(h.basePath)] == '/') {
		return p[len(h.basePath):]
	}
	if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePath != "" {
		return rctx.RoutePath
	}
	return p
}

func (h *handler) route(w http.ResponseWriter, r *http.Request, tenant, path string) {
	path = strings.TrimRight(path, "/")
	seg, rest := path, ""
	if len(seg) > 0 && seg[0] == '/' {
		seg = seg[1:]
	}
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg, rest = seg[:i], seg[i:]
	}
	switch {
	case strings.EqualFold(seg, "Users"):
		h.serveResource(w, r, tenant, userType, rest)
	case strings.EqualFold(seg, "Groups"):
		h.serveResource(w, r, tenant, groupType, rest)
	case seg == ".search" && rest == "":
		if !allow(w, r, http.MethodPost) {
			return
		}
		h.search(w, r, tenant, nil)
	case strings.EqualFold(seg, "Bulk") && rest == "":
		if !allow(w, r, http.MethodPost) {
			return
		}
		h.bulk(w, r, tenant)
	case strings.EqualFold(seg, "Me"):
		h.serveMe(w, r, tenant, rest)
	case strings.EqualFold(seg, "ServiceProviderConfig") && rest == "":
		if allow(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, h.spConfig)
		}
	case strings.EqualFold(seg, "ResourceTypes"):
		if allow(w, r, http.MethodGet) {
			h.serveDiscovery(w, rest, h.resourceTypes, h.typeByID)
		}
	case strings.EqualFold(seg, "Schemas"):
		if allow(w, r, http.MethodGet) {
			h.serveDiscovery(w, rest, h.schemas, h.schemaByID)
		}
	default:
		writeErrorBody(w, newError(http.StatusNotFound, "", "no such endpoint"))
	}
}

func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeErrorBody(w, newError(http.StatusMethodNotAllowed, "", "method %s is not allowed here", r.Method))
	return false
}

func (h *handler) serveResource(w http.ResponseWriter, r *http.Request, tenant string, rt *resourceType, rest string) {
	switch {
	case rest == "":
		if !allow(w, r, http.MethodGet, http.MethodPost) {
			return
		}
		if r.Method == http.MethodGet {
			h.list(w, r, tenant, rt)
			return
		}
		h.create(w, r, tenant, rt)
	case rest == "/.search":
		if allow(w, r, http.MethodPost) {
			h.search(w, r, tenant, rt)
		}
	case strings.IndexByte(rest[1:], '/') < 0:
		id := rest[1:]
		switch r.Method {
		case http.MethodGet:
			h.get(w, r, tenant, rt, id)
		case http.MethodPut:
			h.replace(w, r, tenant, rt, id)
		case http.MethodPatch:
			h.patch(w, r, tenant, rt, id)
		case http.MethodDelete:
			h.delete(w, r, tenant, rt, id)
		default:
			allow(w, r, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete)
		}
	default:
		writeErrorBody(w, newError(http.StatusNotFound, "", "no such endpoint"))
	}
}

// serveMe answers /Me as /Users/{the caller's id} when the caller is a
// user; a SCIM token is not one, hence 501 (RFC 7644 §3.11).
func (h *handler) serveMe(w http.ResponseWriter, r *http.Request, tenant, rest string) {
	userID, ok := "", false
	if h.me != nil {
		userID, ok = h.me(r)
	}
	if !ok || userID == "" {
		writeErrorBody(w, newError(http.StatusNotImplemented, "", "/Me is only available to a caller that is a user"))
		return
	}
	if rest != "" {
		writeErrorBody(w, newError(http.StatusNotFound, "", "no such endpoint"))
		return
	}
	switch r.Method {
	case http.MethodGet:
		h.get(w, r, tenant, userType, userID)
	case http.MethodPut:
		h.replace(w, r, tenant, userType, userID)
	case http.MethodPatch:
		h.patch(w, r, tenant, userType, userID)
	case http.MethodDelete:
		h.delete(w, r, tenant, userType, userID)
	default:
		allow(w, r, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete)
	}
}

const contentType = "application/scim+json"

var bufPool = sync.Pool{New: func() any { return &jsonWriter{b: make([]byte, 0, 2048)} }}

func getWriter() *jsonWriter {
	jw := bufPool.Get().(*jsonWriter)
	jw.b = jw.b[:0]
	jw.comma = false
	return jw
}

func putWriter(jw *jsonWriter) {
	if cap(jw.b) <= 1<<20 { // a 100,000-member group's buffer is not kept
		bufPool.Put(jw)
	}
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	hdr := w.Header()
	hdr["Content-Type"] = []string{contentType}
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeResource writes a rendered resource with its ETag (and Location
// when created).
func writeResource(w http.ResponseWriter, status int, version int64, location string, body []byte) {
	hdr := w.Header()
	hdr["Etag"] = []string{etag(version)} // canonical form of ETag
	if location != "" {
		hdr["Location"] = []string{location}
	}
	writeJSON(w, status, body)
}

// ifMatch reads If-Match. It returns whether the header was sent, and
// whether version satisfies it.
func ifMatch(r *http.Request, version int64) (sent, ok bool) {
	v := r.Header.Get("If-Match")
	if v == "" {
		return false, true
	}
	return true, etagMatches(v, version)
}

// etagMatches reports whether an If-Match / If-None-Match list names
// version ("*" names any); weak and strong forms compare alike.
func etagMatches(list string, version int64) bool {
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "*" {
			return true
		}
		item = strings.TrimPrefix(item, "W/")
		item = strings.TrimPrefix(strings.TrimSuffix(item, `"`), `"`)
		if n, err := strconv.ParseInt(item, 10, 64); err == nil && n == version {
			return true
		}
	}
	return false
}

func notModified(w http.ResponseWriter, r *http.Request, version int64) bool {
	v := r.Header.Get("If-None-Match")
	if v == "" || !etagMatches(v, version) {
		return false
	}
	w.Header().Set("ETag", etag(version))
	w.WriteHeader(http.StatusNotModified)
	return true
}

// maxAttempts bounds compare-and-set retries of a write the client did
// not condition on a version: a concurrent writer made the read stale,
// so the change is re-applied to the fresh record.
const maxAttempts = 16
