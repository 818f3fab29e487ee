// Unit tests of Posts, the logic of post-service, on an in-memory fake store
// and a fake author checker: what the end-to-end tests
// (e2e/post_service_*_test.cc) cannot force from outside, such as which
// store operation a request reaches, the batches it forms, a failing
// user-service, and proof that invalid requests reach neither the store
// nor user-service.
#include "post-service/posts.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "common/base/status.h"
#include "common/exec/worker_pool.h"
#include "common/rpc/grpc_status.h"
#include "post-service/author_checker.h"
#include "post-service/post_store.h"
#include "support/rpc_details.h"

namespace microblog {
namespace post {
namespace {

namespace v1 = ::microblog::post::v1;
using std::chrono::system_clock;
using namespace std::chrono_literals;

// Posts in a map, as the database would keep them; records every call, can
// hold InsertMany until released, and can be told to fail.
class FakePostStore final : public PostStore {
 public:
  std::vector<absl::StatusOr<PostRecord>> InsertMany(const std::vector<NewPost>& posts,
                                                     Clock::time_point) override {
    std::unique_lock<std::mutex> lock(mu_);
    insert_batches_.push_back(posts);
    changed_.notify_all();
    changed_.wait(lock, [this] { return !inserts_held_; });
    if (!fail_with_.ok()) return {posts.size(), fail_with_};
    std::vector<absl::StatusOr<PostRecord>> results;
    for (const NewPost& post : posts) {
      if (!post.request_id.empty() && request_ids_.count(post.request_id) != 0) {
        results.push_back(absl::AlreadyExistsError("request_id taken"));
        continue;
      }
      const int64_t id = static_cast<int64_t>(rows_.size()) + 1;
      rows_[id] = {id, post.user_id, post.body, 1'700'000'000'000'000 + id};
      if (!post.request_id.empty()) request_ids_[post.request_id] = id;
      results.push_back(rows_[id]);
    }
    return results;
  }
  absl::StatusOr<std::vector<PostRecord>> GetByIds(const std::vector<int64_t>& ids,
                                                   const ReadFrom& from,
                                                   Clock::time_point) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("GetByIds");
    last_from_ = from;
    std::vector<PostRecord> found;
    for (int64_t id : ids) {
      if (rows_.count(id) != 0) found.push_back(rows_[id]);
    }
    return found;
  }
  absl::StatusOr<std::vector<PostRecord>> List(const PostRange& range, const ReadFrom& from,
                                               Clock::time_point) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("List");
    last_from_ = from;
    last_list_ = range;
    return next_rows_;
  }
  absl::StatusOr<std::vector<std::vector<PostRecord>>> ListFirstPages(
      const std::vector<FirstPageKey>& keys, const ReadFrom& from, Clock::time_point) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("ListFirstPages");
    last_from_ = from;
    last_first_pages_ = keys;
    return std::vector<std::vector<PostRecord>>(keys.size(), next_rows_);
  }
  absl::StatusOr<DeleteOutcome> Delete(int64_t id, std::optional<int64_t> owner,
                                       Clock::time_point) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back("Delete");
    auto it = rows_.find(id);
    if (it == rows_.end()) return NotFoundResource("post", id);
    if (owner && removed_authors_.count(*owner) != 0) return DeleteOutcome::kOwnerRemoved;
    if (owner && it->second.user_id != *owner) return DeleteOutcome::kOtherOwner;
    rows_.erase(it);
    return DeleteOutcome::kDeleted;
  }
  // Users with a tombstone (deleted), for Delete.
  void RemoveAuthor(int64_t user_id) {
    std::lock_guard<std::mutex> lock(mu_);
    removed_authors_.insert(user_id);
  }
  bool Has(int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    return rows_.count(id) != 0;
  }

  void HoldInserts() {
    std::lock_guard<std::mutex> lock(mu_);
    inserts_held_ = true;
  }
  void ReleaseInserts() {
    std::lock_guard<std::mutex> lock(mu_);
    inserts_held_ = false;
    changed_.notify_all();
  }
  void AwaitInsertBatches(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(changed_.wait_for(lock, 10s, [&] { return insert_batches_.size() >= n; }));
  }
  void FailWith(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_with_ = std::move(status);
  }
  void AnswerListsWith(std::vector<PostRecord> rows) {
    std::lock_guard<std::mutex> lock(mu_);
    next_rows_ = std::move(rows);
  }
  std::vector<std::vector<NewPost>> insert_batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return insert_batches_;
  }
  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::optional<PostRange> last_list() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_list_;
  }
  std::vector<FirstPageKey> last_first_pages() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_first_pages_;
  }
  // Where the last read was asked to run.
  ReadFrom last_from() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_from_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool inserts_held_ = false;
  absl::Status fail_with_;
  std::map<int64_t, PostRecord> rows_;
  std::set<int64_t> removed_authors_;
  std::map<std::string, int64_t> request_ids_;
  std::vector<std::vector<NewPost>> insert_batches_;
  std::vector<std::string> calls_;  // every call but InsertMany
  std::vector<PostRecord> next_rows_;
  std::optional<PostRange> last_list_;
  std::vector<FirstPageKey> last_first_pages_;
  ReadFrom last_from_;
};

