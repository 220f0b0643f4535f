package store

import (
	"context"
	"time"
)

// Portal roles.
const (
	RoleOperator    = "operator"     // runs the platform: every tenant
	RoleTenantAdmin = "tenant-admin" // an accountAdmin user: their tenant only
)

// Session is a signed-in portal user. The cookie holds a random secret;
// the store keeps only its hash, so any node can serve any request and a
// stolen database does not yield live sessions.
type Session struct {
	Hash       string // hex SHA-256 of the cookie secret
	Subject    string // OIDC "sub", or "bootstrap"
	Email      string
	Name       string
	Role       string
	TenantID   string // the tenant of a tenant admin; "" for operators
	IDToken    string // raw ID token, for RP-initiated logout (id_token_hint)
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute timeout
}

// Sessions stores portal sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s *Session) error
	GetSession(ctx context.Context, hash string) (*Session, error)
	// TouchSession records activity for the idle timeout.
	TouchSession(ctx context.Context, hash string, at time.Time) error
	DeleteSession(ctx context.Context, hash string) error
	// DeleteExpiredSessions removes sessions that ended before t.
	DeleteExpiredSessions(ctx context.Context, before time.Time) (int, error)
}

// Seat request states.
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestRejected = "rejected"
)

// SeatRequest is a tenant admin asking the operator for more seats (the
// seeds' "Request seats").
type SeatRequest struct {
	TenantID    string
	ID          string
	PoolID      string
	Seats       int
	Note        string
	State       string
	RequestedBy string
	DecidedBy   string
	CreatedAt   time.Time
	DecidedAt   time.Time
	Version     int64
}

// SeatRequests stores seat requests.
type SeatRequests interface {
	CreateSeatRequest(ctx context.Context, r *SeatRequest) error
	GetSeatRequest(ctx context.Context, tenantID, id string) (*SeatRequest, error)
	UpdateSeatRequest(ctx context.Context, r *SeatRequest) error // compare-and-set on Version
	// ListSeatRequests lists a tenant's requests, or every tenant's when
	// tenantID is "" (operators), newest first; state "" lists all.
	ListSeatRequests(ctx context.Context, tenantID, state string) ([]*SeatRequest, error)
}

// PoolSample is a pool's usage at one moment, for the usage chart.
type PoolSample struct {
	TenantID string
	PoolID   string
	At       time.Time
	Total    int
	Assigned int
	Overage  int
	Waiting  int
}

// PoolSamples stores usage history.
type PoolSamples interface {
	AddPoolSample(ctx context.Context, s *PoolSample) error
	// PoolSamples returns samples of a pool at or after since, oldest first.
	PoolSamples(ctx context.Context, tenantID, poolID string, since time.Time) ([]*PoolSample, error)
}
