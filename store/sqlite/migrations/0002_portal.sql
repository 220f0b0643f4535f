-- Portal sessions, seat requests and pool usage history.
CREATE TABLE sessions (
	hash       TEXT    NOT NULL PRIMARY KEY,
	subject    TEXT    NOT NULL,
	email      TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	role       TEXT    NOT NULL,
	tenant_id  TEXT    NOT NULL,
	id_token   TEXT    NOT NULL,
	created    INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE seat_requests (
	tenant_id    TEXT    NOT NULL,
	id           TEXT    NOT NULL,
	pool_id      TEXT    NOT NULL,
	seats        INTEGER NOT NULL CHECK (seats > 0),
	note         TEXT    NOT NULL,
	state        TEXT    NOT NULL,
	requested_by TEXT    NOT NULL,
	decided_by   TEXT    NOT NULL,
	created      INTEGER NOT NULL,
	decided_at   INTEGER,
	version      INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX seat_requests_state ON seat_requests (state, created);

CREATE TABLE pool_samples (
	tenant_id TEXT    NOT NULL,
	pool_id   TEXT    NOT NULL,
	at        INTEGER NOT NULL,
	total     INTEGER NOT NULL,
	assigned  INTEGER NOT NULL,
	overage   INTEGER NOT NULL,
	waiting   INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, pool_id, at)
) STRICT;
