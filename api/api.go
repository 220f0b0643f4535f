// Package api is Roster's small JSON API for devices: an app signs its
// user in on a device, gets a signed lease it can verify offline, renews
// it, and fetches the tenant's public keys. It uses no cookies: every call
// carries its own credentials.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/roster-scim/roster/auth"
	"github.com/roster-scim/roster/licensing"
	"github.com/roster-scim/roster/store"
)

// IDTokenVerifier checks an OpenID Connect ID token from the tenant's
// identity provider and returns the user name (e-mail) it vouches for.
type IDTokenVerifier interface {
	VerifyIDToken(ctx context.Context, tenantID, rawIDToken string) (userName string, err error)
}

// Deps is what the API needs.
type Deps struct {
	Store    store.Store
	Engine   *licensing.Engine
	Logger   *slog.Logger
	LeaseTTL time.Duration   // 0: licensing.DefaultLeaseTTL
	IDTokens IDTokenVerifier // nil: only passwords are accepted
	MaxBody  int64           // 0: 64 KiB
}

type server struct {
	Deps
	dummyHash string
	// hashing bounds concurrent argon2id checks: each takes 19 MiB, and a
	// burst of sign-ins must queue rather than exhaust memory.
	hashing chan struct{}
}

// New returns the handler for /api/v1/devices/... and /.well-known/jwks.json.
func New(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.MaxBody == 0 {
		d.MaxBody = 64 << 10
	}
	s := &server{Deps: d, hashing: make(chan struct{}, runtime.GOMAXPROCS(0))}
	// A hash to check against when the user does not exist, so a wrong
	// user name costs the same time as a wrong password.
	s.dummyHash, _ = auth.HashPassword("roster-dummy-password")
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/devices/login", s.login)
	mux.HandleFunc("POST /api/v1/devices/renew", s.renew)
	mux.HandleFunc("GET /.well-known/jwks.json", s.jwks)
	return mux
}

type loginRequest struct {
	Tenant     string `json:"tenant"`
	UserName   string `json:"userName"`
	Password   string `json:"password"`
	IDToken    string `json:"idToken"`
	DeviceCode string `json:"deviceCode"`
	DeviceName string `json:"deviceName"`
	Product    string `json:"product"`
}

type grantResponse struct {
	Lease      string    `json:"lease"`
	ExpiresAt  time.Time `json:"expiresAt"`
	DeviceID   string    `json:"deviceId"`
	DeviceCode string    `json:"deviceCode"`
	Product    string    `json:"product"`
	JWKSURL    string    `json:"jwksUrl"`
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !s.decode(w, r, &req) {
		return
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"tenant", req.Tenant}, {"userName", req.UserName}, {"deviceCode", req.DeviceCode}, {"product", req.Product}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if req.Password == "" && req.IDToken == "" {
		missing = append(missing, "password or idToken")
	}
	if len(missing) > 0 {
		writeError(w, http.StatusBadRequest, "invalid_request", "missing "+strings.Join(missing, ", "))
		return
	}
	t, err := s.tenant(r.Context(), req.Tenant)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := s.authenticate(r.Context(), t.ID, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	g, err := s.Engine.DeviceLogin(r.Context(), u, req.Product, req.DeviceCode, req.DeviceName, s.LeaseTTL)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.grant(w, r, t, g)
}

type renewRequest struct {
	Tenant string `json:"tenant"`
	Lease  string `json:"lease"`
}

func (s *server) renew(w http.ResponseWriter, r *http.Request) {
	var req renewRequest
	if !s.decode(w, r, &req) {
		return
	}
	if req.Tenant == "" || req.Lease == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "missing tenant or lease")
		return
	}
	t, err := s.tenant(r.Context(), req.Tenant)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	g, err := s.Engine.Renew(r.Context(), t.ID, req.Lease, s.LeaseTTL)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.grant(w, r, t, g)
}

func (s *server) jwks(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("tenant")
	if name == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "add ?tenant=<tenant name> to fetch that tenant's lease keys")
		return
	}
	t, err := s.tenant(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	set, err := s.Engine.JWKS(r.Context(), t.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, set)
}

