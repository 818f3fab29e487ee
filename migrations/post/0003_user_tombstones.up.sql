-- What post-service knows of deleted users (the cascade of DeleteUser, see
-- post-service/deleted_authors.h).
--
-- user_tombstones: one row per deleted user whose posts post-service has
-- removed. It is written in the same transaction as that removal, under an
-- exclusive advisory lock on the user; CreatePost takes the same lock
-- shared and checks this table inside its insert's transaction, so no post
-- is stored for a tombstoned user whatever the interleaving. User ids are
-- never reused, so rows are kept.
CREATE TABLE user_tombstones (
  user_id    bigint      PRIMARY KEY,
  -- When user-service deleted the user (the event's time; for
  -- reconciliation, when it found the user missing).
  deleted_at timestamptz NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  -- 'event' (the user-service feed) or 'reconcile'.
  source     varchar(16) NOT NULL
);

-- Where post-service is in each feed it consumes: an opaque cursor of the
-- feed ('' = its beginning). Advanced in the same transaction as the
-- effects of the events before it; the applying replica holds the row
-- (FOR UPDATE SKIP LOCKED), the others stand by.
CREATE TABLE event_cursors (
  feed       varchar(64) PRIMARY KEY,
  position   text        NOT NULL DEFAULT '',
  updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO event_cursors (feed) VALUES ('user-events');

-- CreatePost's batch insert, in one round trip and one statement (so one
-- commit, autocommit) instead of BEGIN, a statement per post and COMMIT:
-- post-service/post_store.cc calls it with the batch's posts in the order
-- they are to be inserted (request_id order, so that concurrent batches wait
-- for each other's keys instead of deadlocking).
--
-- It first takes the SHARED advisory lock of each distinct author, in
-- ascending id order (the removal of an author takes it EXCLUSIVE:
-- post-service/author_locks.h), then reads user_tombstones in a later
-- statement: in READ COMMITTED each statement of a VOLATILE function takes
-- a new snapshot, so a removal that committed while we waited is seen, and
-- its author's posts are refused ('removed'). Each post is then inserted;
-- one whose request_id is taken (by another post, committed or of this
-- batch) is reported 'taken' and the caller reads the post holding it.
-- One row per post: its position in the arrays, the outcome, and the post
-- as stored when 'inserted'.
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

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'post_service') THEN
    GRANT SELECT, INSERT ON TABLE user_tombstones TO post_service;
    GRANT SELECT, UPDATE ON TABLE event_cursors TO post_service;
    GRANT EXECUTE ON FUNCTION insert_posts(bigint[], text[], text[]) TO post_service;
  END IF;
END
$$;
