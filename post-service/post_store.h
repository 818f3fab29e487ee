// Storage of posts: the `posts` table of post-service's PostgreSQL database
// (migrations/post/).
//
// PostStore is the interface the service logic (posts.h) depends on, so that
// the logic can be unit-tested with a fake and compiles without libpqxx;
// PostgresPostStore (postgres_post_store.h) is the real one. The records are
// in post_records.h.
//
// Reads taking a ReadFrom run where it allows (common/base/read_from.h); writes
// run on the primary.
//
// The store trusts its arguments: the logic validates requests and checks
// authors with user-service first. Errors of every method, besides those it
// lists: UNAVAILABLE (database unreachable), DEADLINE_EXCEEDED, INTERNAL
// (anything unexpected; the message may hold SQL details and must not reach
// clients as is).
//
// Thread-safety: implementations must be thread-safe.
#ifndef MICROBLOG_POST_SERVICE_POST_STORE_H_
#define MICROBLOG_POST_SERVICE_POST_STORE_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "common/base/read_from.h"
#include "post-service/post_records.h"

namespace microblog {
namespace post {

class PostStore {
 public:
  virtual ~PostStore() = default;

  // Stores `posts` in one statement (one round trip, one commit for all),
  // one result per post in the same order; created_at is the database
  // server's clock.
  // With a non-empty request_id, concurrent and repeated inserts store one
  // post only (the unique index on request_id decides, not a prior read):
  // a post whose request_id is taken gets the stored post when user_id and
  // body match, and ALREADY_EXISTS (naming request_id) when they do not.
  // A post whose author was removed (user_tombstones: the user was
  // deleted) is NOT_FOUND (with a google.rpc.ResourceInfo naming the user),
  // decided inside the transaction under the author's lock, so that no post
  // outlives its author whatever the interleaving (cascade/author_locks.h).
  // An error of the transaction (database down, commit lost) is every
  // post's, and then none is stored.
  virtual std::vector<absl::StatusOr<PostRecord>> InsertMany(const std::vector<NewPost>& posts,
                                                             Clock::time_point deadline) = 0;

  // The posts among `ids` (which may repeat), each once, in no particular
  // order; unknown ids are skipped.
  virtual absl::StatusOr<std::vector<PostRecord>> GetByIds(const std::vector<int64_t>& ids,
                                                           const ReadFrom& from,
                                                           Clock::time_point deadline) = 0;

  // Up to `range.limit` posts, newest first (created_at, then id,
  // descending), of `range.user_id` (0: everyone) strictly after
  // `range.after`.
  virtual absl::StatusOr<std::vector<PostRecord>> List(const PostRange& range, const ReadFrom& from,
                                                       Clock::time_point deadline) = 0;

  // The newest posts of several users, one result per key (keys may
  // repeat), in order, each what List() answers for {user_id, no `after`,
  // limit}.
  virtual absl::StatusOr<std::vector<std::vector<PostRecord>>> ListFirstPages(
      const std::vector<FirstPageKey>& keys, const ReadFrom& from, Clock::time_point deadline) = 0;

  // Deletes post `id`, with `owner` only if it is `owner`'s and `owner` has
  // no tombstone (a deleted user acts no more); says which, or NOT_FOUND
  // (with a google.rpc.ResourceInfo) when there is no such post.
  virtual absl::StatusOr<DeleteOutcome> Delete(int64_t id, std::optional<int64_t> owner,
                                               Clock::time_point deadline) = 0;

  // The consistency token of the writes that returned so far (a write RPC
  // answers it): "" when every read is on the primary anyway (this
  // default). Never fails (see ReadRouter::WriteToken).
  virtual std::string WriteToken(Clock::time_point /*deadline*/) { return ""; }
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_POST_STORE_H_
