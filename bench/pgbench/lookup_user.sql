-- LookupUser: half by username, half by email, as the load generator does
-- (user_by_username / user_by_email, served by the lower() unique indexes).
\set id random(1, :users)
\set by_email random(0, 1)
\if :by_email
SELECT id, username, email, password_hash, (extract(epoch FROM created_at) * 1000000)::bigint FROM users WHERE lower(email) = lower('user' || :id || '@example.com');
\else
SELECT id, username, email, password_hash, (extract(epoch FROM created_at) * 1000000)::bigint FROM users WHERE lower(username) = lower('user' || :id);
\endif
