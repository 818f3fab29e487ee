-- VerifyPassword without its Argon2id verification (see create_user.sql):
-- the lookup of one of the verify accounts by username. Variables:
-- verify_accounts (accounts verify_0 .. verify_<n-1>).
\set i random(0, :verify_accounts - 1)
SELECT id, username, email, password_hash, (extract(epoch FROM created_at) * 1000000)::bigint FROM users WHERE lower(username) = lower('verify_' || :i);
