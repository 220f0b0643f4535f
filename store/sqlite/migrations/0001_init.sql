-- Roster schema, version 1.
--
-- Every tenant-owned table is keyed by (tenant_id, ...) so no lookup can
-- reach another tenant's rows by accident. Times are INTEGER unix
-- milliseconds (store.Timestamp precision) so meta.lastModified filters and
-- sorts are integer comparisons; NULL means "zero time". Columns a filter,
-- sort or uniqueness rule needs are materialised next to the record; users
-- and groups keep the whole record as JSON in doc.

CREATE TABLE tenants (
	id          TEXT    NOT NULL PRIMARY KEY,
	name        TEXT    NOT NULL,
	name_norm   TEXT    NOT NULL UNIQUE,
	suspended   INTEGER NOT NULL DEFAULT 0,
	invite_from TEXT    NOT NULL DEFAULT '',
	version     INTEGER NOT NULL,
	created     INTEGER NOT NULL,
	updated     INTEGER NOT NULL
) STRICT;

CREATE TABLE tokens (
	id        TEXT    NOT NULL PRIMARY KEY,
	tenant_id TEXT    NOT NULL,
	name      TEXT    NOT NULL,
	hash      TEXT    NOT NULL UNIQUE,
	created   INTEGER NOT NULL,
	last_used INTEGER,
	revoked   INTEGER
) STRICT;
CREATE INDEX tokens_tenant ON tokens (tenant_id, created);