// Answers every check at once: OK for the users it knows, NOT_FOUND for the
// others, or the error it was told to give. Records what it was asked.
class FakeAuthorChecker final : public AuthorChecker {
 public:
  void CheckAuthor(int64_t user_id, Clock::time_point, const TraceContext& trace,
                   Answer done) override {
    absl::Status answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      asked_.push_back(user_id);
      traces_.push_back(trace.traceparent);
      if (!fail_with_.ok()) {
        answer = fail_with_;
      } else if (known_.count(user_id) == 0) {
        answer = NotFoundResource("user", user_id);
      }
    }
    std::move(done)(answer);
  }

  void Know(int64_t user_id) {
    std::lock_guard<std::mutex> lock(mu_);
    known_[user_id] = true;
  }
  void FailWith(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_with_ = std::move(status);
  }
  std::vector<int64_t> asked() {
    std::lock_guard<std::mutex> lock(mu_);
    return asked_;
  }
  std::vector<std::string> traces() {
    std::lock_guard<std::mutex> lock(mu_);
    return traces_;
  }

 private:
  std::mutex mu_;
  std::map<int64_t, bool> known_;
  absl::Status fail_with_;
  std::vector<int64_t> asked_;
  std::vector<std::string> traces_;
};

class PostsTest : public ::testing::Test {
 protected:
  static system_clock::time_point Deadline() { return system_clock::now() + 30s; }

  // Starts a CreatePost; its status arrives through the returned future.
  std::future<absl::Status> StartCreate(const v1::CreatePostRequest& request,
                                        v1::CreatePostResponse& response,
                                        const TraceContext& trace = {}) {
    auto answered = std::make_shared<std::promise<absl::Status>>();
    posts_.CreatePost(request, caller_, Deadline(), trace, response,
                      [answered](const absl::Status& status) { answered->set_value(status); });
    return answered->get_future();
  }
  absl::Status Create(int64_t user_id, const std::string& body, v1::CreatePostResponse& response,
                      const std::string& request_id = "") {
    v1::CreatePostRequest request;
    request.set_user_id(user_id);
    request.set_body(body);
    request.set_request_id(request_id);
    return StartCreate(request, response).get();
  }
  absl::Status Get(int64_t id, v1::GetPostResponse& response) {
    v1::GetPostRequest request;
    request.set_id(id);
    std::promise<absl::Status> answered;
    posts_.GetPost(request, Deadline(), response,
                   [&answered](const absl::Status& status) { answered.set_value(status); });
    return answered.get_future().get();
  }
  absl::Status List(const v1::ListPostsRequest& request, v1::ListPostsResponse& response) {
    std::promise<absl::Status> answered;
    posts_.ListPosts(request, Deadline(), response,
                     [&answered](const absl::Status& status) { answered.set_value(status); });
    return answered.get_future().get();
  }

  // Who calls: privileged by default (acts for any author), so that the
  // tests of the RPCs' own rules need no token; the access rules have tests
  // of their own below.
  Caller caller_{0, 0, /*privileged=*/true};
  FakePostStore store_;
  FakeAuthorChecker authors_;
  WorkerPool db_workers_{"test-db", 4};
  RevokedTokens revoked_;
  Posts posts_{store_, authors_, db_workers_, revoked_};
};

