-- Access tokens (issue 23) carry the account's credentials version as
-- their `ver` claim; a password change raises it, which revokes every token
-- issued before (user-service compares the two wherever a token grants
-- something, post-service learns the new version from the feed's
-- 'user.credentials_changed' event, whose payload holds it).
--
-- NOT NULL DEFAULT a constant: catalog only in PostgreSQL 11+, no rewrite;
-- the previous release's inserts get 1 and its password changes leave the
-- version as it is (its tokens do not exist).
ALTER TABLE users ADD COLUMN credentials_version bigint NOT NULL DEFAULT 1;
