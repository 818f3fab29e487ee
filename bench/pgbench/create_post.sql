-- CreatePost: post-service asks user-service whether the author exists
-- (one row of users_by_ids), then stores the post with the statement the
-- service uses, insert_posts() of migrations/post/0003 (the author's shared
-- advisory lock, the tombstone check and the insert, one round trip), here
-- for one post at a time, as a service without batching would. Both tables
-- live in one database, so both statements run on one connection, each in
-- its own implicit transaction.
\set uid random(1, :users)
SELECT id, username, email, ''::text, (extract(epoch FROM created_at) * 1000000)::bigint FROM users WHERE id = :uid;
SELECT ord, outcome, post_id, post_user_id, post_body, create_micros
FROM insert_posts(ARRAY[:uid]::bigint[],
                  ARRAY['Benchmark post: the quick brown fox jumps over the lazy dog, then checks its timeline.']::text[],
                  ARRAY['pgb-' || gen_random_uuid()]::text[]);
