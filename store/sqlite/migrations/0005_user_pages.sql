-- Pages of users, read whole: an unfiltered list of a hundred users read
-- row by row costs a B-tree step, a rowid lookup and a JSON decode per
-- user, most of the request. user_pages keeps, for a run of user_runs
-- (0004), its users in id order cut into parts of 32, each part one
-- blob of its users' records (pages.go writes and reads the format), so
-- a page of a hundred users reads four or five rows.
--
-- The parts are a copy, and a copy is only as good as its invalidation,
-- which lives here, in the statements that change what it copies, not
-- in any process: whatever writes a user (any node, the CLI, an import)
-- deletes the parts of that user's run in the same statement. A run whose
-- count changes (a user inserted or deleted, a split, a merge) loses its
-- parts by the triggers on user_runs; a user updated in place loses its
-- run's by the trigger on users (a user whose id changes changes two
-- counts). Nothing updates a run's tenant or lo. A reader finding a run without parts
-- reads its rows instead and writes the parts again, in a write
-- transaction that reads the users it copies, so a part never holds an
-- older state than the run's rows.

CREATE TABLE user_pages (
	tenant_id TEXT    NOT NULL,
	lo        TEXT    NOT NULL, -- the run's lo
	part      INTEGER NOT NULL, -- 0, 1, …: users part*32 … part*32+31 of the run
	n         INTEGER NOT NULL, -- users in the part
	data      BLOB    NOT NULL,
	PRIMARY KEY (tenant_id, lo, part)
) STRICT;

CREATE TRIGGER users_pages_update AFTER UPDATE ON users
BEGIN
	DELETE FROM user_pages WHERE tenant_id = NEW.tenant_id
		AND lo = COALESCE((SELECT MAX(lo) FROM user_runs WHERE tenant_id = NEW.tenant_id AND totals = 0 AND lo <= NEW.id), '');
END;

CREATE TRIGGER user_runs_pages_insert AFTER INSERT ON user_runs
WHEN NEW.totals = 0
BEGIN
	DELETE FROM user_pages WHERE tenant_id = NEW.tenant_id AND lo = NEW.lo;
END;

CREATE TRIGGER user_runs_pages_update AFTER UPDATE ON user_runs
WHEN OLD.totals = 0
BEGIN
	DELETE FROM user_pages WHERE tenant_id = OLD.tenant_id AND lo = OLD.lo;
END;

CREATE TRIGGER user_runs_pages_delete AFTER DELETE ON user_runs
WHEN OLD.totals = 0
BEGIN
	DELETE FROM user_pages WHERE tenant_id = OLD.tenant_id AND lo = OLD.lo;
END;
