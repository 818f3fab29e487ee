#include "user-service/user_store.h"

#include <string>
#include <utility>

#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace microblog {
namespace user {
namespace {

// Every row the store reads has these columns, in this order (see ToRecord).
#define MICROBLOG_USER_COLUMNS \
  "id, username, email, password_hash, (extract(epoch FROM created_at) * 1000000)::bigint"
// The same, with an empty password_hash: for reads that never check a
// password (GetUser, BatchGetUsers, ListUsers), so that the hash does not
// travel from the database for nothing.
#define MICROBLOG_PUBLIC_USER_COLUMNS \
  "id, username, email, ''::text, (extract(epoch FROM created_at) * 1000000)::bigint"

struct Statement {
  const char* name;
  const char* sql;
};

// All SQL of user-service. Lookups by name go through lower() so that they
// use the unique indexes on lower(username) and lower(email).
constexpr Statement kStatements[] = {
    {"user_insert",
     "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) "
     "RETURNING " MICROBLOG_USER_COLUMNS},
    {"user_by_username",
     "SELECT " MICROBLOG_USER_COLUMNS " FROM users WHERE lower(username) = lower($1)"},
    {"user_by_email", "SELECT " MICROBLOG_USER_COLUMNS " FROM users WHERE lower(email) = lower($1)"},
    {"users_after_id",
     "SELECT " MICROBLOG_PUBLIC_USER_COLUMNS " FROM users WHERE id > $1 ORDER BY id LIMIT $2"},
    {"users_by_ids",
     "SELECT " MICROBLOG_PUBLIC_USER_COLUMNS " FROM users WHERE id = ANY ($1::bigint[])"},
    // NULL parameters keep the current value (UserChanges' unset fields).
    {"user_update",
     "UPDATE users SET username = coalesce($2, username), email = coalesce($3, email), "
     "password_hash = coalesce($4, password_hash) WHERE id = $1 "
     "RETURNING " MICROBLOG_USER_COLUMNS},
    {"user_delete", "DELETE FROM users WHERE id = $1"},
};

#undef MICROBLOG_USER_COLUMNS
#undef MICROBLOG_PUBLIC_USER_COLUMNS

// The unique indexes of migrations/user, and the request field each guards.
struct UniqueIndex {
  const char* name;
  const char* field;
};
constexpr UniqueIndex kUniqueIndexes[] = {
    {"users_username_lower_key", "username"},
    {"users_email_lower_key", "email"},
};

UserRecord ToRecord(const pqxx::row& row) {
  UserRecord record;
  record.id = row[0].as<int64_t>();
  record.username = row[1].as<std::string>();
  record.email = row[2].as<std::string>();
  record.password_hash = row[3].as<std::string>();
  record.create_time_micros = row[4].as<int64_t>();
  return record;
}

// ALREADY_EXISTS naming the field whose unique index `e` reports. PostgreSQL
// names the index in the message: duplicate key value violates unique
// constraint "users_email_lower_key".
absl::Status AlreadyExists(const pqxx::unique_violation& e) {
  const std::string message = e.what();
  for (const UniqueIndex& index : kUniqueIndexes) {
    if (message.find(index.name) != std::string::npos) {
      return absl::AlreadyExistsError(
          absl::StrCat("a user with this ", index.field, " already exists"));
    }
  }
  // An index this code does not know about: a schema change it missed.
  return absl::InternalError(absl::StrCat("unexpected unique violation: ", message));
}

}  // namespace

absl::Status UserNotFound(int64_t id) {
  return NotFoundResource("user", absl::StrCat(id), absl::StrCat("user ", id, " does not exist"));
}

void PostgresUserStore::Prepare(pqxx::connection& connection) {
  for (const Statement& statement : kStatements) connection.prepare(statement.name, statement.sql);
}

template <typename... Args>
absl::StatusOr<UserRecord> PostgresUserStore::QueryOne(const char* statement,
                                                       const absl::Status& not_found,
                                                       Clock::time_point deadline,
                                                       const Args&... args) {
  return pool_.Run<UserRecord>(deadline, [&](pqxx::connection& c) -> absl::StatusOr<UserRecord> {
    // One statement: autocommit is atomic and saves BEGIN/COMMIT round trips.
    pqxx::nontransaction tx(c);
    try {
      const pqxx::result rows = tx.exec_prepared(statement, args...);
      if (rows.empty()) return not_found;
      return ToRecord(rows[0]);
    } catch (const pqxx::unique_violation& e) {
      return AlreadyExists(e);
    }
  });
}

absl::StatusOr<UserRecord> PostgresUserStore::Create(const std::string& username,
                                                     const std::string& email,
                                                     const std::string& password_hash,
                                                     Clock::time_point deadline) {
  return QueryOne("user_insert", absl::InternalError("INSERT ... RETURNING returned no row"),
                  deadline, username, email, password_hash);
}

absl::StatusOr<UserRecord> PostgresUserStore::GetByUsername(const std::string& username,
                                                            Clock::time_point deadline) {
  return QueryOne("user_by_username",
                  NotFoundResource("user", username, "no user has this username"), deadline,
                  username);
}

absl::StatusOr<UserRecord> PostgresUserStore::GetByEmail(const std::string& email,
                                                         Clock::time_point deadline) {
  return QueryOne("user_by_email", NotFoundResource("user", email, "no user has this email"),
                  deadline, email);
}

absl::StatusOr<std::vector<UserRecord>> PostgresUserStore::ListAfter(int64_t after_id, int limit,
                                                                     Clock::time_point deadline) {
  return pool_.Run<std::vector<UserRecord>>(
      deadline, [&](pqxx::connection& c) -> absl::StatusOr<std::vector<UserRecord>> {
        pqxx::nontransaction tx(c);
        std::vector<UserRecord> users;
        for (const pqxx::row& row : tx.exec_prepared("users_after_id", after_id, limit)) {
          users.push_back(ToRecord(row));
        }
        return users;
      });
}

absl::StatusOr<std::vector<UserRecord>> PostgresUserStore::GetByIds(
    const std::vector<int64_t>& ids, Clock::time_point deadline) {
  if (ids.empty()) return std::vector<UserRecord>{};
  return pool_.Run<std::vector<UserRecord>>(
      deadline, [&](pqxx::connection& c) -> absl::StatusOr<std::vector<UserRecord>> {
        pqxx::nontransaction tx(c);
        std::vector<UserRecord> users;
        for (const pqxx::row& row : tx.exec_prepared("users_by_ids", BigintArray(ids))) {
          users.push_back(ToRecord(row));
        }
        return users;
      });
}

absl::StatusOr<UserRecord> PostgresUserStore::Update(int64_t id, const UserChanges& changes,
                                                     Clock::time_point deadline) {
  return QueryOne("user_update", UserNotFound(id), deadline, id, changes.username, changes.email,
                  changes.password_hash);
}

absl::Status PostgresUserStore::Delete(int64_t id, Clock::time_point deadline) {
  return pool_.RunStatus(deadline, [&](pqxx::connection& c) -> absl::Status {
    pqxx::nontransaction tx(c);
    const pqxx::result deleted = tx.exec_prepared("user_delete", id);
    return deleted.affected_rows() == 0 ? UserNotFound(id) : absl::OkStatus();
  });
}

}  // namespace user
}  // namespace microblog
