-- The users row carries its folded e-mail values (emails_norm, a JSON
-- array computed in Go) and triggers keep user_emails in step with it, so
-- creating, updating or deleting a user is one statement: SCIM creates
-- run at nearly the speed of a bare INSERT, and no code path can forget
-- the index rows.
ALTER TABLE users ADD COLUMN emails_norm TEXT NOT NULL DEFAULT '[]';

CREATE INDEX user_emails_backfill ON user_emails (tenant_id, user_id);
UPDATE users SET emails_norm = COALESCE(
	(SELECT json_group_array(e.value_norm) FROM user_emails e WHERE e.tenant_id = users.tenant_id AND e.user_id = users.id), '[]');
DROP INDEX user_emails_backfill;

CREATE TRIGGER users_emails_insert AFTER INSERT ON users
WHEN NEW.emails_norm <> '[]'
BEGIN
	INSERT OR IGNORE INTO user_emails (tenant_id, value_norm, user_id)
		SELECT NEW.tenant_id, j.value, NEW.id FROM json_each(NEW.emails_norm) j;
END;

CREATE TRIGGER users_emails_update AFTER UPDATE OF emails_norm ON users
WHEN OLD.emails_norm <> NEW.emails_norm
BEGIN
	DELETE FROM user_emails WHERE tenant_id = OLD.tenant_id AND user_id = OLD.id
		AND value_norm IN (SELECT j.value FROM json_each(OLD.emails_norm) j)
		AND value_norm NOT IN (SELECT j.value FROM json_each(NEW.emails_norm) j);
	INSERT OR IGNORE INTO user_emails (tenant_id, value_norm, user_id)
		SELECT NEW.tenant_id, j.value, NEW.id FROM json_each(NEW.emails_norm) j;
END;

CREATE TRIGGER users_emails_delete AFTER DELETE ON users
WHEN OLD.emails_norm <> '[]'
BEGIN
	DELETE FROM user_emails WHERE tenant_id = OLD.tenant_id AND user_id = OLD.id
		AND value_norm IN (SELECT j.value FROM json_each(OLD.emails_norm) j);
END;
