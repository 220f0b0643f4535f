-- The portal's user search ("smith" finds john.smith@acme.com: any part
-- of userName, displayName or an e-mail, case-insensitively) answered
-- from a trigram index instead of reading every user of the tenant.
--
-- user_search holds, per users row (same rowid), the folded userName,
-- displayName and e-mail values, one per line. It is contentless and
-- detail=none, the smallest FTS5 index: it answers "which rows hold all
-- these trigrams", a superset of the rows holding the searched text,
-- which search.go narrows with the exact comparison the filter makes.
-- The folding is done in Go (the *_norm columns), so the tokenizer is
-- told not to fold again.
--
-- Writing the index in the statement that writes a user would triple
-- the pages a SCIM create commits (an FTS5 segment per transaction),
-- so the statement only notes the user's rowid in user_search_pending
-- (one row, on the table's last page); the search reads the pending
-- users besides what the index names, so it is exact at once, from any
-- process, and a background step (search.go indexSearch) moves pending
-- users into the index in batches, in one transaction with the removal
-- of their pending rows. A pending rowid is re-indexed from what users
-- holds then: removed from the index, and added back if a user has it.
-- (users has no INTEGER PRIMARY KEY: SQLite keeps its rowids, VACUUM
-- included, but does not promise to; should they ever change, mark every
-- user pending: INSERT OR IGNORE INTO user_search_pending SELECT rowid
-- FROM users, and the index follows.)
CREATE VIRTUAL TABLE user_search USING fts5(text, content='', contentless_delete=1, detail=none,
	tokenize='trigram case_sensitive 1');
-- Indexing writes a segment per batch, merged four at a time (FTS5's
-- default; merging two at a time made a selective search 2.5 → 1 ms but
-- roster bench's POST /Users 10% dearer in CPU).
INSERT INTO user_search (user_search, rank) VALUES ('automerge', 4);

CREATE TABLE user_search_pending (
	user_rowid INTEGER NOT NULL PRIMARY KEY
) STRICT;

INSERT INTO user_search (rowid, text) SELECT rowid, user_name_norm || char(10) || display_name_norm || char(10) ||
	COALESCE((SELECT group_concat(j.value, char(10)) FROM json_each(users.emails_norm) j), '') FROM users;

CREATE TRIGGER users_search_insert AFTER INSERT ON users
BEGIN
	INSERT OR IGNORE INTO user_search_pending (user_rowid) VALUES (NEW.rowid);
END;

CREATE TRIGGER users_search_update AFTER UPDATE OF user_name_norm, display_name_norm, emails_norm ON users
WHEN OLD.user_name_norm <> NEW.user_name_norm OR OLD.display_name_norm <> NEW.display_name_norm OR OLD.emails_norm <> NEW.emails_norm
BEGIN
	INSERT OR IGNORE INTO user_search_pending (user_rowid) VALUES (NEW.rowid);
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users
BEGIN
	INSERT OR IGNORE INTO user_search_pending (user_rowid) VALUES (OLD.rowid);
END;
