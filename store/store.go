package store

import (
	"context"
	"time"
)

// Writes follow one convention: a record passed to Create* gets its ID
// (when empty), Version 1 and timestamps filled in place; a record passed
// to Update* carries the Version it was read at, is written only if that is
// still the stored version (else ErrPrecondition), and comes back with the
// new Version and UpdatedAt. A delete given version 0 is unconditional.

// Tenants is the set of customer accounts.
type Tenants interface {
	CreateTenant(ctx context.Context, t *Tenant) error // ErrConflict{"name"}
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	GetTenantByName(ctx context.Context, name string) (*Tenant, error)
	UpdateTenant(ctx context.Context, t *Tenant) error
	ListTenants(ctx context.Context) ([]*Tenant, error)
}

// Tokens are SCIM bearer tokens.
type Tokens interface {
	CreateToken(ctx context.Context, t *Token) error
	// TokenByHash finds a token by the hash of its secret whatever its
	// tenant: the token is what tells which tenant a request is for.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	ListTokens(ctx context.Context, tenantID string) ([]*Token, error)
	RevokeToken(ctx context.Context, tenantID, id string, at time.Time) error
	// TouchToken records a use; it may be coarse (at most once a minute).
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// Users are the people of a tenant.
type Users interface {
	CreateUser(ctx context.Context, u *User) error // ErrConflict{"userName"|"externalId"}
	GetUser(ctx context.Context, tenantID, id string) (*User, error)
	// GetUserByUserName matches case-insensitively (NormUserName).
	GetUserByUserName(ctx context.Context, tenantID, userName string) (*User, error)
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser removes the user with its memberships, devices and
	// assignments, returning the seats those held to their pools.
	DeleteUser(ctx context.Context, tenantID, id string, version int64) error
	ListUsers(ctx context.Context, tenantID string, q Query) (*UserPage, error)
}

// UserStreamer is an optional fast path of Users.ListUsers for a caller
// that handles each user once, as it comes (a door rendering a page):
// StreamUsers calls fn with each user of the page ListUsers(ctx,
// tenantID, q) returns, in its order, and returns its Total. The *User
// fn gets is the backend's to reuse once fn returns: fn must not keep
// it (its strings it may). An error from fn ends the stream and is
// returned. A backend, or a wrapper over one, that cannot stream returns
// errors.ErrUnsupported without calling fn.
type UserStreamer interface {
	StreamUsers(ctx context.Context, tenantID string, q Query, fn func(*User) error) (total int, err error)
}

// UserRendering is one fixed rendering of a user, such as a door's
// default representation: Append appends u's rendering to dst. Key
// names the rendering: a backend that keeps renderings serves one only
// to a caller with the same Key, so Key must change whenever Append's
// output for some user could (another format, another base URL).
// Append must depend on nothing but u and Key.
type UserRendering struct {
	Key    string
	Append func(dst []byte, u *User) []byte
}

// RenderedUserStreamer is an optional fast path of UserStreamer for a
// caller that turns each user into the same bytes every time (a door
// listing users in its default representation): a backend may keep the
// renderings beside the users and hand them out instead of the users,
// rendering a user again only once it has changed.
//
// StreamRenderedUsers calls fn with r.Append(nil, u) for each user u of
// the page StreamUsers(ctx, tenantID, q, …) would hand out, in its
// order, and returns its Total; fn may keep the string. An error from fn
// ends the stream and is returned. A backend that does not serve q this
// way (it may serve only some queries), or a wrapper over one without
// it, returns errors.ErrUnsupported without calling fn, and the caller
// renders what StreamUsers or ListUsers return.
type RenderedUserStreamer interface {
	StreamRenderedUsers(ctx context.Context, tenantID string, q Query, r UserRendering, fn func(rendered string) error) (total int, err error)
}

// Groups are a tenant's groups, without their members.
type Groups interface {
	CreateGroup(ctx context.Context, g *Group) error // ErrConflict{"displayName"|"externalId"}
	GetGroup(ctx context.Context, tenantID, id string) (*Group, error)
	UpdateGroup(ctx context.Context, g *Group) error
	// DeleteGroup removes the group, its memberships (as a group and as a
	// member of other groups) and the license rules that name it.
	DeleteGroup(ctx context.Context, tenantID, id string, version int64) error
	ListGroups(ctx context.Context, tenantID string, q Query) (*GroupPage, error)
}

// Memberships are group membership edges, stored one per record so the
// cost of a change does not grow with the group.
type Memberships interface {
	// AddMembers adds the members that are not members yet and bumps the
	// group's version once; version 0 skips the compare. A member id that
	// is not a user or group of the tenant is ErrInvalid{"members"} and
	// nothing is added. It returns the group's new version.
	AddMembers(ctx context.Context, tenantID, groupID string, version int64, members []Member) (int64, error)
	// RemoveMembers removes the given member ids (absent ones are ignored).
	RemoveMembers(ctx context.Context, tenantID, groupID string, version int64, memberIDs []string) (int64, error)
	// ReplaceMembers sets the member list to exactly members (SCIM PUT).
	ReplaceMembers(ctx context.Context, tenantID, groupID string, version int64, members []Member) (int64, error)
	// ListMembers pages through members ordered by member id, starting
	// after the member id `after` ("" for the first page).
	ListMembers(ctx context.Context, tenantID, groupID, after string, limit int) ([]Member, error)
	CountMembers(ctx context.Context, tenantID, groupID string) (int, error)
	// GroupsOf lists the groups memberID belongs to directly.
	GroupsOf(ctx context.Context, tenantID, memberID string) ([]GroupRef, error)
}

// Products are the platform's catalogue of licensable software.
type Products interface {
	CreateProduct(ctx context.Context, p *Product) error // ErrConflict{"code"}
	GetProduct(ctx context.Context, id string) (*Product, error)
	GetProductByCode(ctx context.Context, code string) (*Product, error)
	UpdateProduct(ctx context.Context, p *Product) error
	ListProducts(ctx context.Context) ([]*Product, error)
}

// Pools are a tenant's seat pools.
type Pools interface {
	CreatePool(ctx context.Context, p *Pool) error // ErrConflict{"productId"}: one pool per product
	GetPool(ctx context.Context, tenantID, id string) (*Pool, error)
	GetPoolByProduct(ctx context.Context, tenantID, productID string) (*Pool, error)
	// UpdatePool writes the pool's terms (total, dates, device limit,
	// policy). It never changes Assigned or Overage, and refuses a Total
	// below Assigned with ErrInvalid{"total"}.
	UpdatePool(ctx context.Context, p *Pool) error
	ListPools(ctx context.Context, tenantID string) ([]*Pool, error)
	DeletePool(ctx context.Context, tenantID, id string) error
}

// Rules are group → pool license rules.
type Rules interface {
	CreateRule(ctx context.Context, r *Rule) error // ErrConflict{"rule"} for a duplicate (group, pool)
	DeleteRule(ctx context.Context, tenantID, id string) error
	ListRules(ctx context.Context, tenantID string) ([]*Rule, error)
}

// AssignmentQuery narrows ListAssignments; zero fields do not filter.
type AssignmentQuery struct {
	PoolID string
	UserID string
	State  string
}

// Assignments hold seats. Their methods are the seat protocol of
// DESIGN.md §3: no method ever leaves Pool.Assigned above Pool.Total, and
// Pool.Assigned+Pool.Overage equals the number of active assignments
// except for seats leaked by a crash, which Recount returns.
type Assignments interface {
	// ClaimSeat asks for a seat of a.PoolID for a.UserID with a.Sources.
	// If the user already has an assignment in the pool, the sources are
	// merged into it (and a waiting or suspended one tries again).
	// Otherwise it takes a free seat (active), or with allow-over counts
	// an overage (active, Over), or it leaves the assignment waiting with
	// Reason "no seats" and returns it together with ErrNoSeats. An
	// expired pool returns ErrExpired and writes nothing.
	ClaimSeat(ctx context.Context, a *Assignment, now time.Time) error
	// ReleaseSource removes source from the user's assignment in the pool;
	// when no source remains the assignment is deleted, its seat returned
	// and its devices unbound. It returns the assignment as it stands
	// (nil when deleted).
	ReleaseSource(ctx context.Context, tenantID, poolID, userID, source string) (*Assignment, error)
	// Suspend returns the seat of an active assignment (user deactivated)
	// keeping its sources; ClaimSeat with the same user reactivates it.
	Suspend(ctx context.Context, tenantID, poolID, userID, reason string) error
	// MoveSeat hands an active seat from one user to another who has none
	// in that pool, atomically: the pool count does not change and nobody
	// ends with two seats.
	MoveSeat(ctx context.Context, tenantID, poolID, fromUserID, toUserID string) (*Assignment, error)
	GetAssignment(ctx context.Context, tenantID, poolID, userID string) (*Assignment, error)
	ListAssignments(ctx context.Context, tenantID string, q AssignmentQuery) ([]*Assignment, error)
	// Recount sets the pool's Assigned and Overage from its active
	// assignments and promotes leftover pending ones, returning how many
	// seats it had to correct.
	Recount(ctx context.Context, tenantID, poolID string) (int, error)
}

// Devices are device codes bound to seats.
type Devices interface {
	// BindDevice binds d to the user's active assignment d.AssignmentID,
	// counting it against maxPerSeat (0: unlimited) with ErrDeviceLimit
	// when full. A device code already bound to another user of the same
	// product is ErrConflict{"deviceCode"}; the same user binding the same
	// code again refreshes LastSeenAt and Name.
	BindDevice(ctx context.Context, d *Device, maxPerSeat int) error
	GetDevice(ctx context.Context, tenantID, id string) (*Device, error)
	GetDeviceByCode(ctx context.Context, tenantID, productID, code string) (*Device, error)
	// UnbindDevice frees the device's slot on its seat and deletes it.
	UnbindDevice(ctx context.Context, tenantID, id string) error
	// SetDeviceState blocks or unblocks; blocking frees the seat slot.
	SetDeviceState(ctx context.Context, tenantID, id, state string) error
	ListDevices(ctx context.Context, tenantID string, userID string) ([]*Device, error)
}

// Leases are issued license leases and the keys that sign them.
type Leases interface {
	RecordLease(ctx context.Context, l *Lease) error
	GetLease(ctx context.Context, tenantID, id string) (*Lease, error)
	RevokeDeviceLeases(ctx context.Context, tenantID, deviceID string, at time.Time) error
	AddSigningKey(ctx context.Context, k *SigningKey) error
	// SigningKeys lists a tenant's keys, newest first.
	SigningKeys(ctx context.Context, tenantID string) ([]*SigningKey, error)
	RetireSigningKey(ctx context.Context, tenantID, id string, at, notAfter time.Time) error
}

// Invitations are activation and password-reset links.
type Invitations interface {
	CreateInvitation(ctx context.Context, inv *Invitation) error
	InvitationByHash(ctx context.Context, hash string) (*Invitation, error)
	// UseInvitation marks it used once; a second use (or an expired one)
	// is ErrExpired.
	UseInvitation(ctx context.Context, tenantID, id string, at time.Time) error
	// RevokeInvitations expires every unused invitation of the user (a
	// resend rotates the token).
	RevokeInvitations(ctx context.Context, tenantID, userID string, at time.Time) error
	ListInvitations(ctx context.Context, tenantID, userID string) ([]*Invitation, error)
}

// Imports are import jobs and their rows.
type Imports interface {
	CreateImportJob(ctx context.Context, j *ImportJob) error
	GetImportJob(ctx context.Context, tenantID, id string) (*ImportJob, error)
	UpdateImportJob(ctx context.Context, j *ImportJob) error
	ListImportJobs(ctx context.Context, tenantID string) ([]*ImportJob, error)
	PutImportRows(ctx context.Context, rows []*ImportRow) error
	UpdateImportRow(ctx context.Context, r *ImportRow) error
	// ImportRows pages rows by number, starting after row `after`.
	ImportRows(ctx context.Context, tenantID, jobID string, after, limit int) ([]*ImportRow, error)
}

// Audit is the append-only audit log.
type Audit interface {
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// AppendAudits appends several events in one write (an import records
	// a batch of rows at once). It is idempotent by event id: retrying a
	// batch after a failure writes each event exactly once.
	AppendAudits(ctx context.Context, events []*AuditEvent) error
	// ListAudit returns events newest first.
	ListAudit(ctx context.Context, tenantID string, q AuditQuery) ([]*AuditEvent, error)
}

// Outbox holds messages until one node delivers them.
type Outbox interface {
	Enqueue(ctx context.Context, m *OutboxMessage) error
	// ClaimOutbox hands up to limit due queued messages to holder until
	// now+ttl; a claim whose holder died can be taken again after that.
	ClaimOutbox(ctx context.Context, holder string, now time.Time, ttl time.Duration, limit int) ([]*OutboxMessage, error)
	MarkSent(ctx context.Context, id, holder string, at time.Time) error
	// MarkRetry records a failed attempt and when to try again; when
	// final, the message is given up (OutboxFailed).
	MarkRetry(ctx context.Context, id, holder, lastError string, next time.Time, final bool) error
	GetOutboxMessage(ctx context.Context, id string) (*OutboxMessage, error)
	ListOutbox(ctx context.Context, tenantID string, limit int) ([]*OutboxMessage, error)
}

// WorkLeases are claims on background work shared by every node.
type WorkLeases interface {
	// AcquireLease takes or renews the lease called name for holder until
	// now+ttl; it reports false when another holder's lease is unexpired.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error
}

// Store is everything a backend provides.
type Store interface {
	Tenants
	Tokens
	Users
	Groups
	Memberships
	Products
	Pools
	Rules
	Assignments
	Devices
	Leases
	Invitations
	Imports
	Audit
	Outbox
	WorkLeases
	Sessions
	SeatRequests
	PoolSamples
	// Ping reports whether the backend is reachable (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}
