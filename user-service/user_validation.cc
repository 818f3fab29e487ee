#include "user-service/user_validation.h"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/page_token.h"
#include "common/base/utf8.h"
#include "common/text/email_address.h"
#include "common/text/username_profile.h"

namespace microblog {
namespace user {
namespace {

namespace v1 = ::microblog::user::v1;

// The page token kind: tokens of other listings (e.g. "posts") are refused.
constexpr char kPageTokenKind[] = "users";
// BatchGetUsers names at most this many bad ids: the message and details of
// all 100 would exceed the metadata a gRPC client accepts (8 KiB by
// default), and the caller would get RESOURCE_EXHAUSTED instead.
constexpr std::size_t kMaxReportedBadIds = 10;

void AppendIdViolations(const std::string& field, int64_t id, std::vector<FieldViolation>& out) {
  if (id <= 0) out.push_back({field, absl::StrCat("must be positive, got ", id)});
}

absl::Status InvalidIfAny(const std::vector<FieldViolation>& violations) {
  return violations.empty() ? absl::OkStatus() : InvalidArgument(violations);
}

// Appends the violations `status` carries (from a common helper that builds
// its own InvalidArgument) to `out`.
void AppendViolationsOf(const absl::Status& status, std::vector<FieldViolation>& out) {
  for (FieldViolation& v : FieldViolationsOf(status)) out.push_back(std::move(v));
}

}  // namespace

void AppendUsernameViolations(const std::string& field, std::string_view username,
                              std::vector<FieldViolation>& out) {
  const std::optional<std::size_t> chars = CountCodePoints(username);
  if (!chars.has_value()) {
    out.push_back({field, "must be valid UTF-8"});
  } else if (*chars == 0) {
    out.push_back({field, "must not be empty"});
  } else if (*chars > kMaxUsernameChars) {
    out.push_back(
        {field, absl::StrCat("must be at most ", kMaxUsernameChars, " characters, got ", *chars)});
  } else if (absl::StatusOr<UsernameForms> forms = PrepareUsername(username); !forms.ok()) {
    out.push_back({field, std::string(forms.status().message())});
  }
}

void AppendEmailViolations(const std::string& field, std::string_view email,
                           std::vector<FieldViolation>& out) {
  const std::optional<std::size_t> chars = CountCodePoints(email);
  if (!chars.has_value()) {
    out.push_back({field, "must be valid UTF-8"});
    return;
  }
  if (*chars == 0) {
    out.push_back({field, "must not be empty"});
    return;
  }
  if (*chars > kMaxEmailChars) {
    out.push_back(
        {field, absl::StrCat("must be at most ", kMaxEmailChars, " characters, got ", *chars)});
    return;
  }
  const std::size_t at = email.find('@');
  const std::string_view domain = at == std::string_view::npos ? "" : email.substr(at + 1);
  if (at == 0 || at == std::string_view::npos || domain.find('@') != std::string_view::npos ||
      domain.size() < 3 || domain.find('.') == std::string_view::npos || domain.front() == '.' ||
      domain.back() == '.') {
    out.push_back({field, "must have the form local@domain.tld"});
    return;
  }
  if (absl::StatusOr<std::string> key = EmailComparisonKey(email); !key.ok()) {
    out.push_back({field, std::string(key.status().message())});
  }
}

void AppendPasswordViolations(const std::string& field, std::string_view password,
                              std::vector<FieldViolation>& out) {
  if (password.size() < kMinPasswordBytes || password.size() > kMaxPasswordBytes) {
    out.push_back({field, absl::StrCat("must be ", kMinPasswordBytes, "-", kMaxPasswordBytes,
                                       " bytes long, got ", password.size())});
  }
}

absl::Status ValidateCreateUser(const v1::CreateUserRequest& request) {
  std::vector<FieldViolation> bad;
  AppendUsernameViolations("username", request.username(), bad);
  AppendEmailViolations("email", request.email(), bad);
  AppendPasswordViolations("password", request.password(), bad);
  return InvalidIfAny(bad);
}

absl::Status ValidateUserId(int64_t id) {
  std::vector<FieldViolation> bad;
  AppendIdViolations("id", id, bad);
  return InvalidIfAny(bad);
}

absl::Status ValidateLookupUser(const v1::LookupUserRequest& request) {
  std::vector<FieldViolation> bad;
  switch (request.key_case()) {
    case v1::LookupUserRequest::kUsername:
      AppendUsernameViolations("username", request.username(), bad);
      break;
    case v1::LookupUserRequest::kEmail:
      AppendEmailViolations("email", request.email(), bad);
      break;
    case v1::LookupUserRequest::KEY_NOT_SET:
      bad.push_back({"key", "set exactly one of username or email"});
      break;
  }
  return InvalidIfAny(bad);
}

absl::StatusOr<ListUsersQuery> ParseListUsersRequest(const v1::ListUsersRequest& request) {
  std::vector<FieldViolation> bad;
  ListUsersQuery query;
  absl::StatusOr<int> page_size =
      ResolvePageSize(request.page_size(), kDefaultPageSize, kMaxPageSize);
  if (page_size.ok()) {
    query.page_size = *page_size;
  } else {
    AppendViolationsOf(page_size.status(), bad);
  }
  if (!request.page_token().empty()) {
    absl::StatusOr<std::vector<int64_t>> key =
        DecodePageToken(kPageTokenKind, request.page_token(), 1);
    if (!key.ok()) {
      AppendViolationsOf(key.status(), bad);
    } else if ((*key)[0] <= 0) {
      // Never produced by EncodeListUsersToken (it holds the last id listed).
      bad.push_back({"page_token", "is not a valid page token"});
    } else {
      query.after_id = (*key)[0];
    }
  }
  if (absl::Status invalid = InvalidIfAny(bad); !invalid.ok()) return invalid;
  return query;
}

std::string EncodeListUsersToken(int64_t last_id) {
  return EncodePageToken(kPageTokenKind, {last_id});
}

UpdatedFields ReadUpdateMask(const google::protobuf::FieldMask& mask,
                             std::vector<FieldViolation>& out) {
  UpdatedFields fields;
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
      out.push_back(
          {absl::StrCat("update_mask.paths[", i, "]"),
           absl::StrCat("unknown field \"", path, "\"; allowed: username, email, password")});
    }
  }
  return fields;
}

