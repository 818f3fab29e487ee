-- GetUser, one call at a time: the single-row form of user-service's
-- users_by_ids (the service batches concurrent calls). Variables from pgbench -D:
-- users (seeded users, ids 1..users).
\set id random(1, :users)
SELECT id, username, email, ''::text, (extract(epoch FROM created_at) * 1000000)::bigint FROM users WHERE id = :id;
