// The gRPC handlers of microblog.post.v1.PostService, on gRPC's callback
// API: handlers return at once and the work finishes the call from our own
// threads (common/unary_call.h).
//
// Each handler validates its request (post_validation.h) before any query or
// outgoing call, works within the caller's deadline capped at max_deadline,
// and maps errors with ToGrpcStatus (common/status.h). Where the work runs:
//  - GetPost: a batch loader, one query for the GetPost calls that arrive
//    together (common/batch_loader.h);
//  - CreatePost: the author check first (AuthorChecker, itself batched),
//    then the insert, batched too: the posts whose authors were confirmed
//    while the previous batch was being stored go in one transaction (one
//    commit for all, PostStore::CreateMany). Nothing is stored unless
//    user-service confirmed the author, and no call is answered before its
//    post is committed;
//  - ListPosts: the first page of one user's posts (a timeline opening,
//    the hottest read) through a batch loader, one query for all the users
//    asked together; other pages, and everyone's posts, on `db_workers`;
//  - DeletePost: `db_workers`.
//
//   ConnectionPool pool(...);
//   PostStore store(pool);
//   WorkerPool db_workers("db-worker", settings.db_pool_size);
//   std::unique_ptr<GrpcUserDirectory> users = ...;
//   PostServiceImpl service(store, *users, db_workers, settings.max_deadline);
//   RunServer(settings, "post-service", {{&service, ...}}, ...);
//
// Thread-safety: handlers run concurrently on gRPC's threads.
#ifndef MICROBLOG_POST_SERVICE_POST_SERVICE_H_
#define MICROBLOG_POST_SERVICE_POST_SERVICE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include "common/batch_loader.h"
#include "common/worker_pool.h"
#include "microblog/post/v1/post_service.grpc.pb.h"
#include "post-service/post_store.h"
#include "post-service/user_directory.h"

namespace microblog {
namespace post {

class PostServiceImpl final : public microblog::post::v1::PostService::CallbackService {
 public:
  // `store`, `authors` and `db_workers` are borrowed and must outlive the
  // service. `loader_threads` batches of each kind (GetPost, first pages
  // of ListPosts, CreatePost) may run at once, each on a connection of the
  // store's pool.
  PostServiceImpl(PostStore& store, AuthorChecker& authors, WorkerPool& db_workers,
                  std::chrono::milliseconds max_deadline, std::size_t loader_threads = 2);
  PostServiceImpl(const PostServiceImpl&) = delete;
  PostServiceImpl& operator=(const PostServiceImpl&) = delete;

  grpc::ServerUnaryReactor* CreatePost(grpc::CallbackServerContext* context,
                                       const microblog::post::v1::CreatePostRequest* request,
                                       microblog::post::v1::CreatePostResponse* response) override;
  grpc::ServerUnaryReactor* GetPost(grpc::CallbackServerContext* context,
                                    const microblog::post::v1::GetPostRequest* request,
                                    microblog::post::v1::GetPostResponse* response) override;
  grpc::ServerUnaryReactor* ListPosts(grpc::CallbackServerContext* context,
                                      const microblog::post::v1::ListPostsRequest* request,
                                      microblog::post::v1::ListPostsResponse* response) override;
  grpc::ServerUnaryReactor* DeletePost(grpc::CallbackServerContext* context,
                                       const microblog::post::v1::DeletePostRequest* request,
                                       microblog::post::v1::DeletePostResponse* response) override;

 private:
  // Fills `response` with `page` of `query`'s results.
  static void FillListResponse(const ListPostsQuery& query, PostPage page,
                               microblog::post::v1::ListPostsResponse& response);

  PostStore& store_;
  AuthorChecker& authors_;
  WorkerPool& db_workers_;
  const std::chrono::milliseconds max_deadline_;
  BatchLoader<int64_t, microblog::post::v1::Post> posts_by_id_;
  BatchLoader<FirstPageKey, PostPage, FirstPageKeyHash> first_pages_;
  // Keyed by the request itself: two equal requests are two posts.
  BatchLoader<const microblog::post::v1::CreatePostRequest*, microblog::post::v1::Post> inserts_;
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_POST_SERVICE_H_
