#include "post-service/post_service.h"

#include <utility>

#include "common/server.h"
#include "common/trace_context.h"
#include "common/unary_call.h"

namespace microblog {
namespace post {

namespace v1 = ::microblog::post::v1;

grpc::ServerUnaryReactor* PostServiceImpl::CreatePost(grpc::CallbackServerContext* context,
                                                      const v1::CreatePostRequest* request,
                                                      v1::CreatePostResponse* response) {
  UnaryCall call = StartUnaryCall(context);
  posts_.CreatePost(*request, EffectiveDeadline(*context, max_deadline_),
                    TraceContextFrom(*context), *response, std::move(call.reply));
  return call.reactor;
}

grpc::ServerUnaryReactor* PostServiceImpl::GetPost(grpc::CallbackServerContext* context,
                                                   const v1::GetPostRequest* request,
                                                   v1::GetPostResponse* response) {
  UnaryCall call = StartUnaryCall(context);
  posts_.GetPost(*request, EffectiveDeadline(*context, max_deadline_), *response,
                 std::move(call.reply));
  return call.reactor;
}

grpc::ServerUnaryReactor* PostServiceImpl::ListPosts(grpc::CallbackServerContext* context,
                                                     const v1::ListPostsRequest* request,
                                                     v1::ListPostsResponse* response) {
  UnaryCall call = StartUnaryCall(context);
  posts_.ListPosts(*request, EffectiveDeadline(*context, max_deadline_), *response,
                   std::move(call.reply));
  return call.reactor;
}

grpc::ServerUnaryReactor* PostServiceImpl::DeletePost(grpc::CallbackServerContext* context,
                                                      const v1::DeletePostRequest* request,
                                                      v1::DeletePostResponse* /*response*/) {
  return RespondOn(db_workers_, context,
                   [this, request, d = EffectiveDeadline(*context, max_deadline_)] {
                     return posts_.DeletePost(*request, d);
                   });
}

}  // namespace post
}  // namespace microblog
