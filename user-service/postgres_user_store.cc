#include "user-service/postgres_user_store.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include "absl/strings/str_cat.h"
#include "common/base/batch_failure.h"
#include "common/base/status.h"
#include "common/db/array_literal.h"
#include "common/db/named_statement.h"
#include "user-service/identity_forms.h"

namespace microblog {
namespace user {
namespace {

// --- Every SQL statement of user-service. ------------------------------------
// A user row is (id, username, email, credentials_version, create_micros): created_at travels as
// microseconds since the epoch (see UserFromRow); only the credentials
// statements add password_hash.
//
// Names and addresses are compared in their stored forms (identity_forms.h:
// username_canonical, email_canonical; $2 below, the lookup key), through
// their unique indexes. An account written before the forms existed, or
// left without them by the backfill (identity_backfill.h), has NULL forms
// and is matched as before, through lower() and its index. When both match
// (an older account's forms and a newer unfilled one's lower()), the one
// spelt exactly as asked wins, then the oldest.
#define MICROBLOG_USER_COLUMNS_OF(t)                                                  \
  t "id, " t "username, " t "email, " t "credentials_version, (extract(epoch FROM " t \
    "created_at) * 1000000)::bigint AS create_micros"
#define MICROBLOG_USER_COLUMNS MICROBLOG_USER_COLUMNS_OF("")
#define MICROBLOG_USERNAME_MATCHES(users, typed, key)  \
  "(" users ".username_canonical = " key " OR (" users \
  ".username_canonical IS NULL AND "                   \
  "lower(" users ".username) = lower(" typed ")))"
#define MICROBLOG_EMAIL_MATCHES(users, typed, key)  \
  "(" users ".email_canonical = " key " OR (" users \
  ".email_canonical IS NULL AND "                   \
  "lower(" users ".email) = lower(" typed ")))"

constexpr NamedStatement kInsert{
    "user_insert",
    "INSERT INTO users (username, email, password_hash, username_canonical, username_skeleton, "
    "email_canonical) VALUES ($1, $2, $3, $4, $5, $6) RETURNING " MICROBLOG_USER_COLUMNS};
constexpr NamedStatement kByUsername{
    "user_by_username",
    "SELECT " MICROBLOG_USER_COLUMNS " FROM users WHERE " MICROBLOG_USERNAME_MATCHES(
        "users", "$1", "$2") " ORDER BY username = $1 DESC, id LIMIT 1"};
constexpr NamedStatement kByEmail{
    "user_by_email", "SELECT " MICROBLOG_USER_COLUMNS " FROM users WHERE " MICROBLOG_EMAIL_MATCHES(
                         "users", "$1", "$2") " ORDER BY email = $1 DESC, id LIMIT 1"};
constexpr NamedStatement kCredentialsByUsername{
    "user_credentials_by_username",
    "SELECT " MICROBLOG_USER_COLUMNS ", password_hash FROM users WHERE " MICROBLOG_USERNAME_MATCHES(
        "users", "$1", "$2") " ORDER BY username = $1 DESC, id LIMIT 1"};
constexpr NamedStatement kCredentialsByEmail{
    "user_credentials_by_email",
    "SELECT " MICROBLOG_USER_COLUMNS ", password_hash FROM users WHERE " MICROBLOG_EMAIL_MATCHES(
        "users", "$1", "$2") " ORDER BY email = $1 DESC, id LIMIT 1"};
// Batched LookupUser: $1..$4 are parallel arrays, each login's username or
// email as asked (NULL in the other) and its lookup key ($3 username keys,
// $4 email keys); `i` is its 1-based position. One index scan per login and
// field, through the same indexes; one row per login, chosen as above.
constexpr NamedStatement kByLogins{
    "users_by_logins",
    "SELECT DISTINCT ON (m.i) m.* FROM ("
    "SELECT l.i, u.username = l.username AS exact, " MICROBLOG_USER_COLUMNS_OF("u.")
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS "
    "l(username, email, username_key, email_key, i) JOIN users u ON " MICROBLOG_USERNAME_MATCHES(
        "u", "l.username", "l.username_key") " UNION ALL "
    "SELECT l.i, u.email = l.email AS exact, " MICROBLOG_USER_COLUMNS_OF("u.")
    " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS "
    "l(username, email, username_key, email_key, i) JOIN users u ON " MICROBLOG_EMAIL_MATCHES(
        "u", "l.email", "l.email_key") ") m ORDER BY m.i, m.exact DESC, m.id"};
// $1 after id, $2 limit.
constexpr NamedStatement kAfterId{"users_after_id",
                                  "SELECT id, username, email, credentials_version, (extract(epoch "
                                  "FROM created_at) * 1000000)::bigint AS "
                                  "create_micros FROM users WHERE id > $1 ORDER BY id LIMIT $2"};
constexpr NamedStatement kByIds{"users_by_ids",
                                "SELECT id, username, email, credentials_version, (extract(epoch "
                                "FROM created_at) * 1000000)::bigint AS "
                                "create_micros FROM users WHERE id = ANY ($1::bigint[])"};
// NULL parameters keep the current value (UserChanges' unset fields); $5,
// when not NULL, is the credentials version the account must still have
// (the caller's token's); $6-$8 are the stored forms of a new username
// ($6, $7) or email ($8). A new password raises the version and records a
// 'user.credentials_changed' event with it (the outbox,
// feed/user_event_store.h) in the same statement, so one transaction.
constexpr NamedStatement kUpdate{
    "user_update",
    "WITH updated AS (UPDATE users SET username = coalesce($2, username), "
    "email = coalesce($3, email), password_hash = coalesce($4, password_hash), "
    "credentials_version = credentials_version + CASE WHEN $4 IS NULL THEN 0 ELSE 1 END, "
    "username_canonical = CASE WHEN $2 IS NULL THEN username_canonical ELSE $6 END, "
    "username_skeleton = CASE WHEN $2 IS NULL THEN username_skeleton ELSE $7 END, "
    "email_canonical = CASE WHEN $3 IS NULL THEN email_canonical ELSE $8 END "
    "WHERE id = $1 AND ($5::bigint IS NULL OR credentials_version = $5::bigint) "
    "RETURNING " MICROBLOG_USER_COLUMNS
    "), "
    "event AS (INSERT INTO user_events (kind, user_id, payload) "
    "SELECT 'user.credentials_changed', id, jsonb_build_object('credentials_version', "
    "credentials_version) FROM updated WHERE $4 IS NOT NULL) "
    "SELECT * FROM updated"};
// The account and its 'user.deleted' event (the outbox, feed/user_event_store.h)
// in one statement: autocommit makes both one transaction, so the event
// exists exactly when the deletion committed. $2 as kUpdate's $5.
constexpr NamedStatement kDelete{
    "user_delete",
    "WITH deleted AS (DELETE FROM users WHERE id = $1 "
    "AND ($2::bigint IS NULL OR credentials_version = $2::bigint) RETURNING id) "
    "INSERT INTO user_events (kind, user_id) SELECT 'user.deleted', id FROM deleted"};

#undef MICROBLOG_EMAIL_MATCHES
#undef MICROBLOG_USERNAME_MATCHES
#undef MICROBLOG_USER_COLUMNS
#undef MICROBLOG_USER_COLUMNS_OF

constexpr NamedStatement kStatements[] = {
    kInsert,  kByUsername, kByEmail, kByLogins, kCredentialsByUsername, kCredentialsByEmail,
    kAfterId, kByIds,      kUpdate,  kDelete,
};

// The unique indexes of migrations/user, and what ALREADY_EXISTS says for
// each. Saying that a name looks like another's reveals no more than that
// it is taken (LookupUser tells anyone).
struct UniqueIndex {
  const char* name;
  const char* message;
};
constexpr UniqueIndex kUniqueIndexes[] = {
    {"users_username_lower_key", "a user with this username already exists"},
    {"users_username_canonical_key", "a user with this username already exists"},
    {"users_username_skeleton_key",
     "a user with a username that looks the same as this one already exists"},
    {"users_email_lower_key", "a user with this email already exists"},
    {"users_email_canonical_key", "a user with this email already exists"},
};

// The one reader of a user row (the columns every statement above returns).
UserRecord UserFromRow(const pqxx::row& row) {
  UserRecord user;
  user.id = row["id"].as<int64_t>();
  user.username = row["username"].as<std::string>();
  user.email = row["email"].as<std::string>();
  user.create_time_micros = row["create_micros"].as<int64_t>();
  user.credentials_version = row["credentials_version"].as<int64_t>();
  return user;
}

// A user row with its password_hash column.
UserCredentials CredentialsFromRow(const pqxx::row& row) {
  return {UserFromRow(row), row["password_hash"].as<std::string>()};
}

// ALREADY_EXISTS naming the field whose unique index `e` reports. PostgreSQL
// names the index in the message: duplicate key value violates unique
// constraint "users_email_lower_key".
absl::Status AlreadyExists(const pqxx::unique_violation& e) {
  const std::string message = e.what();
  for (const UniqueIndex& index : kUniqueIndexes) {
    if (message.find(index.name) != std::string::npos) {
      return absl::AlreadyExistsError(index.message);
    }
  }
  // An index this code does not know about: a schema change it missed.
  return absl::InternalError(absl::StrCat("unexpected unique violation: ", message));
}

// Runs `statement` (returning at most one row) with `args` on `pool`: the
// row read by `from_row`, `not_found()` when there is none, ALREADY_EXISTS
// on a unique violation.
template <typename FromRow, typename NotFound, typename... Args>
auto QueryOne(ConnectionPool& pool, const NamedStatement& statement, FromRow from_row,
              NotFound not_found, Clock::time_point deadline, const Args&... args)
    -> absl::StatusOr<decltype(from_row(std::declval<const pqxx::row&>()))> {
  using Record = decltype(from_row(std::declval<const pqxx::row&>()));
  return pool.Run<Record>(deadline, [&](pqxx::connection& c) -> absl::StatusOr<Record> {
    // One statement: autocommit is atomic and saves BEGIN/COMMIT round trips.
    pqxx::nontransaction tx(c);
    try {
      const pqxx::result rows = pool.Exec(tx, statement, args...);
      if (rows.empty()) return not_found();
      return from_row(rows[0]);
    } catch (const pqxx::unique_violation& e) {
      return AlreadyExists(e);
    }
  });
}

// NOT_FOUND for the account whose `field` is `value`.
absl::Status NoUserWith(const char* field, const std::string& value) {
  return NotFoundResource("user", value, absl::StrCat("no user has this ", field));
}

// The accounts `statement` returns for `args`, in its order, read where
// `from` allows.
template <typename... Args>
absl::StatusOr<std::vector<UserRecord>> QueryMany(ReadRouter& router, const ReadFrom& from,
                                                  const NamedStatement& statement,
                                                  Clock::time_point deadline, const Args&... args) {
  return router.Run<std::vector<UserRecord>>(from, deadline, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<UserRecord> users;
    for (const pqxx::row& row : router.Exec(tx, statement, args...)) {
      users.push_back(UserFromRow(row));
    }
    return users;
  });
}

}  // namespace

void PostgresUserStore::PrepareStatements(pqxx::connection& connection) {
  PrepareAll(connection, kStatements);
}

absl::StatusOr<UserRecord> PostgresUserStore::Create(const std::string& username,
                                                     const std::string& email,
                                                     const std::string& password_hash,
                                                     Clock::time_point deadline) {
  const UsernameColumns name = UsernameColumnsOf(username);
  return QueryOne(
      pool_, kInsert, UserFromRow,
      [] { return absl::InternalError("INSERT ... RETURNING returned no row"); }, deadline,
      username, email, password_hash, name.canonical, name.skeleton, EmailCanonicalOf(email));
}

absl::StatusOr<UserRecord> PostgresUserStore::GetByUsername(const std::string& username,
                                                            Clock::time_point deadline) {
  return QueryOne(
      pool_, kByUsername, UserFromRow, [&] { return NoUserWith("username", username); }, deadline,
      username, UsernameLookupKey(username));
}

absl::StatusOr<UserRecord> PostgresUserStore::GetByEmail(const std::string& email,
                                                         Clock::time_point deadline) {
  return QueryOne(
      pool_, kByEmail, UserFromRow, [&] { return NoUserWith("email", email); }, deadline, email,
      EmailLookupKey(email));
}

std::vector<absl::StatusOr<UserRecord>> PostgresUserStore::GetByLogins(
    const std::vector<Login>& logins, const ReadFrom& from, Clock::time_point deadline) {
  std::vector<std::optional<std::string>> usernames;
  std::vector<std::optional<std::string>> emails;
  std::vector<std::optional<std::string>> username_keys;
  std::vector<std::optional<std::string>> email_keys;
  for (const Login& login : logins) {
    if (login.field == LoginField::kEmail) {
      usernames.push_back(std::nullopt);
      username_keys.push_back(std::nullopt);
      emails.push_back(login.value);
      email_keys.push_back(EmailLookupKey(login.value));
    } else {
      usernames.push_back(login.value);
      username_keys.push_back(UsernameLookupKey(login.value));
      emails.push_back(std::nullopt);
      email_keys.push_back(std::nullopt);
    }
  }
  // By position; the NOT_FOUND statuses (with their ResourceInfo) are made
  // only for the logins the query did not find.
  std::vector<std::optional<UserRecord>> rows(logins.size());
  const absl::Status status = router_.RunStatus(from, deadline, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    for (const pqxx::row& row : router_.Exec(tx, kByLogins, TextArray(usernames), TextArray(emails),
                                             TextArray(username_keys), TextArray(email_keys))) {
      const int64_t i = row["i"].as<int64_t>();
      if (i >= 1 && i <= static_cast<int64_t>(rows.size())) rows[i - 1] = UserFromRow(row);
    }
    return absl::OkStatus();
  });
  if (!status.ok()) {
    return std::vector<absl::StatusOr<UserRecord>>(logins.size(), WholeBatchFailure(status));
  }
  std::vector<absl::StatusOr<UserRecord>> found;
  found.reserve(logins.size());
  for (std::size_t i = 0; i < logins.size(); ++i) {
    if (rows[i].has_value()) {
      found.push_back(std::move(*rows[i]));
    } else {
      const bool by_email = logins[i].field == LoginField::kEmail;
      found.push_back(NoUserWith(by_email ? "email" : "username", logins[i].value));
    }
  }
  return found;
}

