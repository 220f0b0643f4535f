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

ALTER TABLE user_pages ADD COLUMN render_key TEXT;
ALTER TABLE user_pages ADD COLUMN rendered BLOB;
ALTER TABLE user_pages ADD COLUMN rendered_at INTEGER;
