package store

import "time"

// Tenant is one customer's enterprise account. Every other record but
// Product carries its TenantID, and no store method ever returns a record
// of another tenant than the one it was asked for.
type Tenant struct {
	ID        string
	Name      string // unique, case-insensitive
	Suspended bool
	// Settings an admin edits in the portal.
	InviteFrom string
	// SSO says the tenant's users sign in with their company's single
	// sign-on, never with a Roster password: an invitation only activates
	// the account, and a password reset tells them their password is
	// managed by their company. SSOSignInURL, when set, is where they sign
	// in (an https URL shown in the e-mails and on the invitation page).
	SSO          bool
	SSOSignInURL string
	Version      int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Token is a SCIM bearer token. Only the SHA-256 of the secret is stored;
// the secret is shown once when minted.
type Token struct {
	ID         string
	TenantID   string
	Name       string
	Hash       string // hex SHA-256 of the secret
	CreatedAt  time.Time
	LastUsedAt time.Time // zero when never used
	RevokedAt  time.Time // zero while valid
}

// Name is the SCIM complex attribute "name".
type Name struct {
	Formatted       string `json:"formatted,omitempty"`
	FamilyName      string `json:"familyName,omitempty"`
	GivenName       string `json:"givenName,omitempty"`
	MiddleName      string `json:"middleName,omitempty"`
	HonorificPrefix string `json:"honorificPrefix,omitempty"`
	HonorificSuffix string `json:"honorificSuffix,omitempty"`
}

// MultiValue is one entry of a SCIM multi-valued attribute such as emails
// or phoneNumbers.
type MultiValue struct {
	Value   string `json:"value,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Activation states of a user account.
const (
	ActivationPending = "pending" // invited, has not set a password or signed in
	ActivationActive  = "active"
)

// User is a person of a tenant. Fields the domain reads (login, names,
// contact, licensing-related extension fields) are typed; every other SCIM
// attribute (addresses, ims, photos, roles, entitlements, x509Certificates,
// the enterprise extension, …) is kept verbatim in Extra so a client gets
// back exactly what it sent.
type User struct {
	TenantID          string
	ID                string
	ExternalID        string
	UserName          string
	Name              Name
	DisplayName       string
	NickName          string
	ProfileURL        string
	Title             string
	UserType          string
	PreferredLanguage string
	Locale            string
	Timezone          string
	Active            bool
	Emails            []MultiValue
	PhoneNumbers      []MultiValue
	// PasswordHash is an argon2id PHC string; never returned by any door.
	PasswordHash string

	// Roster extension (urn:ietf:params:scim:schemas:extension:roster:2.0:User).
	Notes        string
	Permissions  []string
	AccountAdmin bool
	CustomerCode string
	UDID         string
	// NoSystemMessages opts out of access-change e-mails (on by default,
	// as the seeds promise an e-mail whenever access changes).
	NoSystemMessages bool
	// Activation is ActivationPending until the user sets a password or
	// signs in; invitations can be resent only while pending.
	Activation string

	// Extra holds the remaining SCIM attributes keyed by their canonical
	// attribute name; extension attributes live under their schema URN.
	Extra map[string]any

	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PrimaryEmail returns the primary e-mail, else the first one, else "".
func (u *User) PrimaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	return ""
}

// Group is a SCIM group. Its members are not part of the record: they live
// in Memberships so a 100,000-member group is never loaded or rewritten to
// change one member.
type Group struct {
	TenantID    string
	ID          string
	ExternalID  string
	DisplayName string
	Extra       map[string]any
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Member types.
const (
	MemberUser  = "User"
	MemberGroup = "Group"
)

// Member is one membership edge: MemberID (a user or a group of the same
// tenant) belongs to GroupID.
type Member struct {
	GroupID  string
	MemberID string
	Type     string // MemberUser or MemberGroup
	Display  string // filled on reads from the member's userName/displayName
}

// GroupRef names a group a member belongs to (the User "groups" attribute).
type GroupRef struct {
	ID          string
	DisplayName string
}

// Product is a licensable software (SKU). Products are the platform's
// catalogue; tenants hold pools of them.
type Product struct {
	ID        string
	Code      string // unique SKU, e.g. "countthings-pro"
	Name      string
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Pool policies when every seat is taken.
const (
	PolicyDeny      = "deny"       // new assignments wait until a seat frees
	PolicyAllowOver = "allow-over" // granted and counted as overage
)

// Pool is a tenant's seats for one product (one pool per tenant and product).
type Pool struct {
	TenantID          string
	ID                string
	ProductID         string
	Total             int
	Assigned          int // active assignments within Total; 0 <= Assigned <= Total
	Overage           int // active assignments granted beyond Total (allow-over)
	StartsAt          time.Time
	EndsAt            time.Time // zero: open-ended
	MaxDevicesPerSeat int       // 0: unlimited
	Policy            string
	// AutoAssign grants a seat to any user of the tenant who signs in on
	// a device without one (the seeds' "licenses are assigned
	// automatically"); without it only rules and admins assign.
	AutoAssign bool
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Unassigned is the number of free seats.
func (p *Pool) Unassigned() int { return p.Total - p.Assigned }

// ActiveAt reports whether the pool may grant seats at t.
func (p *Pool) ActiveAt(t time.Time) bool {
	if !p.StartsAt.IsZero() && t.Before(p.StartsAt) {
		return false
	}
	return p.EndsAt.IsZero() || t.Before(p.EndsAt)
}

// Rule is group-based licensing: every active member of GroupID (directly
// or through nested groups) should hold a seat of PoolID.
type Rule struct {
	TenantID  string
	ID        string
	GroupID   string
	PoolID    string
	Version   int64
	CreatedAt time.Time
}

// Assignment states.
const (
	AssignPending   = "pending"   // protocol step 1 written; a crash here leaks nothing
	AssignActive    = "active"    // holds a seat (or overage)
	AssignWaiting   = "waiting"   // no seat free; Reason says why
	AssignSuspended = "suspended" // user inactive; seat returned
)

// SourceDirect marks an assignment an admin (or import) made by hand;
// group sources are "group:<groupID>".
const SourceDirect = "direct"

// GroupSource is the source string for a seat granted through groupID.
func GroupSource(groupID string) string { return "group:" + groupID }

// Assignment is one user's seat in one pool, unique per (tenant, pool, user).
type Assignment struct {
	TenantID  string
	ID        string
	PoolID    string
	UserID    string
	State     string
	Reason    string   // why waiting or suspended
	Sources   []string // SourceDirect and/or GroupSource(...)
	Over      bool     // counted in Pool.Overage rather than Pool.Assigned
	Devices   int      // devices bound to this seat
	Version   int64
	CreatedAt time.Time // first-come order of the waiting list
	UpdatedAt time.Time
}

// Device states.
const (
	DeviceActive  = "active"
	DeviceBlocked = "blocked"
)

// Device is a device code bound to a user's seat of one product, unique per
// (tenant, product, deviceCode).
type Device struct {
	TenantID     string
	ID           string
	ProductID    string
	DeviceCode   string
	Name         string
	UserID       string
	AssignmentID string // "" once unbound
	State        string
	LastSeenAt   time.Time
	Version      int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Lease is a record of a signed lease handed to a device, kept so renewal
// can be refused and an admin can see what was issued.
type Lease struct {
	TenantID  string
	ID        string // the JWS "jti"
	UserID    string
	ProductID string
	DeviceID  string
	KeyID     string
	IssuedAt  time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// SigningKey is a tenant's Ed25519 lease-signing key. Retired keys stay
// published until every lease they signed has expired.
type SigningKey struct {
	TenantID  string
	ID        string // "kid"
	Private   []byte // ed25519 seed
	Public    []byte
	CreatedAt time.Time
	RetiredAt time.Time // zero while current
	NotAfter  time.Time // zero: still publish
}

// Invitation kinds.
const (
	InviteActivate = "activate"
	InviteReset    = "reset"
)

// Invitation is a single-use, expiring link to activate an account or set
// a password. Only the hash of its secret is stored.
type Invitation struct {
	TenantID  string
	ID        string
	UserID    string
	Kind      string
	TokenHash string
	ExpiresAt time.Time
	UsedAt    time.Time
	CreatedAt time.Time
	Version   int64
}

// Import job states.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// Import modes.
const (
	ImportAllOrNothing = "all-or-nothing"
	ImportValidRows    = "valid-rows"
)

// ImportJob is one uploaded xlsx/CSV file.
type ImportJob struct {
	TenantID   string
	ID         string
	FileName   string
	Format     string // "xlsx" or "csv"
	Mode       string
	State      string
	Total      int
	Done       int
	Failed     int
	Error      string // job-level failure a person can act on
	CreatedBy  string
	Version    int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
}

// ImportRow is one data row of an import job with its per-row result.
type ImportRow struct {
	TenantID string
	JobID    string
	N        int               // 1-based data row number
	Cells    map[string]string // header -> value
	Errors   []string
	UserID   string // set once the row was applied
	Done     bool
}

// AuditEvent is one change, who made it and why.
type AuditEvent struct {
	TenantID   string
	ID         string
	At         time.Time
	Actor      string // "scim:<tokenID>", "admin:<subject>", "system"
	Action     string // e.g. "user.create", "seat.assign"
	TargetType string
	TargetID   string
	Before     string // JSON, may be ""
	After      string // JSON, may be ""
	Reason     string
}

// AuditQuery narrows an audit listing; zero fields do not filter.
type AuditQuery struct {
	Actor    string
	Action   string
	TargetID string
	Since    time.Time
	Until    time.Time
	Limit    int
	// Before is the id of the last event of the previous page (newest first).
	Before string
}

// Outbox states.
const (
	OutboxQueued = "queued"
	OutboxSent   = "sent"
	OutboxFailed = "failed" // gave up after the last retry
)

// OutboxMessage is an e-mail or SMS waiting to be delivered.
type OutboxMessage struct {
	TenantID      string
	ID            string
	Channel       string // "email" or "sms"
	To            string
	Subject       string
	Text          string
	HTML          string
	State         string
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	ClaimedBy     string
	ClaimedUntil  time.Time
	CreatedAt     time.Time
	SentAt        time.Time
}

// WorkLease is a named claim on a piece of background work (the reconciler
// of a tenant, an import job). Whoever holds an unexpired lease does the
// work; a lease whose holder died expires and is taken over.
type WorkLease struct {
	Name      string
	Holder    string
	ExpiresAt time.Time
	Version   int64
}
