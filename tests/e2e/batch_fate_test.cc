// End-to-end rule of both services' batches (common/exec/batcher.h): a request
// fails only for its own content. Concurrent calls share one statement
// (GetPost, GetUser, LookupUser, ListPosts' first pages, CreatePost's
// insert) or one call to user-service (the author checks); when PostgreSQL
// refuses such a statement because of one item, only that item's callers
// get the error and every other call gets its real answer.
//
// What makes PostgreSQL refuse here is real data, not a fake: a row whose
// created_at is 'infinity' (the read's `extract(epoch ...)::bigint` fails:
// "cannot convert infinity to bigint"), and a CHECK constraint the test adds
// to the posts table (the batched insert fails for one body). The services
// already refuse every request value PostgreSQL cannot take (NUL bytes,
// invalid UTF-8, lengths), so rows like these are what is left.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "e2e/both_services_fixture.h"

namespace microblog {
namespace test_support {
namespace {

constexpr int kThreads = 24;
constexpr int kRounds = 15;

// Outcomes by kind of call, counted across threads.
struct Tally {
  std::mutex mu;
  std::map<std::string, std::map<std::string, int>> codes;  // kind -> code -> count

  void Add(const std::string& kind, const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu);
    ++codes[kind][status.ok() ? "OK"
                              : std::to_string(status.error_code()) + " " + status.error_message()];
  }
  std::string Dump() {
    std::lock_guard<std::mutex> lock(mu);
    std::string out;
    for (const auto& [kind, counts] : codes) {
      for (const auto& [code, n] : counts)
        out += kind + " [" + code + "] x" + std::to_string(n) + "\n";
    }
    return out;
  }
  // Only `code` was seen for `kind`, at least once.
  bool Only(const std::string& kind, const std::string& code) {
    std::lock_guard<std::mutex> lock(mu);
    const auto& counts = codes[kind];
    return counts.size() == 1 && counts.begin()->first == code;
  }
};

// Runs `call(thread, round)` on kThreads threads for kRounds rounds each,
// all threads starting together.
void Concurrently(const std::function<void(int, int)>& call) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int r = 0; r < kRounds; ++r) call(t, r);
    });
  }
  go = true;
  for (std::thread& thread : threads) thread.join();
}

// Both services, on real PostgreSQL (both_services_fixture.h).
class BatchesShareNoFate : public BothServicesTest {};

const std::string kInternal = std::to_string(grpc::StatusCode::INTERNAL) + " internal error";

TEST_F(BatchesShareNoFate, APostRowTheDatabaseCannotReadFailsOnlyItsOwnReaders) {
  StartServices();
  const int64_t alice = CreateUser("alice");
  const int64_t carol = CreateUser("carol");
  std::vector<int64_t> good;
  for (int i = 0; i < 10; ++i) {
    Post post;
    ASSERT_TRUE(CreatePost(alice, "post " + std::to_string(i), "", &post).ok());
    good.push_back(post.id());
  }
  Post broken;
  ASSERT_TRUE(CreatePost(carol, "unreadable", "", &broken).ok());
  QueryPosts("UPDATE posts SET created_at = 'infinity' WHERE id = " + std::to_string(broken.id()));
  ASSERT_EQ(GetPost(broken.id()).error_code(), grpc::StatusCode::INTERNAL);

  Tally tally;
  Concurrently([&](int t, int r) {
    // One thread in four reads the broken post; the others good ones, and
    // first pages of both authors (ListPosts' batched first pages).
    if (t % 4 == 0) {
      tally.Add("get broken", GetPost(broken.id()));
    } else {
      tally.Add("get good", GetPost(good[static_cast<std::size_t>(t + r) % good.size()]));
    }
    ListPostsResponse page;
    if (t % 4 == 1) {
      tally.Add("list broken author", ListPosts(carol, 5, "", &page));
    } else {
      tally.Add("list good author", ListPosts(alice, 5, "", &page));
    }
  });
  EXPECT_TRUE(tally.Only("get good", "OK")) << tally.Dump();
  EXPECT_TRUE(tally.Only("list good author", "OK")) << tally.Dump();
  EXPECT_TRUE(tally.Only("get broken", kInternal)) << tally.Dump();
  EXPECT_TRUE(tally.Only("list broken author", kInternal)) << tally.Dump();
}

