// The gRPC handlers of microblog.post.v1.PostService.
//
// Each handler validates its request (post_validation.h) before any query or
// outgoing call, works within the caller's deadline capped at max_deadline,
// and maps errors with ToGrpcStatus (common/status.h). CreatePost checks the
// author with user-service before storing anything.
//
//   ConnectionPool pool(...);
//   PostStore store(pool);
//   std::unique_ptr<GrpcUserDirectory> users = ...;
//   PostServiceImpl service(store, *users, settings.max_deadline);
//   RunServer(settings, "post-service", {&service}, ...);
//
// Thread-safety: handlers run concurrently on gRPC's threads; the service
// holds no mutable state of its own.
#ifndef MICROBLOG_POST_SERVICE_POST_SERVICE_H_
#define MICROBLOG_POST_SERVICE_POST_SERVICE_H_

#include <chrono>

#include "microblog/post/v1/post_service.grpc.pb.h"
#include "post-service/post_store.h"
#include "post-service/user_directory.h"

namespace microblog {
namespace post {

class PostServiceImpl final : public microblog::post::v1::PostService::Service {
 public:
  // `store` and `authors` are borrowed and must outlive the service.
  PostServiceImpl(PostStore& store, AuthorChecker& authors, std::chrono::milliseconds max_deadline)
      : store_(store), authors_(authors), max_deadline_(max_deadline) {}
  PostServiceImpl(const PostServiceImpl&) = delete;
  PostServiceImpl& operator=(const PostServiceImpl&) = delete;

  grpc::Status CreatePost(grpc::ServerContext* context,
                          const microblog::post::v1::CreatePostRequest* request,
                          microblog::post::v1::CreatePostResponse* response) override;
  grpc::Status GetPost(grpc::ServerContext* context,
                       const microblog::post::v1::GetPostRequest* request,
                       microblog::post::v1::GetPostResponse* response) override;
  grpc::Status ListPosts(grpc::ServerContext* context,
                         const microblog::post::v1::ListPostsRequest* request,
                         microblog::post::v1::ListPostsResponse* response) override;
  grpc::Status DeletePost(grpc::ServerContext* context,
                          const microblog::post::v1::DeletePostRequest* request,
                          microblog::post::v1::DeletePostResponse* response) override;

 private:
  PostStore& store_;
  AuthorChecker& authors_;
  const std::chrono::milliseconds max_deadline_;
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_POST_SERVICE_H_
