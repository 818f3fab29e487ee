-- Access tokens revoked by a password change (issue 23): for each user
-- whose password changed, the lowest credentials version (`ver` claim) its
-- tokens must carry to be accepted. Written by the cascade's consumer from
-- user-service's 'user.credentials_changed' events, in the same transaction
-- as the feed cursor's advance; post-service keeps the table in memory
-- (loaded at start-up, then updated by the consumer) and refuses older
-- tokens with UNAUTHENTICATED. Deleted users' tokens are refused through
-- user_tombstones. One row per user whose password ever changed.
CREATE TABLE credentials_revocations (
  user_id     bigint      PRIMARY KEY,
  min_version bigint      NOT NULL,
  changed_at  timestamptz NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);

-- Each replica's refresh reads the rows applied lately.
CREATE INDEX credentials_revocations_applied_idx ON credentials_revocations (applied_at);

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'post_service') THEN
    GRANT SELECT, INSERT, UPDATE ON TABLE credentials_revocations TO post_service;
  END IF;
END
$$;
