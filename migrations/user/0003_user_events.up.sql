-- The outbox of user-service: one row per change other services must hear
-- about, written in the same transaction as the change itself (DeleteUser
-- deletes the account and inserts its 'user.deleted' event in one
-- statement), so that an event exists exactly when its change committed.
-- UserService.ListUserEvents serves them as a feed.
--
-- Feed order is (xid, id), and the feed hands out only events of
-- transactions older than every transaction still running
-- (xid < pg_snapshot_xmin(pg_current_snapshot())). Identity values are taken
-- before commit, so reading in id order alone would let a reader pass id 11
-- while the transaction holding id 10 is still open, and lose 10 for ever;
-- an xid below the snapshot's xmin belongs to a transaction that has
-- finished, so no event can later appear before a position already read.
CREATE TABLE user_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  xid         xid8        NOT NULL DEFAULT pg_current_xact_id(),
  -- What happened: 'user.deleted' (the only kind so far). Later kinds
  -- (e.g. 'user.renamed') put their details in payload.
  kind        varchar(32) NOT NULL,
  user_id     bigint      NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  payload     jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX user_events_feed_idx ON user_events (xid, id);
-- Retention: user-service deletes events older than its retention.
CREATE INDEX user_events_occurred_idx ON user_events (occurred_at);

-- The feed position of the newest event retention has deleted: a reader
-- whose cursor is before it has missed events, and is told so instead of
-- silently skipping them. One row at most.
CREATE TABLE user_events_pruned (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  xid       xid8   NOT NULL,
  id        bigint NOT NULL
);

-- A wake-up for ListUserEvents calls waiting for new events (on every
-- user-service replica). NOTIFY is delivered at commit, and only then: a
-- wake-up, not the delivery itself; readers still read the table.
CREATE FUNCTION user_events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('user_events', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER user_events_notify AFTER INSERT ON user_events
  FOR EACH STATEMENT EXECUTE FUNCTION user_events_notify();

-- user-service writes events (DeleteUser), reads the feed and prunes.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'user_service') THEN
    GRANT SELECT, INSERT, DELETE ON TABLE user_events TO user_service;
    GRANT SELECT, INSERT, UPDATE ON TABLE user_events_pruned TO user_service;
  END IF;
END
$$;
