// What post-service does, apart from gRPC: the logic of every RPC of
// microblog.post.v1.PostService in absl::Status terms. Each method
// validates its request completely before any query or outgoing call (all
// bad fields reported at once, as google.rpc.BadRequest, post_validation.h),
// then works through an AuthorChecker (user-service) and a PostStore. The
// status codes of each RPC are the contract written in
// proto/microblog/post/v1/post_service.proto; the gRPC edge
// (post_service.h) maps them with ToGrpcStatus().
//
//   PostgresPostStore store(pool);
//   std::unique_ptr<GrpcAuthorChecker> authors = GrpcAuthorChecker::Create(channel, timeout);
//   WorkerPool db_workers("db-worker", pool_size);
//   Posts posts(store, *authors, db_workers, revoked_tokens);
//   posts.GetPost(request, deadline, response, [](absl::Status status) { ... });
//
// Who may do what (common/base/caller.h): CreatePost for user U needs U's
// access token (or a privileged caller), DeletePost the post's author's;
// else UNAUTHENTICATED without a token, PERMISSION_DENIED with another
// user's, checked after validation and before anything is asked or
// stored. A token revoked since it was issued is UNAUTHENTICATED "access
// token revoked": its password changed (`revoked`, revoked_tokens.h), or
// its user is gone (user-service's answer to the author check, or the
// user's tombstone). Reads are open to anyone.
//
// The hot operations are batched (common/exec/batcher.h): the calls that arrive
// while earlier batches are running share the next one. A CreatePost goes:
//  1. ValidateCreatePost;
//  2. AuthorChecker::CheckAuthor (itself batched into BatchGetUsers calls);
//  3. `inserts_`: the posts whose authors were confirmed while the previous
//     insert batch was being stored go in one transaction (one commit,
//     PostStore::InsertMany);
//  4. `done`, only after its batch committed.
// GetPost calls share one GetByIds query, and the first pages of ListPosts
// for one user (the timeline's opening, the hottest read) share one
// ListFirstPages query. Other pages, and DeletePost, are single queries.
// A page is read one row longer than it is, to tell whether another
// follows (PageRowLimit, common/base/page_token.h): the store only reads
// rows.
// Blocking store work runs on `db_workers`, so that no gRPC thread waits
// for PostgreSQL; at most kBatchesInFlight batches of each kind run at once
// (common/exec/batcher.h).
//
// Where each RPC reads (common/base/read_from.h): GetPost and ListPosts on a
// read replica when one is usable and has replayed the request's
// consistency_token, else on the primary (a batch: where all its requests
// may be read). CreatePost and DeletePost write the primary and answer the
// consistency token of PostStore::WriteToken(), one per insert batch.
//
// Thread-safety: all methods may run concurrently. Not copyable. The
// destructor waits for the batches in flight.
#ifndef MICROBLOG_POST_SERVICE_POSTS_H_
#define MICROBLOG_POST_SERVICE_POSTS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/base/caller.h"
#include "common/base/clock.h"
#include "common/base/read_from.h"
#include "common/base/trace_context.h"
#include "common/exec/batched_reads.h"
#include "common/exec/batcher.h"
#include "common/exec/reply.h"
#include "common/exec/worker_pool.h"
#include "microblog/post/v1/post_service.pb.h"
#include "post-service/author_checker.h"
#include "post-service/post_records.h"
#include "post-service/post_store.h"
#include "post-service/revoked_tokens.h"

namespace microblog {
namespace post {

class Posts {
 public:
  // Everything is borrowed and must outlive the object. `db_workers`
  // should have one thread per connection of the store's pool.
  // `metrics`, if not null, gets the batch sizes of its loaders
  // (microblog_batch_size) and must outlive this object.
  Posts(PostStore& store, AuthorChecker& authors, WorkerPool& db_workers,
        const RevokedTokens& revoked, Registry* metrics = nullptr);

  Posts(const Posts&) = delete;
  Posts& operator=(const Posts&) = delete;

  // Each method fills `response` and then calls `done` exactly once: on
  // this thread when the request is invalid, on a worker (or gRPC) thread
  // otherwise. `request` and `response` must stay valid until then.

  // Stores a post once user-service confirmed its author (`trace` goes with
  // that question).
  void CreatePost(const microblog::post::v1::CreatePostRequest& request, const Caller& caller,
                  Clock::time_point deadline, const TraceContext& trace,
                  microblog::post::v1::CreatePostResponse& response, Reply done);
  void GetPost(const microblog::post::v1::GetPostRequest& request, Clock::time_point deadline,
               microblog::post::v1::GetPostResponse& response, Reply done);
  void ListPosts(const microblog::post::v1::ListPostsRequest& request, Clock::time_point deadline,
                 microblog::post::v1::ListPostsResponse& response, Reply done);

  // Blocks until the post is deleted (run it on a WorkerPool).
  absl::Status DeletePost(const microblog::post::v1::DeletePostRequest& request,
                          const Caller& caller, Clock::time_point deadline,
                          microblog::post::v1::DeletePostResponse& response);

 private:
  // The batches, named for what they do to the store.
  // A post an insert batch stored, with the batch's consistency token.
  struct StoredPost {
    PostRecord post;
    std::string consistency_token;
  };
  std::vector<absl::StatusOr<StoredPost>> InsertBatch(const std::vector<NewPost>& posts,
                                                      Clock::time_point deadline);
  std::vector<absl::StatusOr<std::vector<PostRecord>>> ListFirstPagesBatch(
      const std::vector<Routed<FirstPageKey>>& keys, Clock::time_point deadline);

  // OK when `caller` may change `what`, user `user_id`'s, with a token not
  // revoked.
  absl::Status MayActFor(const Caller& caller, int64_t user_id, std::string_view what) const;

  PostStore& store_;
  AuthorChecker& authors_;
  const RevokedTokens& revoked_;
  WorkerPool& db_workers_;
  // Last, so that their destructors wait for the batches in flight while
  // everything those use is still alive.
  Batcher<NewPost, StoredPost> inserts_;                                // InsertBatch
  BatchedReadsById<PostRecord> reads_;                                  // PostStore::GetByIds
  Batcher<Routed<FirstPageKey>, std::vector<PostRecord>> first_pages_;  // ListFirstPagesBatch
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_POSTS_H_
