#include "post-service/post_service.h"

#include <utility>

#include "common/server.h"
#include "common/status.h"
#include "post-service/post_validation.h"

namespace microblog {
namespace post {

using microblog::post::v1::CreatePostRequest;
using microblog::post::v1::CreatePostResponse;
using microblog::post::v1::DeletePostRequest;
using microblog::post::v1::DeletePostResponse;
using microblog::post::v1::GetPostRequest;
using microblog::post::v1::GetPostResponse;
using microblog::post::v1::ListPostsRequest;
using microblog::post::v1::ListPostsResponse;
using microblog::post::v1::Post;

grpc::Status PostServiceImpl::CreatePost(grpc::ServerContext* context,
                                         const CreatePostRequest* request,
                                         CreatePostResponse* response) {
  if (absl::Status valid = ValidateCreatePost(*request); !valid.ok()) return ToGrpcStatus(valid);
  const auto deadline = EffectiveDeadline(*context, max_deadline_);
  // The databases cannot share a foreign key: ask user-service first, and
  // store nothing unless it confirmed the author.
  if (absl::Status author =
          authors_.CheckAuthor(request->user_id(), deadline, TraceContextFrom(*context));
      !author.ok()) {
    return ToGrpcStatus(author);
  }
  absl::StatusOr<Post> post =
      store_.Create(request->user_id(), request->body(), request->request_id(), deadline);
  if (!post.ok()) return ToGrpcStatus(post.status());
  *response->mutable_post() = *std::move(post);
  return grpc::Status::OK;
}

grpc::Status PostServiceImpl::GetPost(grpc::ServerContext* context, const GetPostRequest* request,
                                      GetPostResponse* response) {
  if (absl::Status valid = ValidatePostId(request->id()); !valid.ok()) return ToGrpcStatus(valid);
  absl::StatusOr<Post> post =
      store_.Get(request->id(), EffectiveDeadline(*context, max_deadline_));
  if (!post.ok()) return ToGrpcStatus(post.status());
  *response->mutable_post() = *std::move(post);
  return grpc::Status::OK;
}

grpc::Status PostServiceImpl::ListPosts(grpc::ServerContext* context,
                                        const ListPostsRequest* request,
                                        ListPostsResponse* response) {
  absl::StatusOr<ListPostsQuery> query = ParseListPostsRequest(*request);
  if (!query.ok()) return ToGrpcStatus(query.status());
  absl::StatusOr<PostPage> page = store_.List(*query, EffectiveDeadline(*context, max_deadline_));
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (Post& post : page->posts) *response->add_posts() = std::move(post);
  if (page->next) {
    response->set_next_page_token(EncodeListPostsToken(query->user_id, *page->next));
  }
  return grpc::Status::OK;
}

grpc::Status PostServiceImpl::DeletePost(grpc::ServerContext* context,
                                         const DeletePostRequest* request,
                                         DeletePostResponse* /*response*/) {
  if (absl::Status valid = ValidatePostId(request->id()); !valid.ok()) return ToGrpcStatus(valid);
  return ToGrpcStatus(store_.Delete(request->id(), EffectiveDeadline(*context, max_deadline_)));
}

}  // namespace post
}  // namespace microblog
