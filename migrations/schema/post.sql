-- The declared schema of the post database: what the migrations in
-- migrations/post/ must produce, as it should be now. This is the file to
-- edit to change the schema; then `migrate new NAME --target post
-- --autogenerate` writes the migration that gets there, and `migrate check`
-- fails while the two disagree (migrations/README.md, "Changing the schema").
--
-- Plain PostgreSQL 15 DDL, applied to an empty database that has only
-- migrate's own history table, schema_migrations. Comments here are for
-- people; COMMENT ON is part of the schema. Data rows (event_cursors' one
-- row) belong to the migrations, not here.

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

-- Deleted users whose posts post-service has removed (post-service/deleted_authors.h).
CREATE TABLE user_tombstones (
  user_id    bigint      PRIMARY KEY,
  deleted_at timestamptz NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  -- 'event' (the user-service feed) or 'reconcile'.
  source     varchar(16) NOT NULL
);

-- Where post-service is in each feed it consumes ('' = its beginning).
CREATE TABLE event_cursors (
  feed       varchar(64) PRIMARY KEY,
  position   text        NOT NULL DEFAULT '',
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Tokens revoked by a password change: the lowest credentials version a
-- user's tokens must carry.
CREATE TABLE credentials_revocations (
  user_id     bigint      PRIMARY KEY,
  min_version bigint      NOT NULL,
  changed_at  timestamptz NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX credentials_revocations_applied_idx ON credentials_revocations (applied_at);

-- CreatePost's batch insert (migrations/post/0003_user_tombstones.up.sql
-- says how it locks).
CREATE FUNCTION insert_posts(p_user_ids bigint[], p_bodies text[], p_request_ids text[])
RETURNS TABLE (ord integer, outcome text, post_id bigint, post_user_id bigint,
               post_body text, create_micros bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  removed bigint[];
BEGIN
  PERFORM pg_advisory_xact_lock_shared(a.author # 4611686018427387904)
    FROM (SELECT DISTINCT u AS author FROM unnest(p_user_ids) AS u ORDER BY 1) a;
  SELECT coalesce(array_agg(t.user_id), '{}') INTO removed
    FROM user_tombstones t WHERE t.user_id = ANY (p_user_ids);
  FOR i IN 1 .. coalesce(array_length(p_user_ids, 1), 0) LOOP
    ord := i;
    post_id := NULL; post_user_id := NULL; post_body := NULL; create_micros := NULL;
    IF p_user_ids[i] = ANY (removed) THEN
      outcome := 'removed';
    ELSE
      INSERT INTO posts AS p (user_id, body, request_id)
        VALUES (p_user_ids[i], p_bodies[i], p_request_ids[i])
        ON CONFLICT (request_id) WHERE request_id IS NOT NULL DO NOTHING
        RETURNING p.id, p.user_id, p.body, (extract(epoch FROM p.created_at) * 1000000)::bigint
        INTO post_id, post_user_id, post_body, create_micros;
      outcome := CASE WHEN FOUND THEN 'inserted' ELSE 'taken' END;
    END IF;
    RETURN NEXT;
  END LOOP;
END
$$;

REVOKE ALL ON FUNCTION insert_posts(bigint[], text[], text[]) FROM PUBLIC;

-- post-service's role (created by whoever provisions the database; where it
-- does not exist there is nothing to grant).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'post_service') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE posts TO post_service;
    GRANT SELECT ON TABLE schema_migrations TO post_service;
    GRANT SELECT, INSERT ON TABLE user_tombstones TO post_service;
    GRANT SELECT, UPDATE ON TABLE event_cursors TO post_service;
    GRANT SELECT, INSERT, UPDATE ON TABLE credentials_revocations TO post_service;
    GRANT EXECUTE ON FUNCTION insert_posts(bigint[], text[], text[]) TO post_service;
  END IF;
END
$$;