absl::StatusOr<UserCredentials> PostgresUserStore::GetCredentials(LoginField field,
                                                                  const std::string& login,
                                                                  Clock::time_point deadline) {
  const bool by_email = field == LoginField::kEmail;
  return QueryOne(
      pool_, by_email ? kCredentialsByEmail : kCredentialsByUsername, CredentialsFromRow,
      [&] { return NoUserWith(by_email ? "email" : "username", login); }, deadline, login,
      by_email ? EmailLookupKey(login) : UsernameLookupKey(login));
}

absl::StatusOr<std::vector<UserRecord>> PostgresUserStore::ListAfter(int64_t after_id, int limit,
                                                                     const ReadFrom& from,
                                                                     Clock::time_point deadline) {
  return QueryMany(router_, from, kAfterId, deadline, after_id, limit);
}

absl::StatusOr<std::vector<UserRecord>> PostgresUserStore::GetByIds(const std::vector<int64_t>& ids,
                                                                    const ReadFrom& from,
                                                                    Clock::time_point deadline) {
  if (ids.empty()) return std::vector<UserRecord>{};
  return QueryMany(router_, from, kByIds, deadline, BigintArray(ids));
}

absl::StatusOr<UserRecord> PostgresUserStore::Update(int64_t id, const UserChanges& changes,
                                                     Clock::time_point deadline) {
  const UsernameColumns name =
      changes.username ? UsernameColumnsOf(*changes.username) : UsernameColumns{};
  const std::optional<std::string> email_canonical =
      changes.email ? EmailCanonicalOf(*changes.email) : std::nullopt;
  return QueryOne(
      pool_, kUpdate, UserFromRow, [id] { return NotFoundResource("user", id); }, deadline, id,
      changes.username, changes.email, changes.password_hash, changes.if_credentials_version,
      name.canonical, name.skeleton, email_canonical);
}

absl::Status PostgresUserStore::Delete(int64_t id, std::optional<int64_t> if_credentials_version,
                                       Clock::time_point deadline) {
  return pool_.RunStatus(deadline, [&](pqxx::connection& c) -> absl::Status {
    pqxx::nontransaction tx(c);
    const pqxx::result deleted = pool_.Exec(tx, kDelete, id, if_credentials_version);
    return deleted.affected_rows() == 0 ? NotFoundResource("user", id) : absl::OkStatus();
  });
}

std::string PostgresUserStore::WriteToken(Clock::time_point deadline) {
  return router_.WriteToken(deadline);
}

}  // namespace user
}  // namespace microblog
