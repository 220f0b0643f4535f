package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/roster-scim/roster/auth"
)

// newLogger returns the process logger: JSON (or text) on w at the
// configured level, adding the request id to every record logged with a
// request's context.
func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // Validate checked it
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if c.Format == "text" {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(requestIDHandler{h})
}

// requestIDHandler adds request_id to records logged with a context that
// carries one, so a handler deep in scim or licensing need not pass it on.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if info := requestInfoFrom(ctx); info != nil {
		r.AddAttrs(slog.String("request_id", info.id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// requestInfo is what the access log line reports; inner middleware fill
// in what only they learn (the tenant, once the token is checked).
type requestInfo struct {
	id     string
	tenant string
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// requestID accepts a caller's X-Request-Id when it is short and plain
// (a proxy's or IdP's id joins the logs up), else makes one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && plainID(id) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func plainID(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// accessLog gives every request an id (X-Request-Id, echoed in the
// response), logs one line when it ends, and turns a panic into a 500 and
// an error record instead of a dropped connection and a stack on stderr.
// It logs the path without the query: bootstrap links carry their secret
// in the query.
//
// It also feeds the request metrics, having the root router's route
// context once the handler returned.
func accessLog(log *slog.Logger, m *metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			info := &requestInfo{id: requestID(r)}
			ctx := context.WithValue(r.Context(), requestInfoKey{}, info)
			w.Header().Set("X-Request-Id", info.id)
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			defer func() {
				level := slog.LevelInfo
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p) // the server's way to abort a response; let it do so
					}
					log.ErrorContext(ctx, "handler panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					if ww.Status() == 0 {
						http.Error(ww, "internal error", http.StatusInternalServerError)
					}
				}
				status := ww.Status()
				if status == 0 {
					status = http.StatusOK // nothing written: net/http sends 200
				}
				elapsed := time.Since(start)
				m.observeHTTP(r, status, elapsed)
				switch {
				case status >= 500:
					level = slog.LevelError
				case status == http.StatusOK && (r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics"):
					// Probes and scrapes every few seconds would drown the log.
					level = slog.LevelDebug
				}
				if !log.Enabled(ctx, level) {
					return // at a level that drops the line, building it costs an allocation per request
				}
				attrs := []slog.Attr{
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.Int("status", status),
					slog.Int("bytes", ww.BytesWritten()),
					slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
					slog.String("remote", r.RemoteAddr),
					// Tells an IdP's calls apart (Okta, Entra ID, a script).
					slog.String("user_agent", r.UserAgent()),
				}
				if info.tenant != "" {
					attrs = append(attrs, slog.String("tenant", info.tenant))
				}
				log.LogAttrs(ctx, level, "request", attrs...)
			}()
			next.ServeHTTP(ww, r.WithContext(ctx))
		})
	}
}

// noteTenant records the authenticated tenant for the access log; it runs
// after auth.SCIMBearer.
func noteTenant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := requestInfoFrom(r.Context()); info != nil {
			info.tenant = auth.TenantID(r.Context())
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps every request body; a handler reading past it gets an
// error (and net/http answers 413 when the handler reports it). The
// portal's import upload is the one exception: the portal caps it at the
// importer's file limit itself and answers on the form.
func limitBody(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isImportUpload(r) {
				next.ServeHTTP(w, r)
				return
			}
			if r.ContentLength > max {
				msg := fmt.Sprintf("request body larger than %d bytes", max)
				if strings.HasPrefix(r.URL.Path, "/scim/") {
					auth.WriteSCIMError(w, http.StatusRequestEntityTooLarge, msg)
				} else {
					http.Error(w, msg, http.StatusRequestEntityTooLarge)
				}
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, max)
			next.ServeHTTP(w, r)
		})
	}
}

// isImportUpload matches the portal's POST /admin/t/{tenant}/import.
func isImportUpload(r *http.Request) bool {
	rest, ok := strings.CutPrefix(r.URL.Path, "/admin/t/")
	tenant, tail, _ := strings.Cut(rest, "/")
	return ok && r.Method == http.MethodPost && tenant != "" && tail == "import"
}
