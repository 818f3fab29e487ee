-- ListPosts: one user's newest 20 (post_list_user_first, the one-user form of
-- post_list_users_first, which the service batches; one row more than the
-- page tells whether another page follows).
\set uid random(1, :users)
SELECT id, user_id, body, (extract(epoch FROM created_at) * 1000000)::bigint FROM posts WHERE user_id = :uid ORDER BY created_at DESC, id DESC LIMIT 21;
