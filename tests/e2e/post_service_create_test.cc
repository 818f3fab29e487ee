// End-to-end tests of post-service: creating, reading and deleting posts,
// validation of what is created, and idempotent retries (request_id).
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "e2e/both_services_fixture.h"
#include "google/rpc/error_details.pb.h"
#include "support/rpc_details.h"

namespace microblog {
namespace test_support {
namespace {

using namespace std::chrono_literals;

TEST_F(BothServicesTest, CreatedPostCanBeReadBackAndDeleted) {
  StartServices();
  const int64_t alice = CreateUser("alice");

  Post created;
  const auto before = std::chrono::system_clock::now();
  grpc::Status status = CreatePost(alice, "hello, world", "", &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(created.id(), 0);
  EXPECT_EQ(created.user_id(), alice);
  EXPECT_EQ(created.body(), "hello, world");
  // Server clock, in the window of the call (a minute of slack: clocks are
  // the same machine's, this only catches an unset or garbage time).
  const int64_t before_micros =
      std::chrono::duration_cast<std::chrono::microseconds>(before.time_since_epoch()).count();
  EXPECT_GT(Micros(created.create_time()), before_micros - 60'000'000);
  EXPECT_LT(Micros(created.create_time()), before_micros + 60'000'000);

  Post read;
  status = GetPost(created.id(), &read);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(read.SerializeAsString(), created.SerializeAsString());
  EXPECT_EQ(CountPosts(), 1);

  status = DeletePost(created.id());
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(CountPosts(), 0);
  EXPECT_EQ(GetPost(created.id()).error_code(), grpc::StatusCode::NOT_FOUND);
}

// Author checks, inserts and reads are batched under concurrency: each call
// must still get exactly its own outcome, and every acknowledged post must
// be stored once.
TEST_F(BothServicesTest, ConcurrentCreatesAndReadsEachGetTheirOwnAnswer) {
  StartServices();
  const int64_t authors[] = {CreateUser("alice"), CreateUser("bob")};
  constexpr int64_t kUnknownAuthor = 999999;
  constexpr int kThreads = 32;
  constexpr int kCallsEach = 6;

  struct Outcome {
    int64_t user_id;
    std::string body;
    std::string request_id;
    grpc::Status status;
    Post post;
  };
  std::vector<Outcome> outcomes(kThreads * kCallsEach);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kCallsEach; ++k) {
        Outcome& o = outcomes[t * kCallsEach + k];
        o.user_id = k % 3 == 0 ? kUnknownAuthor : authors[(t + k) % 2];
        o.body = "thread " + std::to_string(t) + " post " + std::to_string(k);
        // One request_id shared by every thread, each with its own body:
        // exactly one of them may win it.
        o.request_id = k == 1 ? "shared-key" : "";
        o.status = CreatePost(o.user_id, o.body, o.request_id, &o.post);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  int stored = 0;
  int shared_key_wins = 0;
  for (const Outcome& o : outcomes) {
    if (o.user_id == kUnknownAuthor) {
      // Its token names a user user-service does not know.
      ASSERT_EQ(o.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << o.body;
      EXPECT_EQ(o.status.error_message(), "access token revoked");
    } else if (!o.request_id.empty() && !o.status.ok()) {
      EXPECT_EQ(o.status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << o.body;
    } else {
      ASSERT_TRUE(o.status.ok()) << o.body << ": " << o.status.error_message();
      EXPECT_EQ(o.post.user_id(), o.user_id);
      EXPECT_EQ(o.post.body(), o.body);
      ++stored;
      if (!o.request_id.empty()) ++shared_key_wins;
    }
  }
  EXPECT_EQ(shared_key_wins, 1);
  EXPECT_EQ(CountPosts(), stored);

  // Read every stored post back, concurrently: batched reads too.
  std::vector<std::thread> readers;
  for (int t = 0; t < kThreads; ++t) {
    readers.emplace_back([&, t] {
      for (int k = 0; k < kCallsEach; ++k) {
        const Outcome& o = outcomes[t * kCallsEach + k];
        if (!o.status.ok()) continue;
        Post read;
        grpc::Status status = GetPost(o.post.id(), &read);
        ASSERT_TRUE(status.ok()) << status.error_message();
        EXPECT_EQ(read.SerializeAsString(), o.post.SerializeAsString());
      }
    });
  }
  for (std::thread& thread : readers) thread.join();

  // First pages of both authors' posts, concurrently and with different
  // page sizes (also batched): each the newest of its own author.
  std::map<int64_t, std::vector<int64_t>> newest;
  for (int64_t author : authors) {
    newest[author] = IdsNewestFirst("user_id = " + std::to_string(author));
  }
  std::vector<std::thread> listers;
  for (int t = 0; t < kThreads; ++t) {
    listers.emplace_back([&, t] {
      const int64_t author = authors[t % 2];
      const int page_size = 1 + t % 7;
      for (int round = 0; round < 5; ++round) {
        ListPostsResponse response;
        grpc::Status status = ListPosts(author, page_size, "", &response);
        ASSERT_TRUE(status.ok()) << status.error_message();
        std::vector<int64_t> ids;
        for (const Post& post : response.posts()) ids.push_back(post.id());
        const std::vector<int64_t>& all = newest[author];
        const std::size_t n = std::min<std::size_t>(page_size, all.size());
        EXPECT_EQ(ids, std::vector<int64_t>(all.begin(), all.begin() + n));
        EXPECT_EQ(response.next_page_token().empty(), all.size() <= n);
      }
    });
  }
  for (std::thread& thread : listers) thread.join();
}

TEST_F(BothServicesTest, MissingPostIsNotFoundNamingIt) {
  StartServices();
  for (grpc::Status status : {GetPost(424242), DeletePost(424242)}) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
    std::optional<google::rpc::ResourceInfo> info = ResourceInfoOf(status);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->resource_type(), "post");
    EXPECT_EQ(info->resource_name(), "424242");
  }
  for (grpc::Status status : {GetPost(0), DeletePost(-3)}) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"id"});
  }
}

// --- Validation ------------------------------------------------------------------

TEST_F(BothServicesTest, BodyLimitsCountCharactersNotBytes) {
  StartServices();
  const int64_t alice = CreateUser("alice");

  Post post;
  grpc::Status status = CreatePost(alice, std::string(140, 'a'), "", &post);
  EXPECT_TRUE(status.ok()) << status.error_message();
  // 'é' is two bytes: 140 of them are 280 bytes but 140 characters.
  const std::string e_acute = "\xc3\xa9";
  status = CreatePost(alice, Repeat(e_acute, 140), "", &post);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(post.body(), Repeat(e_acute, 140));
  Post read;
  ASSERT_TRUE(GetPost(post.id(), &read).ok());
  EXPECT_EQ(read.body(), Repeat(e_acute, 140));
  // Four-byte characters (U+1F600) as well.
  EXPECT_TRUE(CreatePost(alice, Repeat("\xf0\x9f\x98\x80", 140)).ok());
  EXPECT_EQ(CountPosts(), 3);

  const std::vector<std::string> bad_bodies = {
      std::string(141, 'a'),  Repeat(e_acute, 141), "", " \t\n  ",
      "\xe3\x80\x80\xc2\xa0",  // U+3000 ideographic space, U+00A0 no-break space
  };
  for (const std::string& body : bad_bodies) {
    status = CreatePost(alice, body);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "body: " << body;
    EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"body"}) << "body: " << body;
  }
  EXPECT_EQ(CountPosts(), 3);
}

