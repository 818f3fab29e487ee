-- Accounts of user-service. Usernames and emails are unique regardless of
-- case; user-service maps unique_violation on these index names to
-- ALREADY_EXISTS, so keep the names.
CREATE TABLE users (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username      varchar(64)  NOT NULL,
  email         varchar(120) NOT NULL,
  password_hash varchar(128) NOT NULL,
  created_at    timestamptz  NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