CREATE TABLE users (
	tenant_id         TEXT    NOT NULL,
	id                TEXT    NOT NULL,
	user_name         TEXT    NOT NULL,
	user_name_norm    TEXT    NOT NULL,
	external_id       TEXT    NOT NULL DEFAULT '',
	display_name_norm TEXT    NOT NULL DEFAULT '',
	active            INTEGER NOT NULL,
	version           INTEGER NOT NULL,
	created           INTEGER NOT NULL,
	updated           INTEGER NOT NULL,
	doc               BLOB    NOT NULL,
	PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE UNIQUE INDEX users_user_name ON users (tenant_id, user_name_norm);
CREATE UNIQUE INDEX users_external_id ON users (tenant_id, external_id) WHERE external_id <> '';
CREATE INDEX users_updated ON users (tenant_id, updated);

-- One row per distinct folded e-mail value of a user (including the empty
-- value, which only value-path filters such as emails[not (value pr)] see).
-- The key leads with the value, so the table is its own lookup index and a
-- new user costs one page here; rows are deleted by their full key, from
-- the values in the user's doc.
CREATE TABLE user_emails (
	tenant_id  TEXT NOT NULL,
	value_norm TEXT NOT NULL,
	user_id    TEXT NOT NULL,
	PRIMARY KEY (tenant_id, value_norm, user_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE groups (
	tenant_id         TEXT    NOT NULL,
	id                TEXT    NOT NULL,
	display_name      TEXT    NOT NULL,
	display_name_norm TEXT    NOT NULL,
	external_id       TEXT    NOT NULL DEFAULT '',
	version           INTEGER NOT NULL,
	created           INTEGER NOT NULL,
	updated           INTEGER NOT NULL,
	doc               BLOB    NOT NULL,
	PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE UNIQUE INDEX groups_display_name ON groups (tenant_id, display_name_norm);
CREATE UNIQUE INDEX groups_external_id ON groups (tenant_id, external_id) WHERE external_id <> '';
CREATE INDEX groups_updated ON groups (tenant_id, updated);

-- Membership edges live apart from groups so a 100,000-member group is
-- never read or rewritten to change one member.
CREATE TABLE memberships (
	tenant_id   TEXT NOT NULL,
	group_id    TEXT NOT NULL,
	member_id   TEXT NOT NULL,
	member_type TEXT NOT NULL,
	PRIMARY KEY (tenant_id, group_id, member_id),
	FOREIGN KEY (tenant_id, group_id) REFERENCES groups (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX memberships_member ON memberships (tenant_id, member_id);

CREATE TABLE products (
	id      TEXT    NOT NULL PRIMARY KEY,
	code    TEXT    NOT NULL UNIQUE,
	name    TEXT    NOT NULL,
	version INTEGER NOT NULL,
	created INTEGER NOT NULL,
	updated INTEGER NOT NULL
) STRICT;

-- The CHECK is the last line of defence of the seat protocol: whatever a
-- bug or a race does, the database refuses to over-assign a pool.
CREATE TABLE pools (
	tenant_id   TEXT    NOT NULL,
	id          TEXT    NOT NULL,
	product_id  TEXT    NOT NULL,
	total       INTEGER NOT NULL CHECK (total >= 0),
	assigned    INTEGER NOT NULL DEFAULT 0,
	overage     INTEGER NOT NULL DEFAULT 0 CHECK (overage >= 0),
	starts_at   INTEGER,
	ends_at     INTEGER,
	max_devices INTEGER NOT NULL DEFAULT 0,
	policy      TEXT    NOT NULL,
	auto_assign INTEGER NOT NULL DEFAULT 0,
	version     INTEGER NOT NULL,
	created     INTEGER NOT NULL,
	updated     INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, product_id),
	CHECK (assigned BETWEEN 0 AND total)
) STRICT;

CREATE TABLE rules (
	tenant_id TEXT    NOT NULL,
	id        TEXT    NOT NULL,
	group_id  TEXT    NOT NULL,
	pool_id   TEXT    NOT NULL,
	version   INTEGER NOT NULL,
	created   INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, group_id, pool_id)
) STRICT;
CREATE INDEX rules_pool ON rules (tenant_id, pool_id);

-- Keyed by (tenant, pool, user), the unique key of an assignment, so a
-- seat claim writes three B-trees plus the pool's row.
CREATE TABLE assignments (
	tenant_id TEXT    NOT NULL,
	pool_id   TEXT    NOT NULL,
	user_id   TEXT    NOT NULL,
	id        TEXT    NOT NULL,
	state     TEXT    NOT NULL,
	reason    TEXT    NOT NULL DEFAULT '',
	sources   TEXT    NOT NULL DEFAULT '[]',
	over      INTEGER NOT NULL DEFAULT 0,
	version   INTEGER NOT NULL,
	created   INTEGER NOT NULL,
	updated   INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, pool_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX assignments_id ON assignments (tenant_id, id);
CREATE INDEX assignments_user ON assignments (tenant_id, user_id);

CREATE TABLE devices (
	tenant_id     TEXT    NOT NULL,
	id            TEXT    NOT NULL,
	product_id    TEXT    NOT NULL,
	device_code   TEXT    NOT NULL,
	name          TEXT    NOT NULL DEFAULT '',
	user_id       TEXT    NOT NULL,
	assignment_id TEXT    NOT NULL DEFAULT '',
	state         TEXT    NOT NULL,
	last_seen     INTEGER,
	version       INTEGER NOT NULL,
	created       INTEGER NOT NULL,
	updated       INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, id),
	UNIQUE (tenant_id, product_id, device_code)
) STRICT;
CREATE INDEX devices_user ON devices (tenant_id, user_id);
CREATE INDEX devices_assignment ON devices (tenant_id, assignment_id);

CREATE TABLE leases (
	tenant_id  TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	product_id TEXT    NOT NULL,
	device_id  TEXT    NOT NULL,
	key_id     TEXT    NOT NULL,
	issued_at  INTEGER,
	expires_at INTEGER,
	revoked_at INTEGER,
	PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX leases_device ON leases (tenant_id, device_id);

CREATE TABLE signing_keys (
	tenant_id  TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	private    BLOB    NOT NULL,
	public     BLOB    NOT NULL,
	created    INTEGER NOT NULL,
	retired_at INTEGER,
	not_after  INTEGER,
	PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE TABLE invitations (
	tenant_id  TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	kind       TEXT    NOT NULL,
	token_hash TEXT    NOT NULL UNIQUE,
	expires_at INTEGER,
	used_at    INTEGER,
	created    INTEGER NOT NULL,
	version    INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX invitations_user ON invitations (tenant_id, user_id);

CREATE TABLE import_jobs (
	tenant_id  TEXT    NOT NULL,
	id         TEXT    NOT NULL,
	file_name  TEXT    NOT NULL,
	format     TEXT    NOT NULL,
	mode       TEXT    NOT NULL,
	state      TEXT    NOT NULL,
	total      INTEGER NOT NULL,
	done       INTEGER NOT NULL,
	failed     INTEGER NOT NULL,
	error      TEXT    NOT NULL,
	created_by TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	created    INTEGER NOT NULL,
	updated    INTEGER NOT NULL,
	finished   INTEGER,
	PRIMARY KEY (tenant_id, id)
) STRICT;

CREATE TABLE import_rows (
	tenant_id TEXT    NOT NULL,
	job_id    TEXT    NOT NULL,
	n         INTEGER NOT NULL,
	cells     TEXT    NOT NULL,
	errors    TEXT    NOT NULL,
	user_id   TEXT    NOT NULL,
	done      INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, job_id, n),
	FOREIGN KEY (tenant_id, job_id) REFERENCES import_jobs (tenant_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE audit (
	tenant_id   TEXT    NOT NULL,
	id          TEXT    NOT NULL,
	at          INTEGER NOT NULL,
	actor       TEXT    NOT NULL,
	action      TEXT    NOT NULL,
	target_type TEXT    NOT NULL,
	target_id   TEXT    NOT NULL,
	before      TEXT    NOT NULL,
	after       TEXT    NOT NULL,
	reason      TEXT    NOT NULL,
	PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX audit_at ON audit (tenant_id, at, id);

CREATE TABLE outbox (
	id            TEXT    NOT NULL PRIMARY KEY,
	tenant_id     TEXT    NOT NULL,
	channel       TEXT    NOT NULL,
	to_addr       TEXT    NOT NULL,
	subject       TEXT    NOT NULL,
	text          TEXT    NOT NULL,
	html          TEXT    NOT NULL,
	state         TEXT    NOT NULL,
	attempts      INTEGER NOT NULL,
	next_attempt  INTEGER NOT NULL,
	last_error    TEXT    NOT NULL,
	claimed_by    TEXT    NOT NULL,
	claimed_until INTEGER,
	created       INTEGER NOT NULL,
	sent_at       INTEGER
) STRICT;
CREATE INDEX outbox_due ON outbox (state, next_attempt);
CREATE INDEX outbox_tenant ON outbox (tenant_id, created);

CREATE TABLE work_leases (
	name    TEXT    NOT NULL PRIMARY KEY,
	holder  TEXT    NOT NULL,
	expires INTEGER NOT NULL,
	version INTEGER NOT NULL
) STRICT;
