-- Posts of post-service. user_id refers to users.id in the user database
-- (another database, so no foreign key). request_id makes CreatePost
-- idempotent: a retried request with the same id finds the existing row.
CREATE TABLE posts (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id    bigint       NOT NULL,
  body       varchar(140) NOT NULL,
  created_at timestamptz  NOT NULL DEFAULT now(),
  request_id varchar(64)  NULL
);

-- A user's timeline, newest first, keyset-paginated on (created_at, id).
CREATE INDEX posts_user_created_idx ON posts (user_id, created_at DESC, id DESC);
-- The global timeline, same order.
CREATE INDEX posts_created_idx ON posts (created_at DESC, id DESC);
CREATE UNIQUE INDEX posts_request_id_key ON posts (request_id) WHERE request_id IS NOT NULL;
