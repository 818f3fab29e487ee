-- Undoes 0005's up: the previous release never reads these columns, and
-- user-service recomputes them (backfill-identity-keys) if 0005 is applied
-- again. Each drops a column 0005's up added.
-- squawk-ignore ban-drop-column
ALTER TABLE users DROP COLUMN email_canonical;
-- squawk-ignore ban-drop-column
ALTER TABLE users DROP COLUMN username_skeleton;
-- squawk-ignore ban-drop-column
ALTER TABLE users DROP COLUMN username_canonical;
