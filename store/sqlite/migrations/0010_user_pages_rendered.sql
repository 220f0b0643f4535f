-- A door's rendering of each part of user_pages (0005), beside its
-- records: a page of a hundred users in a door's default representation
-- (a SCIM list without attributes) costs more to render than to read,
-- and the same users render to the same bytes until one is written. A
-- part holds one rendering, named by render_key (the door's name for
-- it, see store.UserRendering) and made at rendered_at (unix seconds):
-- a reader asking for another rendering reads the records, and writes
-- its own over the other only once that is a minute old, so two builds
-- or two base URLs on one file (a rolling upgrade) do not take turns
-- writing at every read.
--
-- The rendering lives in the part's row, so the triggers that delete a
-- run's parts whenever a user of the run is written delete its
-- renderings in the same statement, whichever process writes. A reader
-- writes a rendering only onto the part whose records it rendered (the
-- UPDATE names them, rendered.go), so a part rebuilt meanwhile never
-- gets the rendering of older records.
--
-- The table is made again rather than altered, for its columns' order:
-- a row is read from its start, through every overflow page before the
-- column wanted, so the small columns come first, then the records, then
-- the rendering, several times their size, which a reader of records
-- never crosses. The parts are a copy: readers build them again, run by
-- run, as they come to them. The triggers of 0005 name user_pages in
-- their bodies only, and stay.

DROP TABLE user_pages;

CREATE TABLE user_pages (
	tenant_id   TEXT    NOT NULL,
	lo          TEXT    NOT NULL, -- the run's lo
	part        INTEGER NOT NULL, -- 0, 1, …: users part*32 … part*32+31 of the run
	n           INTEGER NOT NULL, -- users in the part
	render_key  TEXT,             -- the rendering's name, NULL until one is made
	rendered_at INTEGER,
	data        BLOB    NOT NULL, -- the users' records
	rendered    BLOB,
	PRIMARY KEY (tenant_id, lo, part)
) STRICT;
