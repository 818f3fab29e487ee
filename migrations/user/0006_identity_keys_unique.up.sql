-- migrate:no-transaction
-- The database keeps the identity rule (issue 24, item 5): one account per
-- canonical username, per username skeleton (names that look alike) and
-- per canonical email, so that two replicas racing on "émile" and "ÉMILE"
-- cannot both win. user-service maps a unique_violation on these names to
-- ALREADY_EXISTS: keep them.
--
-- Built CONCURRENTLY (users stays writable). NULLs do not collide, so the
-- build succeeds on rows not yet backfilled; the backfill then fills each
-- row unless an older account holds its forms, and reports those rows
-- instead (see README.md, "Accounts that collide"). IF NOT EXISTS: a
-- build interrupted by a crash leaves an INVALID index that migrate check
-- and `\d users` show; drop it and run the job again.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_username_canonical_key
  ON users (username_canonical);
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_username_skeleton_key
  ON users (username_skeleton);
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_canonical_key
  ON users (email_canonical);
