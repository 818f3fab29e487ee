#include "post-service/post_service.h"

#include <utility>

#include "common/server.h"
#include "common/status.h"
#include "common/trace_context.h"
#include "common/unary_call.h"
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

namespace {
// At most this many calls per batch (GetPost, first pages, inserts).
constexpr std::size_t kMaxBatch = 100;
}  // namespace

PostServiceImpl::PostServiceImpl(PostStore& store, AuthorChecker& authors, WorkerPool& db_workers,
                                 std::chrono::milliseconds max_deadline,
                                 std::size_t loader_threads)
    : store_(store),
      authors_(authors),
      db_workers_(db_workers),
      max_deadline_(max_deadline),
      posts_by_id_(
          "post-loader",
          [this](const std::vector<int64_t>& ids, std::chrono::system_clock::time_point deadline) {
            return store_.GetMany(ids, deadline);
          },
          kMaxBatch, loader_threads),
      first_pages_(
          "timeline-loader",
          [this](const std::vector<FirstPageKey>& keys,
                 std::chrono::system_clock::time_point deadline) {
            return store_.ListFirstPages(keys, deadline);
          },
          kMaxBatch, loader_threads),
      inserts_(
          "post-inserts",
          [this](const std::vector<const CreatePostRequest*>& requests,
                 std::chrono::system_clock::time_point deadline) {
            std::vector<NewPost> posts;
            posts.reserve(requests.size());
            for (const CreatePostRequest* request : requests) {
              posts.push_back({request->user_id(), request->body(), request->request_id()});
            }
            return store_.CreateMany(posts, deadline);
          },
          kMaxBatch, loader_threads) {}

grpc::ServerUnaryReactor* PostServiceImpl::CreatePost(grpc::CallbackServerContext* context,
                                                      const CreatePostRequest* request,
                                                      CreatePostResponse* response) {
  if (absl::Status valid = ValidateCreatePost(*request); !valid.ok()) {
    return RespondNow(context, valid);
  }
  const auto deadline = EffectiveDeadline(*context, max_deadline_);
  UnaryCall call = StartUnaryCall(context);
  // The databases cannot share a foreign key: ask user-service first, and
  // store nothing unless it confirmed the author.
  authors_.CheckAuthor(
      request->user_id(), deadline, TraceContextFrom(*context),
      [this, request, response, deadline, reply = std::move(call.reply)](
          const absl::Status& author) {
        if (!author.ok()) return reply(author);
        inserts_.Load(request, deadline, [response, reply](absl::StatusOr<Post> post) {
          if (post.ok()) *response->mutable_post() = *std::move(post);
          reply(post.status());
        });
      });
  return call.reactor;
}

grpc::ServerUnaryReactor* PostServiceImpl::GetPost(grpc::CallbackServerContext* context,
                                                   const GetPostRequest* request,
                                                   GetPostResponse* response) {
  if (absl::Status valid = ValidatePostId(request->id()); !valid.ok()) {
    return RespondNow(context, valid);
  }
  UnaryCall call = StartUnaryCall(context);
  posts_by_id_.Load(request->id(), EffectiveDeadline(*context, max_deadline_),
                    [response, reply = std::move(call.reply)](absl::StatusOr<Post> post) {
                      if (post.ok()) *response->mutable_post() = *std::move(post);
                      reply(post.status());
                    });
  return call.reactor;
}

void PostServiceImpl::FillListResponse(const ListPostsQuery& query, PostPage page,
                                       ListPostsResponse& response) {
  for (Post& post : page.posts) *response.add_posts() = std::move(post);
  if (page.next) response.set_next_page_token(EncodeListPostsToken(query.user_id, *page.next));
}

grpc::ServerUnaryReactor* PostServiceImpl::ListPosts(grpc::CallbackServerContext* context,
                                                     const ListPostsRequest* request,
                                                     ListPostsResponse* response) {
  absl::StatusOr<ListPostsQuery> query = ParseListPostsRequest(*request);
  if (!query.ok()) return RespondNow(context, query.status());
  const auto deadline = EffectiveDeadline(*context, max_deadline_);
  if (query->user_id != 0 && !query->after) {
    UnaryCall call = StartUnaryCall(context);
    first_pages_.Load({query->user_id, query->page_size}, deadline,
                      [query = *query, response, reply = std::move(call.reply)](
                          absl::StatusOr<PostPage> page) {
                        if (page.ok()) FillListResponse(query, *std::move(page), *response);
                        reply(page.status());
                      });
    return call.reactor;
  }
  return RespondOn(db_workers_, context,
                   [this, query = *std::move(query), response, deadline]() -> absl::Status {
                     absl::StatusOr<PostPage> page = store_.List(query, deadline);
                     if (!page.ok()) return page.status();
                     FillListResponse(query, *std::move(page), *response);
                     return absl::OkStatus();
                   });
}

grpc::ServerUnaryReactor* PostServiceImpl::DeletePost(grpc::CallbackServerContext* context,
                                                      const DeletePostRequest* request,
                                                      DeletePostResponse* /*response*/) {
  if (absl::Status valid = ValidatePostId(request->id()); !valid.ok()) {
    return RespondNow(context, valid);
  }
  return RespondOn(db_workers_, context,
                   [this, id = request->id(), deadline = EffectiveDeadline(*context, max_deadline_)] {
                     return store_.Delete(id, deadline);
                   });
}

}  // namespace post
}  // namespace microblog
