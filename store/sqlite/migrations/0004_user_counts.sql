-- Counts of each tenant's users, kept by triggers in the statement that
-- inserts or deletes a user, so that listing users needs no walk over
-- them: an unfiltered list's totalResults is one row, and a page deep in
-- the list starts from the right run.
--
-- user_runs cuts a tenant's users, in id order, into runs of a few
-- hundred (totals = 0): a run holds the ids from its lo up to the next
-- run's lo, and the first run's lo is ''. Summing the counts of the runs
-- before a position and skipping within one run finds the user at any
-- position, whatever the tenant's size. A run that grows past 512 users
-- splits in two, and one that shrinks below 64 joins the run before it,
-- by the triggers on user_runs.
--
-- The row with totals = 1 (and lo '') holds the tenant's number of users
-- and gen, which changes whenever they, and so the runs, change: a reader
-- that keeps the runs in memory (position.go) trusts them only while gen
-- is the one it read them with. It sorts right after the tenant's last
-- run, which new ids (time-ordered) join, so a typical insert changes one
-- page of this table, not two.

CREATE TABLE user_runs (
	tenant_id TEXT    NOT NULL,
	totals    INTEGER NOT NULL,
	lo        TEXT    NOT NULL,
	n         INTEGER NOT NULL,
	gen       INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant_id, totals, lo)
) STRICT, WITHOUT ROWID;

INSERT INTO user_runs (tenant_id, totals, lo, n, gen)
	SELECT tenant_id, 1, '', COUNT(*), 1 FROM users GROUP BY tenant_id;

INSERT INTO user_runs (tenant_id, totals, lo, n)
	SELECT tenant_id, 0, CASE WHEN b = 0 THEN '' ELSE MIN(id) END, COUNT(*)
	FROM (SELECT tenant_id, id, (ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY id) - 1) / 256 AS b FROM users)
	GROUP BY tenant_id, b;

-- A tenant's first user starts gen at a random value, so a reader that
-- kept runs of another file under the same tenant id cannot mistake them
-- for these.
CREATE TRIGGER users_runs_insert AFTER INSERT ON users
BEGIN
	INSERT INTO user_runs (tenant_id, totals, lo, n, gen) VALUES (NEW.tenant_id, 1, '', 1, abs(random() % 4611686018427387904))
		ON CONFLICT (tenant_id, totals, lo) DO UPDATE SET n = n + 1, gen = gen + 1;
	INSERT INTO user_runs (tenant_id, totals, lo, n)
		VALUES (NEW.tenant_id, 0, COALESCE((SELECT MAX(lo) FROM user_runs WHERE tenant_id = NEW.tenant_id AND totals = 0 AND lo <= NEW.id), ''), 1)
		ON CONFLICT (tenant_id, totals, lo) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER users_runs_delete AFTER DELETE ON users
BEGIN
	UPDATE user_runs SET n = n - 1, gen = gen + 1 WHERE tenant_id = OLD.tenant_id AND totals = 1 AND lo = '';
	UPDATE user_runs SET n = n - 1
		WHERE tenant_id = OLD.tenant_id AND totals = 0
		AND lo = (SELECT MAX(lo) FROM user_runs WHERE tenant_id = OLD.tenant_id AND totals = 0 AND lo <= OLD.id);
END;

-- No code changes a user's id or tenant; should anything ever, the counts
-- follow.
CREATE TRIGGER users_runs_rekey AFTER UPDATE OF tenant_id, id ON users
WHEN OLD.tenant_id IS NOT NEW.tenant_id OR OLD.id IS NOT NEW.id
BEGIN
	UPDATE user_runs SET n = n - 1, gen = gen + 1 WHERE tenant_id = OLD.tenant_id AND totals = 1 AND lo = '';
	UPDATE user_runs SET n = n - 1
		WHERE tenant_id = OLD.tenant_id AND totals = 0
		AND lo = (SELECT MAX(lo) FROM user_runs WHERE tenant_id = OLD.tenant_id AND totals = 0 AND lo <= OLD.id);
	INSERT INTO user_runs (tenant_id, totals, lo, n, gen) VALUES (NEW.tenant_id, 1, '', 1, abs(random() % 4611686018427387904))
		ON CONFLICT (tenant_id, totals, lo) DO UPDATE SET n = n + 1, gen = gen + 1;
	INSERT INTO user_runs (tenant_id, totals, lo, n)
		VALUES (NEW.tenant_id, 0, COALESCE((SELECT MAX(lo) FROM user_runs WHERE tenant_id = NEW.tenant_id AND totals = 0 AND lo <= NEW.id), ''), 1)
		ON CONFLICT (tenant_id, totals, lo) DO UPDATE SET n = n + 1;
END;

-- A run past 512 users keeps its first 256; the rest start a run at the
-- 257th id.
CREATE TRIGGER user_runs_split AFTER UPDATE OF n ON user_runs
WHEN NEW.totals = 0 AND NEW.n > 512
BEGIN
	INSERT INTO user_runs (tenant_id, totals, lo, n)
		SELECT NEW.tenant_id, 0, u.id, NEW.n - 256 FROM users u
		WHERE u.tenant_id = NEW.tenant_id AND u.id >= NEW.lo
		ORDER BY u.id LIMIT 1 OFFSET 256;
	UPDATE user_runs SET n = 256 WHERE tenant_id = NEW.tenant_id AND totals = 0 AND lo = NEW.lo;
END;

-- A run other than the first that shrinks below 64 users joins the run
-- before it. (A small first run costs nothing; it stays.)
CREATE TRIGGER user_runs_merge AFTER UPDATE OF n ON user_runs
WHEN NEW.totals = 0 AND NEW.n < 64 AND NEW.n < OLD.n AND NEW.lo <> ''
BEGIN
	DELETE FROM user_runs WHERE tenant_id = NEW.tenant_id AND totals = 0 AND lo = NEW.lo;
	UPDATE user_runs SET n = n + NEW.n
		WHERE tenant_id = NEW.tenant_id AND totals = 0
		AND lo = (SELECT MAX(lo) FROM user_runs WHERE tenant_id = NEW.tenant_id AND totals = 0 AND lo < NEW.lo);
END;