TEST_F(BatchesShareNoFate, AUserRowTheDatabaseCannotReadFailsOnlyItsOwnCallers) {
  StartServices();
  const int64_t alice = CreateUser("alice");
  const int64_t bob = CreateUser("bob");
  const int64_t broken = CreateUser("mallory");
  QueryUsers("UPDATE users SET created_at = 'infinity' WHERE id = " + std::to_string(broken));

  auto get_user = [&](int64_t id) {
    microblog::user::v1::GetUserRequest request;
    request.set_id(id);
    microblog::user::v1::GetUserResponse response;
    return user_stub_->GetUser(NewContext().get(), request, &response);
  };
  auto lookup_user = [&](const std::string& name) {
    microblog::user::v1::LookupUserRequest request;
    request.set_username(name);
    microblog::user::v1::LookupUserResponse response;
    return user_stub_->LookupUser(NewContext().get(), request, &response);
  };
  ASSERT_EQ(get_user(broken).error_code(), grpc::StatusCode::INTERNAL);

  Tally tally;
  std::atomic<int> good_posts{0};
  Concurrently([&](int t, int r) {
    if (t % 4 == 0) {
      tally.Add("get broken", get_user(broken));
      tally.Add("lookup broken", lookup_user("mallory"));
      // user-service fails the whole BatchGetUsers that carries this
      // author: post-service's author checks split it.
      tally.Add("post as broken", CreatePost(broken, "by mallory"));
    } else {
      tally.Add("get good", get_user(t % 2 == 0 ? alice : bob));
      tally.Add("lookup good", lookup_user(t % 2 == 0 ? "alice" : "bob"));
      const grpc::Status posted =
          CreatePost(t % 2 == 0 ? alice : bob, "post " + std::to_string(t * 100 + r));
      tally.Add("post as good", posted);
      if (posted.ok()) ++good_posts;
    }
  });
  EXPECT_TRUE(tally.Only("get good", "OK")) << tally.Dump();
  EXPECT_TRUE(tally.Only("lookup good", "OK")) << tally.Dump();
  EXPECT_TRUE(tally.Only("post as good", "OK")) << tally.Dump();
  EXPECT_TRUE(tally.Only("get broken", kInternal)) << tally.Dump();
  EXPECT_TRUE(tally.Only("lookup broken", kInternal)) << tally.Dump();
  // The author check's contract: user-service could not answer for this
  // author, so nothing is stored and the caller may retry.
  EXPECT_TRUE(tally.Only("post as broken", std::to_string(grpc::StatusCode::UNAVAILABLE) +
                                               " user-service unavailable; retry later"))
      << tally.Dump();
  EXPECT_EQ(CountPosts("user_id = " + std::to_string(broken)), 0);
  EXPECT_EQ(CountPosts(), good_posts.load());
}

TEST_F(BatchesShareNoFate, AnInsertTheDatabaseRefusesFailsOnlyItsOwnPost) {
  StartServices();
  const int64_t alice = CreateUser("alice");
  // PostgreSQL now refuses any body with "poison" in it, in the batched
  // insert_posts() statement.
  QueryPosts(
      "ALTER TABLE posts ADD CONSTRAINT test_refuses_poison CHECK (body NOT LIKE '%poison%')");

  Tally tally;
  std::atomic<int> good_posts{0};
  Concurrently([&](int t, int r) {
    const bool poison = t % 5 == 0;  // about 1 in 5, as 9 among 45
    const std::string body = (poison ? "poison " : "fine ") + std::to_string(t * 100 + r);
    const grpc::Status status = CreatePost(alice, body);
    tally.Add(poison ? "poison" : "good", status);
    if (!poison && status.ok()) ++good_posts;
  });
  EXPECT_TRUE(tally.Only("good", "OK")) << tally.Dump();
  EXPECT_TRUE(tally.Only("poison", kInternal)) << tally.Dump();
  EXPECT_EQ(CountPosts("body LIKE 'poison%'"), 0);
  EXPECT_EQ(CountPosts(), good_posts.load());
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
