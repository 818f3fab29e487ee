-- The declared schema of the user database: what the migrations in
-- migrations/user/ must produce, as it should be now. This is the file to
-- edit to change the schema; then `migrate new NAME --target user
-- --autogenerate` writes the migration that gets there, and `migrate check`
-- fails while the two disagree (migrations/README.md, "Changing the schema").
--
-- Plain PostgreSQL 15 DDL, applied to an empty database that has only
-- migrate's own history table, schema_migrations. Comments here are for
-- people; COMMENT ON is part of the schema.

-- Accounts of user-service. user-service maps unique_violation on the
-- unique index names to ALREADY_EXISTS, so keep the names.
CREATE TABLE users (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username            varchar(64)  NOT NULL,
  email               varchar(120) NOT NULL,
  password_hash       varchar(128) NOT NULL,
  created_at          timestamptz  NOT NULL DEFAULT now(),
  -- The `ver` claim of access tokens; a password change raises it.
  credentials_version bigint       NOT NULL DEFAULT 1,
  -- The compared forms of username and email (docs/identities.md), written
  -- by user-service; NULL on rows the backfill has not filled.
  username_canonical  text,
  username_skeleton   text,
  email_canonical     text
);

-- Rows whose canonical forms are NULL are still found through these.
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_canonical_key ON users (username_canonical);
CREATE UNIQUE INDEX users_username_skeleton_key ON users (username_skeleton);
CREATE UNIQUE INDEX users_email_canonical_key ON users (email_canonical);

-- The outbox of user-service, served as the ListUserEvents feed in (xid, id)
-- order (migrations/user/0003_user_events.up.sql says why xid).
CREATE TABLE user_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  xid         xid8        NOT NULL DEFAULT pg_current_xact_id(),
  kind        varchar(32) NOT NULL,
  user_id     bigint      NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  payload     jsonb       NOT NULL DEFAULT '{}'
);

CREATE INDEX user_events_feed_idx ON user_events (xid, id);
CREATE INDEX user_events_occurred_idx ON user_events (occurred_at);

-- The feed position of the newest event retention has deleted. One row at most.
CREATE TABLE user_events_pruned (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  xid       xid8   NOT NULL,
  id        bigint NOT NULL
);

-- Wakes ListUserEvents calls waiting for new events, at commit.
CREATE FUNCTION user_events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('user_events', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER user_events_notify AFTER INSERT ON user_events
  FOR EACH STATEMENT EXECUTE FUNCTION user_events_notify();

-- user-service's role (created by whoever provisions the database; where it
-- does not exist there is nothing to grant).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'user_service') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE users TO user_service;
    GRANT SELECT ON TABLE schema_migrations TO user_service;
    GRANT SELECT, INSERT, DELETE ON TABLE user_events TO user_service;
    GRANT SELECT, INSERT, UPDATE ON TABLE user_events_pruned TO user_service;
  END IF;
END
$$;
