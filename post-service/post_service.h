// The gRPC face of post-service: microblog.post.v1.PostService on gRPC's
// callback API. Handlers return at once; the work runs elsewhere and
// finishes the call (common/rpc/unary_call.h):
//  - CreatePost, GetPost, ListPosts: Posts answers through a callback, from
//    its batches (posts.h);
//  - DeletePost: on `db_workers`.
// What each RPC does is Posts' business (posts.h).
//
//   Posts posts(store, *authors, db_workers);
//   PostServiceImpl service(posts, db_workers, settings.max_deadline);
//   RunServer(settings, "post-service", {{&service, ...}}, ...);
//
// Thread-safety: handlers run concurrently; the class holds no mutable state
// of its own.
#ifndef MICROBLOG_POST_SERVICE_POST_SERVICE_H_
#define MICROBLOG_POST_SERVICE_POST_SERVICE_H_

#include <chrono>

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include "common/exec/worker_pool.h"
#include "common/rpc/call_forwarder.h"
#include "microblog/post/v1/post_service.grpc.pb.h"
#include "post-service/posts.h"

namespace microblog {
namespace post {

class PostServiceImpl final : public microblog::post::v1::PostService::CallbackService {
 public:
  // Everything is borrowed and must outlive the service. `max_deadline`
  // caps the time any call may take, whatever the client's deadline.
  // `authenticator` (borrowed) checks the calls' access tokens.
  PostServiceImpl(Posts& posts, WorkerPool& db_workers, std::chrono::milliseconds max_deadline,
                  CallAuthentication auth)
      : calls_(posts, max_deadline, auth), db_workers_(db_workers) {}

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
  const CallForwarder<Posts> calls_;
  WorkerPool& db_workers_;
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_POST_SERVICE_H_
