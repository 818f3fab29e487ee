-- migrate:no-transaction
-- Undoes 0006's up; the previous release does not use these indexes.
DROP INDEX CONCURRENTLY IF EXISTS users_email_canonical_key;
DROP INDEX CONCURRENTLY IF EXISTS users_username_skeleton_key;
DROP INDEX CONCURRENTLY IF EXISTS users_username_canonical_key;
