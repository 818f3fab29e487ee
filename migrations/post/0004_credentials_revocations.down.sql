-- Undoes 0004's up: the table it created (its grant goes with it). The
-- previous release does not read it; the revocations it held are lost, and
-- tokens they refused work again until they expire.
-- squawk-ignore-file ban-drop-table
DROP TABLE credentials_revocations;
