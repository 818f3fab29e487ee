-- LookupUser: half by username, half by email, as the load generator does,
-- with the predicate of user-service's lookups (user_by_username /
-- user_by_email): the stored canonical form through its unique index, or
-- lower() for a row without forms. For these ASCII names and addresses the
-- canonical form is lower(), which is what pgbench can compute.
\set id random(1, :users)
\set by_email random(0, 1)
\if :by_email
SELECT id, username, email, password_hash, (extract(epoch FROM created_at) * 1000000)::bigint FROM users WHERE (email_canonical = lower('user' || :id || '@example.com') OR (email_canonical IS NULL AND lower(email) = lower('user' || :id || '@example.com'))) ORDER BY email = 'user' || :id || '@example.com' DESC, id LIMIT 1;
\else
SELECT id, username, email, password_hash, (extract(epoch FROM created_at) * 1000000)::bigint FROM users WHERE (username_canonical = lower('user' || :id) OR (username_canonical IS NULL AND lower(username) = lower('user' || :id))) ORDER BY username = 'user' || :id DESC, id LIMIT 1;
\endif
