#include "post-service/posts.h"

#include <cstddef>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/page_token.h"
#include "common/base/proto_time.h"
#include "common/base/status.h"
#include "post-service/post_validation.h"

namespace microblog {
namespace post {
namespace {

namespace v1 = ::microblog::post::v1;

void ToProto(const PostRecord& record, v1::Post& post) {
  post.set_id(record.id);
  post.set_user_id(record.user_id);
  post.set_body(record.body);
  *post.mutable_create_time() = TimestampFromMicros(record.create_micros);
}

// The page of `query` in `rows`, read with PageRowLimit(query.page_size).
PostPage PageOf(const ListPostsQuery& query, std::vector<PostRecord> rows) {
  PostPage page;
  const bool more = TrimToPage(rows, query.page_size);
  page.posts = std::move(rows);
  if (more) page.next = PageKey{page.posts.back().create_micros, page.posts.back().id};
  return page;
}

// Fills `response` with `page` of `query`'s listing.
void FillListResponse(const ListPostsQuery& query, const PostPage& page,
                      v1::ListPostsResponse& response) {
  for (const PostRecord& post : page.posts) ToProto(post, *response.add_posts());
  if (page.next) response.set_next_page_token(EncodeListPostsToken(query.user_id, *page.next));
}

}  // namespace

Posts::Posts(PostStore& store, AuthorChecker& authors, WorkerPool& db_workers,
             const RevokedTokens& revoked, Registry* metrics)
    : store_(store),
      authors_(authors),
      revoked_(revoked),
      db_workers_(db_workers),
      inserts_(Batcher<NewPost, StoredPost>::OnWorkers(
                   db_workers,
                   [this](const std::vector<NewPost>& posts, Clock::time_point deadline) {
                     return InsertBatch(posts, deadline);
                   }),
               kMaxBatch, kBatchesInFlight, BatchSizeHistogram(metrics, "create_post")),
      reads_(
          db_workers, "post",
          [this](const std::vector<int64_t>& ids, const ReadFrom& from,
                 Clock::time_point deadline) { return store_.GetByIds(ids, from, deadline); },
          kMaxBatch, kBatchesInFlight, BatchSizeHistogram(metrics, "get_post")),
      first_pages_(
          Batcher<Routed<FirstPageKey>, std::vector<PostRecord>>::OnWorkers(
              db_workers,
              [this](const std::vector<Routed<FirstPageKey>>& keys, Clock::time_point deadline) {
                return ListFirstPagesBatch(keys, deadline);
              }),
          kMaxBatch, kBatchesInFlight, BatchSizeHistogram(metrics, "list_posts_first_page")) {}

// --- CreatePost ---

void Posts::CreatePost(const v1::CreatePostRequest& request, const Caller& caller,
                       Clock::time_point deadline, const TraceContext& trace,
                       v1::CreatePostResponse& response, Reply done) {
  if (absl::Status valid = ValidateCreatePost(request); !valid.ok()) {
    return std::move(done)(valid);
  }
  if (absl::Status allowed = MayActFor(caller, request.user_id(), "the posts of this user");
      !allowed.ok()) {
    return std::move(done)(allowed);
  }
  // The token's own user gone (user-service says so, or the cascade left a
  // tombstone): the token is revoked, not the author merely unknown.
  const bool own = caller.is_user(request.user_id());
  auto revoked_if_gone = [own](absl::Status status) {
    return own && absl::IsNotFound(status) ? TokenRevoked() : status;
  };
  // The databases cannot share a foreign key: ask user-service first, and
  // store nothing unless it confirmed the author.
  NewPost post{request.user_id(), request.body(), request.request_id()};
  authors_.CheckAuthor(post.user_id, deadline, trace,
                       [this, post = std::move(post), deadline, &response, revoked_if_gone,
                        done = std::move(done)](absl::Status author) mutable {
                         if (!author.ok()) return std::move(done)(revoked_if_gone(author));
                         inserts_.Add(
                             std::move(post), deadline,
                             [&response, revoked_if_gone,
                              done = std::move(done)](absl::StatusOr<StoredPost> stored) mutable {
                               if (!stored.ok())
                                 return std::move(done)(revoked_if_gone(stored.status()));
                               ToProto(stored->post, *response.mutable_post());
                               response.set_consistency_token(std::move(stored->consistency_token));
                               std::move(done)(absl::OkStatus());
                             });
                       });
}

absl::Status Posts::MayActFor(const Caller& caller, int64_t user_id, std::string_view what) const {
  if (absl::Status allowed = RequireActingFor(caller, user_id, what); !allowed.ok()) {
    return allowed;
  }
  if (revoked_.IsRevoked(caller)) return TokenRevoked();
  return absl::OkStatus();
}

std::vector<absl::StatusOr<Posts::StoredPost>> Posts::InsertBatch(const std::vector<NewPost>& posts,
                                                                  Clock::time_point deadline) {
  std::vector<absl::StatusOr<PostRecord>> stored = store_.InsertMany(posts, deadline);
  // One token for the batch, read after its commit.
  std::string token;
  for (const absl::StatusOr<PostRecord>& post : stored) {
    if (post.ok()) {
      token = store_.WriteToken(deadline);
      break;
    }
  }
  std::vector<absl::StatusOr<StoredPost>> results;
  results.reserve(stored.size());
  for (absl::StatusOr<PostRecord>& post : stored) {
    if (post.ok()) {
      results.push_back(StoredPost{*std::move(post), token});
    } else {
      results.push_back(post.status());
    }
  }
  return results;
}

// --- GetPost ---

void Posts::GetPost(const v1::GetPostRequest& request, Clock::time_point deadline,
                    v1::GetPostResponse& response, Reply done) {
  if (absl::Status valid = ValidatePostId(request.id()); !valid.ok()) {
    return std::move(done)(valid);
  }
  absl::StatusOr<ReadFrom> from = ReadFromToken(request.consistency_token());
  if (!from.ok()) return std::move(done)(from.status());
  reads_.Read(request.id(), *from, deadline,
              FillThenReply<PostRecord>(std::move(done), [&response](PostRecord post) {
                ToProto(post, *response.mutable_post());
              }));
}

// --- ListPosts ---

void Posts::ListPosts(const v1::ListPostsRequest& request, Clock::time_point deadline,
                      v1::ListPostsResponse& response, Reply done) {
  absl::StatusOr<ListPostsQuery> query = ParseListPostsRequest(request);
  if (!query.ok()) return std::move(done)(query.status());
  absl::StatusOr<ReadFrom> from = ReadFromToken(request.consistency_token());
  if (!from.ok()) return std::move(done)(from.status());
  auto answer = FillThenReply<std::vector<PostRecord>>(
      std::move(done), [query = *query, &response](std::vector<PostRecord> rows) {
        FillListResponse(query, PageOf(query, std::move(rows)), response);
      });
  // One row more than the page tells whether another page follows.
  const int limit = PageRowLimit(query->page_size);
  if (query->user_id != 0 && !query->after) {
    first_pages_.Add({{query->user_id, limit}, *from}, deadline, std::move(answer));
    return;
  }
  db_workers_.Submit([this, range = PostRange{query->user_id, query->after, limit}, from = *from,
                      deadline, answer = std::move(answer)]() mutable {
    if (Clock::now() >= deadline) {
      return std::move(answer)(absl::DeadlineExceededError("deadline exceeded while queued"));
    }
    std::move(answer)(store_.List(range, from, deadline));
  });
}

std::vector<absl::StatusOr<std::vector<PostRecord>>> Posts::ListFirstPagesBatch(
    const std::vector<Routed<FirstPageKey>>& keys, Clock::time_point deadline) {
  absl::StatusOr<std::vector<std::vector<PostRecord>>> pages =
      store_.ListFirstPages(ItemsOf(keys), Combined(keys), deadline);
  if (!pages.ok()) {
    return std::vector<absl::StatusOr<std::vector<PostRecord>>>(keys.size(),
                                                                WholeBatchFailure(pages.status()));
  }
  return {std::make_move_iterator(pages->begin()), std::make_move_iterator(pages->end())};
}

// --- DeletePost ---

absl::Status Posts::DeletePost(const v1::DeletePostRequest& request, const Caller& caller,
                               Clock::time_point deadline, v1::DeletePostResponse& response) {
  if (absl::Status valid = ValidatePostId(request.id()); !valid.ok()) return valid;
  if (absl::Status token = RequireToken(caller); !token.ok()) return token;
  if (revoked_.IsRevoked(caller)) return TokenRevoked();
  const std::optional<int64_t> owner =
      caller.privileged ? std::nullopt : std::optional<int64_t>(caller.user_id);
  absl::StatusOr<DeleteOutcome> deleted = store_.Delete(request.id(), owner, deadline);
  if (!deleted.ok()) return deleted.status();
  switch (*deleted) {
    case DeleteOutcome::kDeleted:
      break;
    case DeleteOutcome::kOtherOwner:
      return RequireActingFor(caller, /*owner_id=*/0, absl::StrCat("post ", request.id()));
    case DeleteOutcome::kOwnerRemoved:
      return TokenRevoked();
  }
  response.set_consistency_token(store_.WriteToken(deadline));
  return absl::OkStatus();
}

}  // namespace post
}  // namespace microblog
