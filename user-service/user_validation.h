// Input rules of UserService (see proto/microblog/user/v1/user_service.proto),
// checked before any query so that bad input never reaches the database and
// every bad field is reported at once.
//
// One function per request checks the whole request: OK, or INVALID_ARGUMENT
// with one violation per bad field (common/base/status.h).
//
//   if (absl::Status valid = ValidateCreateUser(request); !valid.ok()) return valid;
//
// They are built from per-field checks, each appending the violation of one
// field (if any) to a list:
//
//   std::vector<FieldViolation> bad;
//   AppendUsernameViolations("username", request.username(), bad);
//   AppendEmailViolations("email", request.email(), bad);
//   if (!bad.empty()) return InvalidArgument(bad);
//
// Rules:
//  - username: 1-64 characters (Unicode code points, as PostgreSQL's
//    varchar(64) counts them) that the username profile accepts
//    (common/text/username_profile.h: RFC 8265 UsernameCaseMapped, stricter:
//    letters, digits, '.', '_' and '-' of UTS #39's identifier set, at least
//    one letter or digit, no invisible or format characters, scripts mixed
//    only as UTS #39 "moderately restrictive" allows). "Ærøskøbing", "Жуков",
//    "山田" and a decomposed "e\u0301mile" are valid; "аda" (Cyrillic а) is
//    not.
//  - email: at most 120 characters, local@domain: exactly one '@', a
//    non-empty local part, a domain holding a '.' that neither starts nor
//    ends it and that is a valid IDNA name, and no whitespace, control,
//    format or invisible characters anywhere (common/text/email_address.h).
//    Deliberately looser than RFC 5322: delivery, not syntax, proves an
//    address.
//  - password: 8-1024 bytes (bytes, not characters: the hash input is bytes).
//    Any bytes are allowed.
//
// Thread-safety: all functions may be called concurrently.
#ifndef MICROBLOG_USER_SERVICE_USER_VALIDATION_H_
#define MICROBLOG_USER_SERVICE_USER_VALIDATION_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/page_token.h"
#include "common/base/status.h"
#include "microblog/user/v1/user_service.pb.h"
#include "user-service/feed/user_event_records.h"

namespace microblog {
namespace user {

inline constexpr std::size_t kMaxUsernameChars = 64;
inline constexpr std::size_t kMaxEmailChars = 120;
inline constexpr std::size_t kMinPasswordBytes = 8;
inline constexpr std::size_t kMaxPasswordBytes = 1024;
inline constexpr int kMaxBatchIds = 100;

// Each appends at most one violation, for `field` (the request's field path,
// e.g. "username" or "login"), to `out`.
void AppendUsernameViolations(const std::string& field, std::string_view username,
                              std::vector<FieldViolation>& out);
void AppendEmailViolations(const std::string& field, std::string_view email,
                           std::vector<FieldViolation>& out);
void AppendPasswordViolations(const std::string& field, std::string_view password,
                              std::vector<FieldViolation>& out);

// --- Whole requests, one check per RPC. ---

absl::Status ValidateCreateUser(const microblog::user::v1::CreateUserRequest& request);

// The id of GetUser and DeleteUser: positive.
absl::Status ValidateUserId(int64_t id);

// Exactly one key, a valid username or e-mail address.
absl::Status ValidateLookupUser(const microblog::user::v1::LookupUserRequest& request);

// A ListUsers request after validation.
struct ListUsersQuery {
  int page_size = 0;     // resolved: 1..kMaxPageSize
  int64_t after_id = 0;  // 0: from the first user
};

// page_size not negative (0 -> default, clamped to the maximum); page_token
// empty or issued by EncodeListUsersToken.
absl::StatusOr<ListUsersQuery> ParseListUsersRequest(
    const microblog::user::v1::ListUsersRequest& request);

// The opaque token that resumes a listing after the user `last_id`.
std::string EncodeListUsersToken(int64_t last_id);

// The fields an UpdateUser request changes, as named in its update_mask.
struct UpdatedFields {
  bool username = false;
  bool email = false;
  bool password = false;
};

// The fields `mask` names; a violation for an empty mask and for each
// unknown path is appended to `out`.
UpdatedFields ReadUpdateMask(const google::protobuf::FieldMask& mask,
                             std::vector<FieldViolation>& out);

// A positive id, an update_mask of known fields, and valid values for them.
absl::StatusOr<UpdatedFields> ValidateUpdateUser(
    const microblog::user::v1::UpdateUserRequest& request);

// At most kMaxBatchIds ids, each positive (the first ten bad ones named).
absl::Status ValidateBatchGetUsers(const microblog::user::v1::BatchGetUsersRequest& request);

// Bounds only: a login or password that no account could have.
absl::Status ValidateVerifyPassword(const microblog::user::v1::VerifyPasswordRequest& request);

inline constexpr int kDefaultEventPageSize = 100;
inline constexpr int kMaxEventPageSize = 1000;
inline constexpr std::chrono::seconds kMaxEventWait{30};

// A ListUserEvents request after validation.
struct ListUserEventsQuery {
  int page_size = 0;                  // resolved: 1..kMaxEventPageSize
  std::optional<FeedPosition> after;  // unset: from the oldest kept event
  std::chrono::milliseconds wait{0};  // 0..kMaxEventWait
};

// page_size not negative (0 -> default, clamped to the maximum);
// page_token empty or issued by EncodeUserEventsToken; wait a valid
// non-negative Duration (longer ones lowered to kMaxEventWait).
absl::StatusOr<ListUserEventsQuery> ParseListUserEventsRequest(
    const microblog::user::v1::ListUserEventsRequest& request);

// The opaque token that resumes the feed after `position`.
std::string EncodeUserEventsToken(const FeedPosition& position);

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_USER_VALIDATION_H_
