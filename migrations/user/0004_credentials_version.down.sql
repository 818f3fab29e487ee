-- Undoes 0004's up. The previous release does not read the column. Every
-- account comes back at version 1 if 0004 is applied again: tokens issued
-- before a password change made meanwhile verify again until they expire
-- (15 minutes), those issued after it do not (their `ver` is higher).
-- The column 0004's up added; the previous release never reads it.
-- squawk-ignore ban-drop-column
ALTER TABLE users DROP COLUMN credentials_version;