TEST_F(BothServicesTest, EveryBadFieldIsReportedBeforeAnyCallToUserService) {
  FakeUserServer fake;
  StartPostService(fake.address());

  CreatePostRequest request;
  request.set_user_id(-1);
  request.set_body("   ");
  request.set_request_id(std::string(65, 'r'));
  CreatePostResponse response;
  grpc::Status status = stub_->CreatePost(NewContext().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<std::string> fields = ViolatedFields(status);
  std::sort(fields.begin(), fields.end());
  EXPECT_EQ(fields, (std::vector<std::string>{"body", "request_id", "user_id"}));
  EXPECT_EQ(fake.service().calls(), 0);

  // 64 characters (multi-byte ones count once) is the longest request_id.
  EXPECT_TRUE(CreatePost(FakeUserService::kKnownUser, "ok", Repeat("\xc3\xa9", 64)).ok());
  EXPECT_EQ(CreatePost(FakeUserService::kKnownUser, "ok", Repeat("\xc3\xa9", 65)).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// --- Idempotency -----------------------------------------------------------------

TEST_F(BothServicesTest, ConcurrentRetriesWithOneRequestIdStoreOnePost) {
  StartServices();
  ExpectConcurrentRetriesStoreOnePost(CreateUser("alice"));
}

// The same race, sharpened: the fake user-service answers slowly, so the 50
// author checks queue up and are answered together, in a batch or two, and
// the inserts reach the database together.
TEST_F(BothServicesTest, RetriesReachingTheDatabaseTogetherStoreOnePost) {
  FakeUserServer fake;
  StartPostService(fake.address());
  fake.service().set_delay(300ms);
  ExpectConcurrentRetriesStoreOnePost(FakeUserService::kKnownUser);
  // Batched: far fewer calls to user-service than checks.
  EXPECT_LT(fake.service().calls(), kConcurrentRetries / 2);
}

TEST_F(BothServicesTest, RequestIdReusedForAnotherPostIsAlreadyExists) {
  StartServices();
  const int64_t alice = CreateUser("alice");
  const int64_t bob = CreateUser("bob");
  ASSERT_TRUE(CreatePost(alice, "first", "key-1").ok());

  grpc::Status status = CreatePost(alice, "second", "key-1");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(status.error_message().find("request_id"), std::string::npos) << status.error_message();
  status = CreatePost(bob, "first", "key-1");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(CountPosts(), 1);

  // Without a request_id, equal posts are distinct posts.
  EXPECT_TRUE(CreatePost(alice, "first").ok());
  EXPECT_TRUE(CreatePost(alice, "first").ok());
  EXPECT_EQ(CountPosts(), 3);
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
