package main

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"
)

// newAdminServer is the operators' listener (server.admin_addr): /metrics
// and the Go profiler, nothing a customer or an IdP reaches. pprof is
// registered here by hand, never through net/http/pprof's side effect on
// http.DefaultServeMux, so it cannot end up on the public listener.
func newAdminServer(m *metrics, log *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.handler(log))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("Roster admin listener: /metrics, /debug/pprof/\n"))
	})
	return &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// No write timeout: a CPU profile or trace streams for as many
		// seconds as asked.
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
