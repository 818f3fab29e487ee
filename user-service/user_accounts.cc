#include "user-service/user_accounts.h"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/page_token.h"
#include "common/proto_time.h"
#include "common/status.h"
#include "common/utf8.h"
#include "user-service/user_validation.h"

namespace microblog {
namespace user {
namespace {

namespace v1 = ::microblog::user::v1;

constexpr int kDefaultPageSize = 20;
constexpr int kMaxPageSize = 100;
constexpr int kMaxBatchIds = 100;
// GetUser batches running at once, each on a connection of the pool.
constexpr std::size_t kBatchesInFlight = 2;
// BatchGetUsers names at most this many bad ids: the message and details of
// all 100 would exceed the metadata a gRPC client accepts (8 KiB by
// default), and the caller would get RESOURCE_EXHAUSTED instead.
constexpr std::size_t kMaxReportedBadIds = 10;
constexpr char kPageTokenKind[] = "users";

// One message for unknown logins and wrong passwords alike, so that callers
// cannot probe which accounts exist.
constexpr char kBadCredentials[] = "login or password is incorrect";

void ToProto(const UserRecord& record, v1::User& user) {
  user.set_id(record.id);
  user.set_username(record.username);
  user.set_email(record.email);
  *user.mutable_create_time() = TimestampFromMicros(record.create_time_micros);
}

void AppendIdViolations(const std::string& field, int64_t id, std::vector<FieldViolation>& out) {
  if (id <= 0) out.push_back({field, absl::StrCat("must be positive, got ", id)});
}

absl::Status InvalidIfAny(const std::vector<FieldViolation>& violations) {
  return violations.empty() ? absl::OkStatus() : InvalidArgument(violations);
}

// The fields UpdateUser may change, as named in its update_mask.
struct MaskedFields {
  bool username = false;
  bool email = false;
  bool password = false;
};

MaskedFields ReadUpdateMask(const google::protobuf::FieldMask& mask,
                            std::vector<FieldViolation>& out) {
  MaskedFields fields;
  if (mask.paths().empty()) {
    out.push_back({"update_mask", "must name at least one of username, email, password"});
  }
  for (int i = 0; i < mask.paths_size(); ++i) {
    const std::string& path = mask.paths(i);
    if (path == "username") {
      fields.username = true;
    } else if (path == "email") {
      fields.email = true;
    } else if (path == "password") {
      fields.password = true;
    } else {
      out.push_back({absl::StrCat("update_mask.paths[", i, "]"),
                     absl::StrCat("unknown field \"", path,
                                  "\"; allowed: username, email, password")});
    }
  }
  return fields;
}

}  // namespace

UserAccounts::UserAccounts(UserStore& store, PasswordHasher& hasher, WorkerPool& db_workers)
    : store_(store),
      hasher_(hasher),
      reads_(Batcher<int64_t, UserRecord>::OnWorkers(
                 db_workers,
                 [this](const std::vector<int64_t>& ids, Clock::time_point deadline) {
                   return GetBatch(ids, deadline);
                 }),
             kMaxBatchIds, kBatchesInFlight) {}

bool UserAccounts::HashesPassword(const v1::UpdateUserRequest& request) {
  std::vector<FieldViolation> ignored;  // reported by UpdateUser itself
  return ReadUpdateMask(request.update_mask(), ignored).password;
}

// --- CreateUser ---

absl::Status UserAccounts::CreateUser(const v1::CreateUserRequest& request,
                                      Clock::time_point deadline,
                                      v1::CreateUserResponse& response) {
  std::vector<FieldViolation> bad;
  AppendUsernameViolations("username", request.username(), bad);
  AppendEmailViolations("email", request.email(), bad);
  AppendPasswordViolations("password", request.password(), bad);
  if (absl::Status invalid = InvalidIfAny(bad); !invalid.ok()) return invalid;

  absl::StatusOr<std::string> hash = hasher_.Hash(request.password(), deadline);
  if (!hash.ok()) return hash.status();
  absl::StatusOr<UserRecord> created =
      store_.Create(request.username(), request.email(), *hash, deadline);
  if (!created.ok()) return created.status();
  ToProto(*created, *response.mutable_user());
  return absl::OkStatus();
}

// --- GetUser ---

void UserAccounts::GetUser(const v1::GetUserRequest& request, Clock::time_point deadline,
                           v1::GetUserResponse& response, Reply done) {
  std::vector<FieldViolation> bad;
  AppendIdViolations("id", request.id(), bad);
  if (!bad.empty()) return std::move(done)(InvalidArgument(bad));
  reads_.Add(request.id(), deadline,
             FillThenReply<UserRecord>(std::move(done), [&response](UserRecord user) {
               ToProto(user, *response.mutable_user());
             }));
}

std::vector<absl::StatusOr<UserRecord>> UserAccounts::GetBatch(const std::vector<int64_t>& ids,
                                                               Clock::time_point deadline) {
  return InKeyOrder(
      ids, store_.GetByIds(ids, deadline), [](const UserRecord& user) { return user.id; },
      [](int64_t id) { return NotFoundResource("user", id); });
}

// --- LookupUser ---

absl::Status UserAccounts::LookupUser(const v1::LookupUserRequest& request,
                                      Clock::time_point deadline,
                                      v1::LookupUserResponse& response) {
  std::vector<FieldViolation> bad;
  absl::StatusOr<UserRecord> user = absl::InternalError("no lookup ran");
  switch (request.key_case()) {
    case v1::LookupUserRequest::kUsername:
      AppendUsernameViolations("username", request.username(), bad);
      if (!bad.empty()) return InvalidArgument(bad);
      user = store_.GetByUsername(request.username(), deadline);
      break;
    case v1::LookupUserRequest::kEmail:
      AppendEmailViolations("email", request.email(), bad);
      if (!bad.empty()) return InvalidArgument(bad);
      user = store_.GetByEmail(request.email(), deadline);
      break;
    case v1::LookupUserRequest::KEY_NOT_SET:
      return InvalidArgument({{"key", "set exactly one of username or email"}});
  }
  if (!user.ok()) return user.status();
  ToProto(*user, *response.mutable_user());
  return absl::OkStatus();
}

// --- ListUsers ---

absl::Status UserAccounts::ListUsers(const v1::ListUsersRequest& request,
                                     Clock::time_point deadline,
                                     v1::ListUsersResponse& response) {
  std::vector<FieldViolation> bad;
  absl::StatusOr<int> page_size =
      ResolvePageSize(request.page_size(), kDefaultPageSize, kMaxPageSize);
  if (!page_size.ok()) {
    for (FieldViolation& v : FieldViolationsOf(page_size.status())) bad.push_back(std::move(v));
  }
  int64_t after_id = 0;
  if (!request.page_token().empty()) {
    absl::StatusOr<std::vector<int64_t>> key =
        DecodePageToken(kPageTokenKind, request.page_token(), 1);
    if (key.ok()) {
      after_id = (*key)[0];
    } else {
      for (FieldViolation& v : FieldViolationsOf(key.status())) bad.push_back(std::move(v));
    }
  }
  if (absl::Status invalid = InvalidIfAny(bad); !invalid.ok()) return invalid;

  // One row more than the page tells whether another page follows.
  absl::StatusOr<std::vector<UserRecord>> users =
      store_.ListAfter(after_id, *page_size + 1, deadline);
  if (!users.ok()) return users.status();
  const bool more = static_cast<int>(users->size()) > *page_size;
  if (more) users->resize(*page_size);
  for (const UserRecord& user : *users) ToProto(user, *response.add_users());
  if (more) response.set_next_page_token(EncodePageToken(kPageTokenKind, {users->back().id}));
  return absl::OkStatus();
}

// --- UpdateUser ---

absl::Status UserAccounts::UpdateUser(const v1::UpdateUserRequest& request,
                                      Clock::time_point deadline,
                                      v1::UpdateUserResponse& response) {
  std::vector<FieldViolation> bad;
  AppendIdViolations("id", request.id(), bad);
  const MaskedFields fields = ReadUpdateMask(request.update_mask(), bad);
  if (fields.username) AppendUsernameViolations("username", request.username(), bad);
  if (fields.email) AppendEmailViolations("email", request.email(), bad);
  if (fields.password) AppendPasswordViolations("password", request.password(), bad);
  if (absl::Status invalid = InvalidIfAny(bad); !invalid.ok()) return invalid;

  UserChanges changes;
  if (fields.username) changes.username = request.username();
  if (fields.email) changes.email = request.email();
  if (fields.password) {
    absl::StatusOr<std::string> hash = hasher_.Hash(request.password(), deadline);
    if (!hash.ok()) return hash.status();
    changes.password_hash = std::move(*hash);
  }
  absl::StatusOr<UserRecord> updated = store_.Update(request.id(), changes, deadline);
  if (!updated.ok()) return updated.status();
  ToProto(*updated, *response.mutable_user());
  return absl::OkStatus();
}

// --- DeleteUser ---

absl::Status UserAccounts::DeleteUser(const v1::DeleteUserRequest& request,
                                      Clock::time_point deadline) {
  std::vector<FieldViolation> bad;
  AppendIdViolations("id", request.id(), bad);
  if (!bad.empty()) return InvalidArgument(bad);
  return store_.Delete(request.id(), deadline);
}

// --- BatchGetUsers ---

absl::Status UserAccounts::BatchGetUsers(const v1::BatchGetUsersRequest& request,
                                         Clock::time_point deadline,
                                         v1::BatchGetUsersResponse& response) {
  std::vector<FieldViolation> bad;
  if (request.ids_size() > kMaxBatchIds) {
    bad.push_back({"ids", absl::StrCat("must hold at most ", kMaxBatchIds, " ids, got ",
                                       request.ids_size())});
  } else {
    for (int i = 0; i < request.ids_size() && bad.size() < kMaxReportedBadIds; ++i) {
      AppendIdViolations(absl::StrCat("ids[", i, "]"), request.ids(i), bad);
    }
  }
  if (absl::Status invalid = InvalidIfAny(bad); !invalid.ok()) return invalid;

  // First appearances, in order: the order of the response.
  std::vector<int64_t> ids;
  std::unordered_set<int64_t> seen;
  for (int64_t id : request.ids()) {
    if (seen.insert(id).second) ids.push_back(id);
  }
  absl::StatusOr<std::vector<UserRecord>> found = store_.GetByIds(ids, deadline);
  if (!found.ok()) return found.status();
  std::unordered_map<int64_t, const UserRecord*> by_id;
  for (const UserRecord& user : *found) by_id[user.id] = &user;
  for (int64_t id : ids) {
    auto it = by_id.find(id);
    if (it != by_id.end()) ToProto(*it->second, *response.add_users());
  }
  return absl::OkStatus();
}

// --- VerifyPassword ---

absl::Status UserAccounts::VerifyPassword(const v1::VerifyPasswordRequest& request,
                                          Clock::time_point deadline,
                                          v1::VerifyPasswordResponse& response) {
  // Bounds only: a login or password no account could have is refused
  // before any query or hash (a megabyte of password would otherwise cost
  // a hash of a megabyte). Saying so reveals nothing about accounts.
  std::vector<FieldViolation> bad;
  const std::optional<std::size_t> login_chars = CountCodePoints(request.login());
  if (request.login().empty()) {
    bad.push_back({"login", "must not be empty"});
  } else if (!login_chars || *login_chars > std::max(kMaxUsernameChars, kMaxEmailChars)) {
    bad.push_back({"login", absl::StrCat("must be valid UTF-8 of at most ",
                                         std::max(kMaxUsernameChars, kMaxEmailChars),
                                         " characters")});
  }
  if (request.password().empty()) {
    bad.push_back({"password", "must not be empty"});
  } else if (request.password().size() > kMaxPasswordBytes) {
    bad.push_back({"password", absl::StrCat("must be at most ", kMaxPasswordBytes, " bytes")});
  }
  if (absl::Status invalid = InvalidIfAny(bad); !invalid.ok()) return invalid;

  // Usernames cannot hold '@': a login with one is an email.
  const LoginField field = request.login().find('@') != std::string::npos ? LoginField::kEmail
                                                                          : LoginField::kUsername;
  absl::StatusOr<UserCredentials> account =
      store_.GetCredentials(field, request.login(), deadline);
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
  if (!*match) return absl::UnauthenticatedError(kBadCredentials);
  ToProto(account->user, *response.mutable_user());
  return absl::OkStatus();
}

}  // namespace user
}  // namespace microblog
