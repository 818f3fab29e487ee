// The values user-service's layers hand each other: an account as the store
// reads it, with or without its password hash, a login to look up and the
// changes of an update. Plain structs without behaviour, as post-service's
// post_records.h: the logic (user_accounts.h) turns them into and from
// protos, the store (user_store.h) into and from rows.
#ifndef MICROBLOG_USER_SERVICE_USER_RECORDS_H_
#define MICROBLOG_USER_SERVICE_USER_RECORDS_H_

#include <cstdint>
#include <optional>
#include <string>

namespace microblog {
namespace user {

// One row of `users`, without its password hash: what every read but a
// password check returns, so that the hash never travels for nothing.
struct UserRecord {
  int64_t id = 0;
  std::string username;
  std::string email;
  int64_t create_time_micros = 0;  // microseconds since the Unix epoch
  // Raised by every password change; access tokens carry the version they
  // were issued at (their `ver` claim), and older ones are revoked.
  int64_t credentials_version = 1;
};

// An account with its password hash: what a password check needs.
struct UserCredentials {
  UserRecord user;
  std::string password_hash;  // encoded Argon2id hash; never sent to clients
};

// Which column a login names.
enum class LoginField { kUsername, kEmail };

// One lookup of an account by login: which field, and the value asked
// (matched ignoring case).
struct Login {
  LoginField field;
  std::string value;
};

// The new values of an update; unset fields keep their value.
struct UserChanges {
  std::optional<std::string> username;
  std::optional<std::string> email;
  std::optional<std::string> password_hash;  // also raises credentials_version
  // When set, the update applies only while the account's credentials
  // version is this (the caller's token's); else NOT_FOUND, as if the
  // account did not exist.
  std::optional<int64_t> if_credentials_version;
};

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_USER_RECORDS_H_
