#include "post-service/post_service.h"

#include <utility>

namespace microblog {
namespace post {

grpc::ServerUnaryReactor* PostServiceImpl::CreatePost(grpc::CallbackServerContext* context,
                                                      const v1::CreatePostRequest* request,
                                                      v1::CreatePostResponse* response) {
  // The caller's trace context goes on to user-service.
  return calls_.ForwardTraced(context, &Posts::CreatePost, request, response);
}

grpc::ServerUnaryReactor* PostServiceImpl::GetPost(grpc::CallbackServerContext* context,
                                                   const v1::GetPostRequest* request,
                                                   v1::GetPostResponse* response) {
  return calls_.Forward(context, &Posts::GetPost, request, response);
}

grpc::ServerUnaryReactor* PostServiceImpl::ListPosts(grpc::CallbackServerContext* context,
                                                     const v1::ListPostsRequest* request,
                                                     v1::ListPostsResponse* response) {
  return calls_.Forward(context, &Posts::ListPosts, request, response);
}

grpc::ServerUnaryReactor* PostServiceImpl::DeletePost(grpc::CallbackServerContext* context,
                                                      const v1::DeletePostRequest* request,
                                                      v1::DeletePostResponse* response) {
  return calls_.RunOn(db_workers_, context, &Posts::DeletePost, request, response);
}

}  // namespace post
}  // namespace microblog
