-- CreatePost: post-service asks user-service whether the author exists
-- (one row of users_by_ids), then inserts with a fresh request_id (post_create).
-- Here both tables live in one database, so both statements run on one
-- connection, each in its own implicit transaction (one commit, as the
-- service's single insert transaction).
\set uid random(1, :users)
SELECT id, username, email, ''::text, (extract(epoch FROM created_at) * 1000000)::bigint FROM users WHERE id = :uid;
INSERT INTO posts (user_id, body, request_id)
VALUES (:uid, 'Benchmark post: the quick brown fox jumps over the lazy dog, then checks its timeline.',
        'pgb-' || gen_random_uuid())
ON CONFLICT (request_id) WHERE request_id IS NOT NULL DO NOTHING
RETURNING id, user_id, body, (extract(epoch FROM created_at) * 1000000)::bigint;
