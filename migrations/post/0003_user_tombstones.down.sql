-- Dropping the tables drops their grants with them. Posts already removed
-- stay removed; after `migrate up` again the consumer starts the feed from
-- its oldest kept event, and reconciliation covers anything older.
-- Undoes 0003's up: every table dropped here is one it created.
-- squawk-ignore-file ban-drop-table
DROP FUNCTION insert_posts(bigint[], text[], text[]);
DROP TABLE event_cursors;
DROP TABLE user_tombstones;
