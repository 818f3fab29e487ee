#include "user-service/user_accounts.h"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/page_token.h"
#include "common/base/proto_time.h"
#include "common/base/status.h"
#include "user-service/user_validation.h"

namespace microblog {
namespace user {
namespace {

namespace v1 = ::microblog::user::v1;

// post-service's author checks send up to kMaxBatch ids per BatchGetUsers
// call (common/exec/batcher.h).
static_assert(kMaxBatchIds >= static_cast<int>(kMaxBatch),
              "BatchGetUsers must accept a whole batch of author checks");

// One message for unknown logins and wrong passwords alike, so that callers
// cannot probe which accounts exist.
constexpr char kBadCredentials[] = "login or password is incorrect";

void ToProto(const UserRecord& record, v1::User& user) {
  user.set_id(record.id);
  user.set_username(record.username);
  user.set_email(record.email);
  *user.mutable_create_time() = TimestampFromMicros(record.create_time_micros);
}

// `record` as `caller` may see it: the e-mail address only for the account
// itself and privileged callers. TokenRevoked() when it is the caller's own
// account and the caller's token is older than its credentials (the
// password changed since it was issued): a revoked token grants nothing.
absl::Status ToProtoFor(const Caller& caller, const UserRecord& record, v1::User& user) {
  if (caller.is_user(record.id) && caller.credentials_version != record.credentials_version) {
    return TokenRevoked();
  }
  ToProto(record, user);
  if (!MaySeePersonalDataOf(caller, record.id)) user.clear_email();
  return absl::OkStatus();
}

std::string UserResource(int64_t id) { return absl::StrCat("user ", id); }

}  // namespace

UserAccounts::UserAccounts(UserStore& store, PasswordHasher& hasher, WorkerPool& db_workers,
                           const TokenSigner& tokens, Registry* metrics)
    : store_(store),
      hasher_(hasher),
      tokens_(tokens),
      throttle_(metrics),
      reads_(
          db_workers, "user",
          [this](const std::vector<int64_t>& ids, const ReadFrom& from,
                 Clock::time_point deadline) { return store_.GetByIds(ids, from, deadline); },
          kMaxBatch, kBatchesInFlight, BatchSizeHistogram(metrics, "get_user")),
      lookups_(Batcher<Routed<Login>, UserRecord>::OnWorkers(
                   db_workers,
                   [this](const std::vector<Routed<Login>>& logins, Clock::time_point deadline) {
                     return store_.GetByLogins(ItemsOf(logins), Combined(logins), deadline);
                   }),
               kMaxBatch, kBatchesInFlight, BatchSizeHistogram(metrics, "lookup_user")) {}

bool UserAccounts::HashesPassword(const v1::UpdateUserRequest& request) {
  std::vector<FieldViolation> ignored;  // reported by UpdateUser itself
  return ReadUpdateMask(request.update_mask(), ignored).password;
}

// --- CreateUser ---

absl::Status UserAccounts::CreateUser(const v1::CreateUserRequest& request,
                                      Clock::time_point deadline,
                                      v1::CreateUserResponse& response) {
  if (absl::Status valid = ValidateCreateUser(request); !valid.ok()) return valid;

  absl::StatusOr<std::string> hash = hasher_.Hash(request.password(), deadline);
  if (!hash.ok()) return hash.status();
  absl::StatusOr<UserRecord> created =
      store_.Create(request.username(), request.email(), *hash, deadline);
  if (!created.ok()) return created.status();
  ToProto(*created, *response.mutable_user());
  response.set_consistency_token(store_.WriteToken(deadline));
  return absl::OkStatus();
}

// --- GetUser ---

void UserAccounts::GetUser(const v1::GetUserRequest& request, const Caller& caller,
                           Clock::time_point deadline, v1::GetUserResponse& response, Reply done) {
  if (absl::Status valid = ValidateUserId(request.id()); !valid.ok()) {
    return std::move(done)(valid);
  }
  absl::StatusOr<ReadFrom> from = ReadFromToken(request.consistency_token());
  if (!from.ok()) return std::move(done)(from.status());
  reads_.Read(request.id(), *from, deadline,
              CheckThenReply<UserRecord>(std::move(done), [&response, caller](UserRecord user) {
                return ToProtoFor(caller, user, *response.mutable_user());
              }));
}

// --- LookupUser ---

void UserAccounts::LookupUser(const v1::LookupUserRequest& request, const Caller& caller,
                              Clock::time_point deadline, v1::LookupUserResponse& response,
                              Reply done) {
  if (absl::Status valid = ValidateLookupUser(request); !valid.ok()) {
    return std::move(done)(valid);
  }
  absl::StatusOr<ReadFrom> from = ReadFromToken(request.consistency_token());
  if (!from.ok()) return std::move(done)(from.status());
  Login login = request.has_username() ? Login{LoginField::kUsername, request.username()}
                                       : Login{LoginField::kEmail, request.email()};
  lookups_.Add({std::move(login), *from}, deadline,
               CheckThenReply<UserRecord>(std::move(done), [&response, caller](UserRecord user) {
                 return ToProtoFor(caller, user, *response.mutable_user());
               }));
}

// --- ListUsers ---

absl::Status UserAccounts::ListUsers(const v1::ListUsersRequest& request, const Caller& caller,
                                     Clock::time_point deadline, v1::ListUsersResponse& response) {
  absl::StatusOr<ListUsersQuery> query = ParseListUsersRequest(request);
  if (!query.ok()) return query.status();
  absl::StatusOr<ReadFrom> from = ReadFromToken(request.consistency_token());
  if (!from.ok()) return from.status();

  // One row more than the page tells whether another page follows.
  absl::StatusOr<std::vector<UserRecord>> users =
      store_.ListAfter(query->after_id, PageRowLimit(query->page_size), *from, deadline);
  if (!users.ok()) return users.status();
  const bool more = TrimToPage(*users, query->page_size);
  for (const UserRecord& user : *users) {
    if (absl::Status shown = ToProtoFor(caller, user, *response.add_users()); !shown.ok()) {
      return shown;
    }
  }
  if (more) response.set_next_page_token(EncodeListUsersToken(users->back().id));
  return absl::OkStatus();
}

// --- UpdateUser ---

absl::Status UserAccounts::UpdateUser(const v1::UpdateUserRequest& request, const Caller& caller,
                                      Clock::time_point deadline,
                                      v1::UpdateUserResponse& response) {
  absl::StatusOr<UpdatedFields> fields = ValidateUpdateUser(request);
  if (!fields.ok()) return fields.status();
  // Before the hash: a caller who may not change the account costs nothing.
  if (absl::Status allowed = RequireActingFor(caller, request.id(), UserResource(request.id()));
      !allowed.ok()) {
    return allowed;
  }

  UserChanges changes;
  // The caller's own account: only while its token is current (a password
  // changed meanwhile, or the account deleted, revokes it).
  if (!caller.privileged) changes.if_credentials_version = caller.credentials_version;
  if (fields->username) changes.username = request.username();
  if (fields->email) changes.email = request.email();
  if (fields->password) {
    absl::StatusOr<std::string> hash = hasher_.Hash(request.password(), deadline);
    if (!hash.ok()) return hash.status();
    changes.password_hash = std::move(*hash);
  }
  absl::StatusOr<UserRecord> updated = store_.Update(request.id(), changes, deadline);
  if (!updated.ok()) {
    if (absl::IsNotFound(updated.status()) && !caller.privileged) return TokenRevoked();
    return updated.status();
  }
  ToProto(*updated, *response.mutable_user());
  response.set_consistency_token(store_.WriteToken(deadline));
  return absl::OkStatus();
}

// --- DeleteUser ---

absl::Status UserAccounts::DeleteUser(const v1::DeleteUserRequest& request, const Caller& caller,
                                      Clock::time_point deadline,
                                      v1::DeleteUserResponse& response) {
  if (absl::Status valid = ValidateUserId(request.id()); !valid.ok()) return valid;
  if (absl::Status allowed = RequireActingFor(caller, request.id(), UserResource(request.id()));
      !allowed.ok()) {
    return allowed;
  }
  const std::optional<int64_t> if_version =
      caller.privileged ? std::nullopt : std::optional<int64_t>(caller.credentials_version);
  if (absl::Status deleted = store_.Delete(request.id(), if_version, deadline); !deleted.ok()) {
    if (absl::IsNotFound(deleted) && !caller.privileged) return TokenRevoked();
    return deleted;
  }
  response.set_consistency_token(store_.WriteToken(deadline));
  return absl::OkStatus();
}

// --- BatchGetUsers ---

absl::Status UserAccounts::BatchGetUsers(const v1::BatchGetUsersRequest& request,
                                         const Caller& caller, Clock::time_point deadline,
                                         v1::BatchGetUsersResponse& response) {
  if (absl::Status valid = ValidateBatchGetUsers(request); !valid.ok()) return valid;

  // First appearances, in order: the order of the response.
  std::vector<int64_t> ids;
  std::unordered_set<int64_t> seen;
  for (int64_t id : request.ids()) {
    if (seen.insert(id).second) ids.push_back(id);
  }
  // On the primary: post-service's author checks and reconciliation must
  // see an account created or deleted a moment ago.
  absl::StatusOr<std::vector<UserRecord>> found =
      store_.GetByIds(ids, ReadFrom::Primary(), deadline);
  if (!found.ok()) return found.status();
  std::unordered_map<int64_t, const UserRecord*> by_id;
  for (const UserRecord& user : *found) by_id[user.id] = &user;
  for (int64_t id : ids) {
    auto it = by_id.find(id);
    if (it == by_id.end()) continue;
    if (absl::Status shown = ToProtoFor(caller, *it->second, *response.add_users()); !shown.ok()) {
      return shown;
    }
  }
  return absl::OkStatus();
}

// --- VerifyPassword ---

absl::Status UserAccounts::PrecheckVerifyPassword(const v1::VerifyPasswordRequest& request,
                                                  std::string_view source) {
  if (absl::Status valid = ValidateVerifyPassword(request); !valid.ok()) return valid;
  return throttle_.Check(request.login(), source);
}

absl::Status UserAccounts::VerifyPassword(const v1::VerifyPasswordRequest& request,
                                          std::string_view source, Clock::time_point deadline,
                                          v1::VerifyPasswordResponse& response) {
  // Bounds first: nothing is queried or hashed for a login or password no
  // account could have.
  if (absl::Status valid = ValidateVerifyPassword(request); !valid.ok()) return valid;
  // Then the throttle, keyed by the login as typed: an unknown login is
  // throttled exactly like an existing one. Dropped without an outcome
  // (the store or the hasher failed), the attempt does not count.
  absl::StatusOr<LoginThrottle::Attempt> attempt = throttle_.Begin(request.login(), source);
  if (!attempt.ok()) return attempt.status();

  // Usernames cannot hold '@': a login with one is an email.
  const LoginField field =
      request.login().find('@') != std::string::npos ? LoginField::kEmail : LoginField::kUsername;
  absl::StatusOr<UserCredentials> account = store_.GetCredentials(field, request.login(), deadline);
  absl::StatusOr<bool> match = false;
  if (account.ok()) {
    match = hasher_.Verify(account->password_hash, request.password(), deadline);
  } else if (absl::IsNotFound(account.status())) {
    // As slow as a wrong password: timing must not reveal unknown logins.
    match = hasher_.VerifyDummy(request.password(), deadline);
  } else {
    return account.status();
  }
  if (!match.ok()) return match.status();
  if (!*match) {
    attempt->Failed();
    return absl::UnauthenticatedError(kBadCredentials);
  }
  attempt->Succeeded();
  absl::StatusOr<IssuedToken> token =
      tokens_.Issue(account->user.id, account->user.credentials_version, Clock::now());
  if (!token.ok()) return token.status();
  ToProto(account->user, *response.mutable_user());
  response.set_access_token(std::move(token->token));
  *response.mutable_access_token_expire_time() = TimestampFromMicros(
      std::chrono::duration_cast<std::chrono::microseconds>(token->expire_time.time_since_epoch())
          .count());
  return absl::OkStatus();
}

}  // namespace user
}  // namespace microblog
