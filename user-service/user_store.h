// Storage of microblog accounts: the `users` table of user-service's
// PostgreSQL database (migrations/user/).
//
// UserStore is the interface the service logic (user_accounts.h) depends on,
// so that the logic can be unit-tested with a fake and compiles without
// libpqxx; the records it reads and writes are in user_records.h;
// PostgresUserStore (postgres_user_store.h) is the real thing.
//
// Reads taking a ReadFrom run where it allows (common/base/read_from.h); every
// other method runs on the primary.
//
// Errors of every method, besides the ones it lists: UNAVAILABLE (database
// unreachable), DEADLINE_EXCEEDED, INTERNAL (anything unexpected; the
// message may hold SQL details and must not reach clients as is).
//
// Username and email comparisons ignore case as PostgreSQL's lower() folds
// it (the unique indexes are on lower(username) and lower(email)).
//
// Thread-safety: implementations must be thread-safe.
#ifndef MICROBLOG_USER_SERVICE_USER_STORE_H_
#define MICROBLOG_USER_SERVICE_USER_STORE_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "common/base/read_from.h"
#include "user-service/user_records.h"

namespace microblog {
namespace user {

class UserStore {
 public:
  virtual ~UserStore() = default;

  // Inserts an account. ALREADY_EXISTS naming the field ("username" or
  // "email") when another account has it (ignoring case).
  virtual absl::StatusOr<UserRecord> Create(const std::string& username, const std::string& email,
                                            const std::string& password_hash,
                                            Clock::time_point deadline) = 0;

  // NOT_FOUND (with a google.rpc.ResourceInfo) when there is no such account.
  virtual absl::StatusOr<UserRecord> GetByUsername(const std::string& username,
                                                   Clock::time_point deadline) = 0;
  virtual absl::StatusOr<UserRecord> GetByEmail(const std::string& email,
                                                Clock::time_point deadline) = 0;

  // The account of each of `logins` (which may repeat), in their order: its
  // record, or NOT_FOUND as GetByUsername()/GetByEmail() give; every entry
  // is the query's error when it failed. This default asks those once per
  // login; PostgresUserStore asks once for all (batched LookupUser).
  // Runs where `from` allows (this default: where GetByUsername() and
  // GetByEmail() do, the primary).
  virtual std::vector<absl::StatusOr<UserRecord>> GetByLogins(const std::vector<Login>& logins,
                                                              const ReadFrom& from,
                                                              Clock::time_point deadline);

  // The account whose `field` is `login`, with its password hash. NOT_FOUND
  // (with a google.rpc.ResourceInfo) when there is none.
  virtual absl::StatusOr<UserCredentials> GetCredentials(LoginField field, const std::string& login,
                                                         Clock::time_point deadline) = 0;

  // Up to `limit` accounts with id > `after_id`, in ascending id order.
  virtual absl::StatusOr<std::vector<UserRecord>> ListAfter(int64_t after_id, int limit,
                                                            const ReadFrom& from,
                                                            Clock::time_point deadline) = 0;

  // The accounts among `ids` (which may repeat), each once, in no particular
  // order; unknown ids are skipped.
  virtual absl::StatusOr<std::vector<UserRecord>> GetByIds(const std::vector<int64_t>& ids,
                                                           const ReadFrom& from,
                                                           Clock::time_point deadline) = 0;

  // Applies `changes` to account `id` and returns it as updated; a new
  // password hash raises its credentials version and records a
  // 'user.credentials_changed' event in the outbox, atomically. NOT_FOUND
  // (with a google.rpc.ResourceInfo), also when
  // changes.if_credentials_version does not match; ALREADY_EXISTS as
  // Create().
  virtual absl::StatusOr<UserRecord> Update(int64_t id, const UserChanges& changes,
                                            Clock::time_point deadline) = 0;

  // Deletes the account and records its deletion in the outbox
  // (user_events, read through UserEventStore), atomically. NOT_FOUND (with
  // a google.rpc.ResourceInfo) when there is no such account, or, with
  // `if_credentials_version`, when its credentials version is another.
  virtual absl::Status Delete(int64_t id, std::optional<int64_t> if_credentials_version,
                              Clock::time_point deadline) = 0;

  // The consistency token of the writes that returned so far (a write RPC
  // answers it): "" when every read is on the primary anyway (this
  // default). Never fails (see ReadRouter::WriteToken).
  virtual std::string WriteToken(Clock::time_point /*deadline*/) { return ""; }
};

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_USER_STORE_H_
