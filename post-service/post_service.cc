#include "post-service/post_service.h"

#include <utility>

#include "common/trace_context.h"
#include "common/unary_call.h"

namespace microblog {
namespace post {

namespace v1 = ::microblog::post::v1;

grpc::ServerUnaryReactor* PostServiceImpl::CreatePost(grpc::CallbackServerContext* context,
                                                      const v1::CreatePostRequest* request,
                                                      v1::CreatePostResponse* response) {
  UnaryCall call = StartUnaryCall(context);
  ScopedLogTrace log_trace(std::move(call.trace));
  // Beyond what Forward passes: the caller's trace context, for user-service.
  calls_.logic().CreatePost(*request, calls_.Deadline(*context), TraceContextFrom(*context),
                            *response, std::move(call.reply));
  return call.reactor;
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
