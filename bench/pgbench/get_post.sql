-- GetPost, one call at a time: the single-row form of post-service's
-- post_get_many (the service batches concurrent calls). Variables: posts (ids 1..posts).
\set id random(1, :posts)
SELECT id, user_id, body, (extract(epoch FROM created_at) * 1000000)::bigint FROM posts WHERE id = :id;