TEST_F(PostsTest, InvalidRequestsReachNeitherUserServiceNorTheStore) {
  v1::CreatePostResponse created;
  EXPECT_EQ(Create(0, "hello", created).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Create(1, "   ", created).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Create(1, std::string(141, 'x'), created).code(), absl::StatusCode::kInvalidArgument);
  v1::GetPostResponse got;
  EXPECT_EQ(Get(-1, got).code(), absl::StatusCode::kInvalidArgument);
  v1::ListPostsRequest list;
  list.set_page_size(-1);
  v1::ListPostsResponse listed;
  EXPECT_EQ(List(list, listed).code(), absl::StatusCode::kInvalidArgument);
  v1::DeletePostRequest remove;
  v1::DeletePostResponse removed;
  EXPECT_EQ(posts_.DeletePost(remove, caller_, Deadline(), removed).code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_TRUE(authors_.asked().empty());
  EXPECT_TRUE(store_.insert_batches().empty());
  EXPECT_TRUE(store_.calls().empty());
}

TEST_F(PostsTest, CreatePostStoresWhatTheRequestSaysOnceTheAuthorIsConfirmed) {
  authors_.Know(7);
  v1::CreatePostRequest request;
  request.set_user_id(7);
  request.set_body("Hello, microblog!");
  request.set_request_id("req-1");
  v1::CreatePostResponse response;
  const TraceContext trace{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", ""};
  ASSERT_TRUE(StartCreate(request, response, trace).get().ok());
  ASSERT_EQ(store_.insert_batches().size(), 1u);
  const NewPost stored = store_.insert_batches()[0].at(0);
  EXPECT_EQ(stored.user_id, 7);
  EXPECT_EQ(stored.body, "Hello, microblog!");
  EXPECT_EQ(stored.request_id, "req-1");
  EXPECT_EQ(response.post().id(), 1);
  EXPECT_EQ(response.post().user_id(), 7);
  EXPECT_EQ(response.post().body(), "Hello, microblog!");
  EXPECT_EQ(response.post().create_time().seconds(), 1'700'000'000);
  EXPECT_EQ(authors_.traces(), std::vector<std::string>{trace.traceparent});
}

TEST_F(PostsTest, AnUnknownAuthorIsNotFoundWithItsResourceInfoAndNothingIsStored) {
  v1::CreatePostResponse response;
  const absl::Status status = Create(404, "nobody wrote this", response);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "user 404 does not exist");
  const std::optional<google::rpc::ResourceInfo> info =
      test_support::ResourceInfoOf(ToGrpcStatus(status));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->resource_type(), "user");
  EXPECT_EQ(info->resource_name(), "404");
  EXPECT_TRUE(store_.insert_batches().empty());
}

TEST_F(PostsTest, UserServiceUnavailableStoresNothing) {
  authors_.Know(7);
  authors_.FailWith(absl::UnavailableError("user-service unavailable; retry later"));
  v1::CreatePostResponse response;
  EXPECT_EQ(Create(7, "hello", response).code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(store_.insert_batches().empty());
}

TEST_F(PostsTest, CreatePostsConfirmedWhileABatchIsStoredShareTheNextOneEachWithItsOwnAnswer) {
  authors_.Know(7);
  v1::CreatePostResponse taken;
  ASSERT_TRUE(Create(7, "first", taken, "taken").ok());  // batch 1
  store_.HoldInserts();
  // Two batches run at once: hold one in each slot.
  v1::CreatePostRequest request;
  request.set_user_id(7);
  request.set_body("held");
  std::vector<v1::CreatePostResponse> held_responses(2);
  std::vector<std::future<absl::Status>> held;
  held.push_back(StartCreate(request, held_responses[0]));
  store_.AwaitInsertBatches(2);
  held.push_back(StartCreate(request, held_responses[1]));
  store_.AwaitInsertBatches(3);
  // Both slots busy: these queue, and go together in the next batch.
  std::vector<v1::CreatePostResponse> queued_responses(3);
  std::vector<std::future<absl::Status>> queued;
  for (int i = 0; i < 3; ++i) {
    request.set_body("queued");
    request.set_request_id(i == 1 ? "taken" : "");  // the middle one reuses a taken key
    queued.push_back(StartCreate(request, queued_responses[i]));
  }
  store_.ReleaseInserts();
  EXPECT_TRUE(held[0].get().ok());
  EXPECT_TRUE(held[1].get().ok());
  EXPECT_TRUE(queued[0].get().ok());
  EXPECT_EQ(queued[1].get().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(queued[2].get().ok());
  // Two equal requests are two posts.
  EXPECT_NE(held_responses[0].post().id(), held_responses[1].post().id());
  EXPECT_NE(queued_responses[0].post().id(), queued_responses[2].post().id());
  const std::vector<std::vector<NewPost>> batches = store_.insert_batches();
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(batches[3].size(), 3u);
}

TEST_F(PostsTest, AFailedInsertTransactionIsEveryPostsAnswer) {
  authors_.Know(7);
  store_.FailWith(absl::UnavailableError("database unavailable"));
  v1::CreatePostResponse response;
  EXPECT_EQ(Create(7, "hello", response).code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(response.has_post());
}

TEST_F(PostsTest, GetPostOfAnUnknownIdIsNotFoundNamingThePost) {
  authors_.Know(7);
  v1::CreatePostResponse created;
  ASSERT_TRUE(Create(7, "hello", created).ok());
  v1::GetPostResponse got;
  ASSERT_TRUE(Get(created.post().id(), got).ok());
  EXPECT_EQ(got.post().body(), "hello");
  v1::GetPostResponse missing;
  const absl::Status status = Get(99, missing);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "post 99 does not exist");
  const std::optional<google::rpc::ResourceInfo> info =
      test_support::ResourceInfoOf(ToGrpcStatus(status));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->resource_type(), "post");
  EXPECT_EQ(info->resource_name(), "99");
}

TEST_F(PostsTest, AUsersFirstPageIsBatchedAndItsTokenResumesThroughList) {
  // Two rows for a page of one: another page follows.
  store_.AnswerListsWith({{5, 7, "newest", 2'000'000}, {4, 7, "older", 1'000'000}});
  v1::ListPostsRequest first;
  first.set_user_id(7);
  first.set_page_size(1);
  v1::ListPostsResponse first_page;
  ASSERT_TRUE(List(first, first_page).ok());
  EXPECT_EQ(store_.calls(), std::vector<std::string>{"ListFirstPages"});
  ASSERT_EQ(store_.last_first_pages().size(), 1u);
  EXPECT_EQ(store_.last_first_pages()[0].user_id, 7);
  EXPECT_EQ(store_.last_first_pages()[0].limit, 2);  // one row more than the page
  ASSERT_EQ(first_page.posts_size(), 1);
  ASSERT_FALSE(first_page.next_page_token().empty());

  v1::ListPostsRequest next = first;
  next.set_page_token(first_page.next_page_token());
  v1::ListPostsResponse next_page;
  ASSERT_TRUE(List(next, next_page).ok());
  EXPECT_EQ(store_.calls(), (std::vector<std::string>{"ListFirstPages", "List"}));
  ASSERT_TRUE(store_.last_list().has_value());
  EXPECT_EQ(store_.last_list()->user_id, 7);
  ASSERT_TRUE(store_.last_list()->after.has_value());
  EXPECT_EQ(store_.last_list()->after->create_micros, 2'000'000);
  EXPECT_EQ(store_.last_list()->after->id, 5);

  // The token walks user 7's listing only.
  v1::ListPostsRequest other_user = next;
  other_user.set_user_id(8);
  v1::ListPostsResponse refused;
  EXPECT_EQ(List(other_user, refused).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_.calls().size(), 2u);
}

TEST_F(PostsTest, EveryonesPostsGoThroughListWithTheDefaultPageSize) {
  v1::ListPostsRequest request;
  v1::ListPostsResponse response;
  ASSERT_TRUE(List(request, response).ok());
  EXPECT_EQ(store_.calls(), std::vector<std::string>{"List"});
  EXPECT_EQ(store_.last_list()->user_id, 0);
  EXPECT_EQ(store_.last_list()->limit, 21);  // the default page, one row more
  EXPECT_TRUE(response.next_page_token().empty());
}

TEST_F(PostsTest, ReadsGoToAReplicaThatReachedTheirConsistencyToken) {
  authors_.Know(7);
  v1::CreatePostResponse created;
  ASSERT_TRUE(Create(7, "hello", created).ok());
  v1::GetPostResponse got;
  ASSERT_TRUE(Get(created.post().id(), got).ok());
  EXPECT_EQ(store_.last_from(), ReadFrom::Replica());  // no token: any usable replica

  v1::GetPostRequest get;
  get.set_id(created.post().id());
  get.set_consistency_token("1/A0");
  std::promise<absl::Status> answered;
  posts_.GetPost(get, Deadline(), got,
                 [&answered](const absl::Status& status) { answered.set_value(status); });
  ASSERT_TRUE(answered.get_future().get().ok());
  EXPECT_EQ(store_.last_from(), ReadFrom::Replica((uint64_t{1} << 32) | 0xA0));

  v1::ListPostsRequest first;
  first.set_user_id(7);
  first.set_consistency_token("2/0");
  v1::ListPostsResponse page;
  ASSERT_TRUE(List(first, page).ok());
  EXPECT_EQ(store_.last_from(), ReadFrom::Replica(uint64_t{2} << 32));
  v1::ListPostsRequest everyone;
  everyone.set_consistency_token("0/10");
  ASSERT_TRUE(List(everyone, page).ok());
  EXPECT_EQ(store_.last_from(), ReadFrom::Replica(0x10));
}

TEST_F(PostsTest, AMalformedConsistencyTokenIsInvalidArgumentAndReadsNothing) {
  for (const char* token : {"x", "1/", "/1", "123456789/0", "1/2/3", " 1/2"}) {
    v1::GetPostRequest get;
    get.set_id(1);
    get.set_consistency_token(token);
    v1::GetPostResponse got;
    std::promise<absl::Status> answered;
    posts_.GetPost(get, Deadline(), got,
                   [&answered](const absl::Status& status) { answered.set_value(status); });
    const absl::Status status = answered.get_future().get();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << token;
    ASSERT_EQ(FieldViolationsOf(status).size(), 1u) << token;
    EXPECT_EQ(FieldViolationsOf(status)[0].field, "consistency_token");
  }
  EXPECT_TRUE(store_.calls().empty());
}

// --- Who may do what (common/base/caller.h) ---

constexpr int64_t kAuthor = 42;

TEST_F(PostsTest, PostingForAUserNeedsThatUsersTokenAndAsksNobodyOtherwise) {
  authors_.Know(kAuthor);
  v1::CreatePostResponse created;
  caller_ = Caller{};
  EXPECT_EQ(Create(kAuthor, "hello", created).code(), absl::StatusCode::kUnauthenticated);
  caller_ = Caller{kAuthor + 1, 1, false};
  const absl::Status denied = Create(kAuthor, "hello", created);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(authors_.asked().empty());
  EXPECT_TRUE(store_.insert_batches().empty());

  caller_ = Caller{kAuthor, 1, false};
  EXPECT_TRUE(Create(kAuthor, "hello", created).ok());
}

TEST_F(PostsTest, ATokenWhoseUserIsGoneIsRevokedNotAnUnknownAuthor) {
  v1::CreatePostResponse created;
  caller_ = Caller{kAuthor + 5, 1, false};  // user-service: NOT_FOUND
  const absl::Status status = Create(kAuthor + 5, "hello", created);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(status.message(), "access token revoked");
}

TEST_F(PostsTest, APasswordChangeRevokesOlderTokensOfItsUser) {
  authors_.Know(kAuthor);
  const int64_t user = kAuthor;
  revoked_.Add({{user, /*min_version=*/3, 0}});
  v1::CreatePostResponse created;
  caller_ = Caller{user, 2, false};
  EXPECT_EQ(Create(user, "hello", created).code(), absl::StatusCode::kUnauthenticated);
  caller_ = Caller{user, 3, false};
  ASSERT_TRUE(Create(user, "hello", created).ok());
  v1::DeletePostRequest remove;
  remove.set_id(created.post().id());
  v1::DeletePostResponse removed;
  caller_ = Caller{user, 2, false};
  EXPECT_EQ(posts_.DeletePost(remove, caller_, Deadline(), removed).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(store_.Has(created.post().id()));
  // A lower version learnt later changes nothing.
  revoked_.Add({{user, 1, 0}});
  EXPECT_EQ(posts_.DeletePost(remove, caller_, Deadline(), removed).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(PostsTest, OnlyTheAuthorDeletesAPost) {
  authors_.Know(kAuthor);
  const int64_t user = kAuthor;
  v1::CreatePostResponse created;
  ASSERT_TRUE(Create(user, "mine", created).ok());
  v1::DeletePostRequest remove;
  remove.set_id(created.post().id());
  v1::DeletePostResponse removed;

  caller_ = Caller{};
  EXPECT_EQ(posts_.DeletePost(remove, caller_, Deadline(), removed).code(),
            absl::StatusCode::kUnauthenticated);
  caller_ = Caller{user + 1, 1, false};
  const absl::Status denied = posts_.DeletePost(remove, caller_, Deadline(), removed);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.message(),
            "the access token does not allow changing post " + std::to_string(created.post().id()));
  EXPECT_TRUE(store_.Has(created.post().id()));
  // Unknown posts stay NOT_FOUND whoever asks.
  v1::DeletePostRequest unknown;
  unknown.set_id(987654);
  EXPECT_EQ(posts_.DeletePost(unknown, caller_, Deadline(), removed).code(),
            absl::StatusCode::kNotFound);
  // A deleted author's token: revoked.
  store_.RemoveAuthor(user);
  caller_ = Caller{user, 1, false};
  EXPECT_EQ(posts_.DeletePost(remove, caller_, Deadline(), removed).code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace post
}  // namespace microblog
