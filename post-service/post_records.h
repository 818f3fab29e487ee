// The values post-service's layers hand each other: a stored post as the
// store reads it, a post to store, and what a listing asks for, reads and
// gets.
// Plain structs without behaviour: the logic (posts.h) turns them into and
// from protos, the store (post_store.h) into and from rows.
#ifndef MICROBLOG_POST_SERVICE_POST_RECORDS_H_
#define MICROBLOG_POST_SERVICE_POST_RECORDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace microblog {
namespace post {

// One row of `posts`.
struct PostRecord {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string body;
  int64_t create_micros = 0;  // created_at, microseconds since the Unix epoch
};

// A post to store.
struct NewPost {
  int64_t user_id = 0;
  std::string body;
  std::string request_id;  // idempotency key; empty: none
};

// Where a listing resumes: the sort key of the last post already returned.
struct PageKey {
  int64_t create_micros = 0;
  int64_t id = 0;
};

// A validated ListPosts request.
struct ListPostsQuery {
  int64_t user_id = 0;           // 0: everyone's posts
  int page_size = 0;             // 1..kMaxPageSize (common/base/page_token.h)
  std::optional<PageKey> after;  // unset for the first page
};

// What a listing reads of the store: up to `limit` posts, newest first, of
// `user_id` (0: everyone) strictly after `after` (unset: from the newest).
// The logic reads one row more than the page (PageRowLimit,
// common/base/page_token.h).
struct PostRange {
  int64_t user_id = 0;
  std::optional<PageKey> after;
  int limit = 0;
};

// A user's newest posts, up to `limit`: a timeline's first page (one row
// longer, as PostRange), the hottest ListPosts call, batched.
struct FirstPageKey {
  int64_t user_id = 0;
  int limit = 0;
};

// One page of a listing, as the logic cut it from the rows it read.
struct PostPage {
  std::vector<PostRecord> posts;  // newest first
  std::optional<PageKey> next;    // set when more posts follow
};

// What PostStore::Delete did with a post that exists.
enum class DeleteOutcome {
  kDeleted,
  kOtherOwner,    // not the given owner's: kept
  kOwnerRemoved,  // the given owner has a tombstone (deleted user): kept
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_POST_RECORDS_H_
