-- Expand (issue 24): the forms user-service compares names and addresses
-- in, next to what the person typed (username, email: kept for display).
--   username_canonical  RFC 8265 mapping (width, case folding, NFC)
--   username_skeleton   UTS #39 confusable skeleton of username_canonical
--   email_canonical     NFC + case-folded local part @ IDNA ASCII domain
-- Computed by user-service with ICU (common/text/), which SQL cannot do;
-- this release writes them on every insert and update, and
-- `user-service backfill-identity-keys` fills the rows written before.
-- A row whose forms are NULL (not yet filled, or refused by the backfill
-- because it collides with an older account or breaks the profile) is
-- still found through lower(username) / lower(email), as before.
--
-- Nullable, no default: catalog only, and the previous release's inserts
-- (which do not know the columns) still work. The contract step, a later
-- release, makes them NOT NULL (a validated CHECK) once the backfill's
-- report is empty.
ALTER TABLE users
  ADD COLUMN username_canonical text,
  ADD COLUMN username_skeleton text,
  ADD COLUMN email_canonical text;