func (s *server) grant(w http.ResponseWriter, r *http.Request, t *store.Tenant, g *licensing.Grant) {
	writeJSON(w, http.StatusOK, grantResponse{
		Lease: g.Lease, ExpiresAt: g.ExpiresAt, DeviceID: g.Device.ID, DeviceCode: g.Device.DeviceCode,
		Product: g.Product.Code, JWKSURL: "/.well-known/jwks.json?tenant=" + t.Name,
	})
}

func (s *server) tenant(ctx context.Context, name string) (*store.Tenant, error) {
	t, err := s.Store.GetTenantByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnknownTenant
	}
	if err != nil {
		return nil, err
	}
	if t.Suspended {
		return nil, errTenantSuspended
	}
	return t, nil
}

var (
	errUnknownTenant   = errors.New("unknown tenant")
	errTenantSuspended = errors.New("this organisation's account is suspended")
)

// checkPassword runs one argon2id check once a hashing slot is free.
func (s *server) checkPassword(ctx context.Context, hash, password string) error {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hashing }()
	return auth.CheckPassword(hash, password)
}

func (s *server) authenticate(ctx context.Context, tenantID string, req loginRequest) (*store.User, error) {
	if req.Password == "" {
		if s.IDTokens == nil {
			return nil, errNoSSO
		}
		name, err := s.IDTokens.VerifyIDToken(ctx, tenantID, req.IDToken)
		if err != nil {
			return nil, auth.ErrBadPassword
		}
		if store.NormUserName(name) != store.NormUserName(req.UserName) {
			return nil, auth.ErrBadPassword
		}
	}
	u, err := s.Store.GetUserByUserName(ctx, tenantID, req.UserName)
	if errors.Is(err, store.ErrNotFound) {
		if req.Password != "" {
			_ = s.checkPassword(ctx, s.dummyHash, req.Password)
		}
		return nil, auth.ErrBadPassword
	}
	if err != nil {
		return nil, err
	}
	if req.Password != "" {
		if u.PasswordHash == "" {
			_ = s.checkPassword(ctx, s.dummyHash, req.Password)
			return nil, auth.ErrBadPassword
		}
		if err := s.checkPassword(ctx, u.PasswordHash, req.Password); err != nil {
			return nil, err
		}
	}
	return u, nil
}

var errNoSSO = errors.New("sign-in with an ID token is not configured for this organisation; use your password")

func (s *server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, s.MaxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body larger than %d bytes", s.MaxBody))
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid_request", "body must be a JSON object with the documented fields")
		return false
	}
	return true
}

// fail maps domain errors to statuses and codes once; anything unexpected
// is logged and answered without its text.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var inv *store.ErrInvalid
	switch {
	case errors.Is(err, auth.ErrBadPassword):
		writeError(w, http.StatusUnauthorized, "bad_credentials", err.Error())
	case errors.Is(err, errUnknownTenant), errors.Is(err, licensing.ErrUnknownProduct):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, errTenantSuspended), errors.Is(err, licensing.ErrBlocked), errors.Is(err, licensing.ErrUserInactive):
		writeError(w, http.StatusForbidden, "forbidden", err.Error())
	case errors.Is(err, licensing.ErrNoLicense), errors.Is(err, licensing.ErrNoPool), errors.Is(err, licensing.ErrPoolExpired):
		writeError(w, http.StatusForbidden, "no_license", err.Error())
	case errors.Is(err, licensing.ErrWaiting):
		writeError(w, http.StatusConflict, "no_seats", err.Error())
	case errors.Is(err, store.ErrDeviceLimit):
		writeError(w, http.StatusConflict, "device_limit", "your license is already in use on the maximum number of devices; ask your administrator to free one")
	case errors.Is(err, licensing.ErrLeaseInvalid):
		writeError(w, http.StatusUnauthorized, "invalid_lease", err.Error())
	case errors.Is(err, errNoSSO):
		writeError(w, http.StatusBadRequest, "sso_not_configured", err.Error())
	case errors.As(err, &inv):
		writeError(w, http.StatusBadRequest, "invalid_request", inv.Error())
	default:
		s.Logger.ErrorContext(r.Context(), "device api", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "something went wrong on our side; try again")
	}
}

type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal","message":"something went wrong on our side; try again"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
