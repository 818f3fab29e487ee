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

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'post_service') THEN
    GRANT SELECT, INSERT ON TABLE user_tombstones TO post_service;
    GRANT SELECT, UPDATE ON TABLE event_cursors TO post_service;
  END IF;
END
$$;
