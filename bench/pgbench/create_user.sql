-- CreateUser without its Argon2id hash (pgbench cannot hash; compare the
-- service's hashes per second with microblog-bench pwhash instead): the
-- user_insert statement with a fresh name and a fixed, valid hash.
INSERT INTO users (username, email, password_hash)
VALUES ('pgb_' || replace(gen_random_uuid()::text, '-', ''),
        'pgb_' || replace(gen_random_uuid()::text, '-', '') || '@bench.example.com',
        '$argon2id$v=19$m=65536,t=2,p=1$Vp6u1/b9GbdkveQMzVYH4w$JIDAfxL//O/QN0rCd/reeZbcZBQgKjF0eI/3te4csMc')
RETURNING id, username, email, password_hash, (extract(epoch FROM created_at) * 1000000)::bigint;
