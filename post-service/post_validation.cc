#include "post-service/post_validation.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/page_token.h"
#include "common/base/status.h"
#include "common/base/utf8.h"
#include "common/text/visible_text.h"

namespace microblog {
namespace post {
namespace {

// The page token kind: tokens of other listings (e.g. "users") are refused.
constexpr char kTokenKind[] = "posts";

// Bound of the create time a token may carry: the store rebuilds the
// timestamp through a float8 multiplication, exact below 2^53 microseconds
// (years 1685 to 2255).
constexpr int64_t kMaxTokenMicros = int64_t{1} << 53;

// Appends the violations carried by `status` (from a common helper that
// builds its own InvalidArgument) to `violations`; falls back to one on
// `field` with the status message, so that no error is ever dropped.
void AppendViolations(const absl::Status& status, const char* field,
                      std::vector<FieldViolation>& violations) {
  std::vector<FieldViolation> carried = FieldViolationsOf(status);
  if (carried.empty()) carried.push_back({field, std::string(status.message())});
  for (FieldViolation& v : carried) violations.push_back(std::move(v));
}

}  // namespace

absl::Status ValidateCreatePost(const microblog::post::v1::CreatePostRequest& request) {
  std::vector<FieldViolation> violations;
  if (request.user_id() <= 0) {
    violations.push_back({"user_id", "must be a positive user id"});
  }
  const std::optional<std::size_t> body_chars = CountCodePoints(request.body());
  if (!body_chars.has_value()) {
    violations.push_back({"body", "must be valid UTF-8"});
  } else if (*body_chars == 0) {
    violations.push_back({"body", "must not be empty"});
  } else if (*body_chars > kMaxBodyChars) {
    violations.push_back({"body", absl::StrCat("must be at most ", kMaxBodyChars,
                                               " characters, got ", *body_chars)});
  } else if (!HasVisibleCharacter(request.body())) {
    violations.push_back({"body",
                          "must hold a visible character (not only spaces, invisible or format "
                          "characters)"});
  }
  const std::optional<std::size_t> request_id_chars = CountCodePoints(request.request_id());
  if (!request_id_chars.has_value()) {
    violations.push_back({"request_id", "must be valid UTF-8"});
  } else if (*request_id_chars > kMaxRequestIdChars) {
    violations.push_back({"request_id", absl::StrCat("must be at most ", kMaxRequestIdChars,
                                                     " characters, got ", *request_id_chars)});
  }
  if (!violations.empty()) return InvalidArgument(violations);
  return absl::OkStatus();
}

absl::Status ValidatePostId(int64_t id) {
  if (id <= 0) return InvalidArgument({{"id", "must be a positive post id"}});
  return absl::OkStatus();
}

absl::StatusOr<ListPostsQuery> ParseListPostsRequest(
    const microblog::post::v1::ListPostsRequest& request) {
  std::vector<FieldViolation> violations;
  ListPostsQuery query;
  if (request.user_id() < 0) {
    violations.push_back({"user_id", "must not be negative (0 lists everyone's posts)"});
  }
  query.user_id = request.user_id();

  absl::StatusOr<int> page_size =
      ResolvePageSize(request.page_size(), kDefaultPageSize, kMaxPageSize);
  if (page_size.ok()) {
    query.page_size = *page_size;
  } else {
    AppendViolations(page_size.status(), "page_size", violations);
  }

  if (!request.page_token().empty()) {
    absl::StatusOr<std::vector<int64_t>> key = DecodePageToken(kTokenKind, request.page_token(), 3);
    if (!key.ok()) {
      AppendViolations(key.status(), "page_token", violations);
    } else if ((*key)[1] <= -kMaxTokenMicros || (*key)[1] >= kMaxTokenMicros || (*key)[2] <= 0) {
      // Never produced by EncodeListPostsToken; refused here rather than
      // failing (or overflowing) in the database.
      violations.push_back({"page_token", "is not a valid page token"});
    } else if ((*key)[0] != request.user_id()) {
      // A token walks one listing; resuming another from its key would skip
      // or repeat posts silently.
      violations.push_back({"page_token", "was issued for another user_id"});
    } else {
      query.after = PageKey{(*key)[1], (*key)[2]};
    }
  }
  if (!violations.empty()) return InvalidArgument(violations);
  return query;
}

std::string EncodeListPostsToken(int64_t user_id, const PageKey& key) {
  return EncodePageToken(kTokenKind, {user_id, key.create_micros, key.id});
}

}  // namespace post
}  // namespace microblog