absl::StatusOr<UpdatedFields> ValidateUpdateUser(const v1::UpdateUserRequest& request) {
  std::vector<FieldViolation> bad;
  AppendIdViolations("id", request.id(), bad);
  const UpdatedFields fields = ReadUpdateMask(request.update_mask(), bad);
  if (fields.username) AppendUsernameViolations("username", request.username(), bad);
  if (fields.email) AppendEmailViolations("email", request.email(), bad);
  if (fields.password) AppendPasswordViolations("password", request.password(), bad);
  if (absl::Status invalid = InvalidIfAny(bad); !invalid.ok()) return invalid;
  return fields;
}

absl::Status ValidateBatchGetUsers(const v1::BatchGetUsersRequest& request) {
  std::vector<FieldViolation> bad;
  if (request.ids_size() > kMaxBatchIds) {
    bad.push_back({"ids", absl::StrCat("must hold at most ", kMaxBatchIds, " ids, got ",
                                       request.ids_size())});
  } else {
    for (int i = 0; i < request.ids_size() && bad.size() < kMaxReportedBadIds; ++i) {
      AppendIdViolations(absl::StrCat("ids[", i, "]"), request.ids(i), bad);
    }
  }
  return InvalidIfAny(bad);
}

absl::Status ValidateVerifyPassword(const v1::VerifyPasswordRequest& request) {
  // A login or password no account could have is refused before any query
  // or hash (a megabyte of password would otherwise cost a hash of a
  // megabyte). Saying so reveals nothing about accounts.
  std::vector<FieldViolation> bad;
  const std::optional<std::size_t> login_chars = CountCodePoints(request.login());
  if (request.login().empty()) {
    bad.push_back({"login", "must not be empty"});
  } else if (!login_chars || *login_chars > std::max(kMaxUsernameChars, kMaxEmailChars)) {
    bad.push_back(
        {"login", absl::StrCat("must be valid UTF-8 of at most ",
                               std::max(kMaxUsernameChars, kMaxEmailChars), " characters")});
  }
  if (request.password().empty()) {
    bad.push_back({"password", "must not be empty"});
  } else if (request.password().size() > kMaxPasswordBytes) {
    bad.push_back({"password", absl::StrCat("must be at most ", kMaxPasswordBytes, " bytes")});
  }
  return InvalidIfAny(bad);
}

namespace {

constexpr char kEventsTokenKind[] = "user-events";

// Appends a violation of `wait` unless it is a valid, non-negative
// google.protobuf.Duration; returns it in milliseconds, capped at
// kMaxEventWait.
std::chrono::milliseconds ReadWait(const google::protobuf::Duration& wait,
                                   std::vector<FieldViolation>& out) {
  const int64_t seconds = wait.seconds();
  const int32_t nanos = wait.nanos();
  if (nanos <= -1000000000 || nanos >= 1000000000 || (seconds > 0 && nanos < 0) ||
      (seconds < 0 && nanos > 0)) {
    out.push_back({"wait", "is not a valid duration (nanos out of range or of the wrong sign)"});
    return std::chrono::milliseconds(0);
  }
  if (seconds < 0 || nanos < 0) {
    out.push_back({"wait", "must not be negative"});
    return std::chrono::milliseconds(0);
  }
  if (seconds >= kMaxEventWait.count()) return kMaxEventWait;
  return std::chrono::seconds(seconds) +
         std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(nanos));
}

}  // namespace

absl::StatusOr<ListUserEventsQuery> ParseListUserEventsRequest(
    const v1::ListUserEventsRequest& request) {
  std::vector<FieldViolation> bad;
  ListUserEventsQuery query;
  absl::StatusOr<int> page_size =
      ResolvePageSize(request.page_size(), kDefaultEventPageSize, kMaxEventPageSize);
  if (page_size.ok()) {
    query.page_size = *page_size;
  } else {
    AppendViolationsOf(page_size.status(), bad);
  }
  if (!request.page_token().empty()) {
    absl::StatusOr<std::vector<int64_t>> key =
        DecodePageToken(kEventsTokenKind, request.page_token(), 2);
    if (!key.ok()) {
      AppendViolationsOf(key.status(), bad);
    } else if ((*key)[0] <= 0 || (*key)[1] <= 0) {
      // Never produced by EncodeUserEventsToken (real xids and ids are
      // positive).
      bad.push_back({"page_token", "is not a valid page token"});
    } else {
      query.after = FeedPosition{(*key)[0], (*key)[1]};
    }
  }
  query.wait = ReadWait(request.wait(), bad);
  if (absl::Status invalid = InvalidIfAny(bad); !invalid.ok()) return invalid;
  return query;
}

std::string EncodeUserEventsToken(const FeedPosition& position) {
  return EncodePageToken(kEventsTokenKind, {position.xid, position.id});
}

}  // namespace user
}  // namespace microblog
