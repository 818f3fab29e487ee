// Request checks of PostService, done before any query or outgoing call.
//
// Each function returns OK or INVALID_ARGUMENT carrying a google.rpc.BadRequest
// with one field violation per bad field (common/base/status.h), so that a client
// learns about every problem of a request at once.
//
//   absl::Status valid = ValidateCreatePost(request);
//   if (!valid.ok()) return ToGrpcStatus(valid);
//
// Thread-safety: free functions without shared state.
#ifndef MICROBLOG_POST_SERVICE_POST_VALIDATION_H_
#define MICROBLOG_POST_SERVICE_POST_VALIDATION_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/page_token.h"
#include "microblog/post/v1/post_service.pb.h"
#include "post-service/post_records.h"

namespace microblog {
namespace post {

// Limits of the API contract (post_service.proto); the page sizes are both
// services' (common/base/page_token.h).
inline constexpr std::size_t kMaxBodyChars = 140;      // code points
inline constexpr std::size_t kMaxRequestIdChars = 64;  // code points

// user_id > 0; body 1-140 code points of valid UTF-8, with a visible character
// (common/text/visible_text.h); request_id at most 64 code points.
absl::Status ValidateCreatePost(const microblog::post::v1::CreatePostRequest& request);

// A post id (GetPost, DeletePost, field `id`) must be positive.
absl::Status ValidatePostId(int64_t id);

// Validates and resolves a ListPosts request: user_id not negative,
// page_size not negative (0 -> default, clamped to the maximum), page_token
// empty or issued by EncodeListPostsToken for the same user_id.
absl::StatusOr<ListPostsQuery> ParseListPostsRequest(
    const microblog::post::v1::ListPostsRequest& request);

// The opaque token that resumes a listing of `user_id`'s posts (0: all) after
// `key`.
std::string EncodeListPostsToken(int64_t user_id, const PageKey& key);

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_POST_VALIDATION_H_
