// End-to-end tests of post-service's ListPosts: keyset pages that never skip
// nor repeat a post, page sizes, and page tokens.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "e2e/both_services_fixture.h"
#include "support/rpc_details.h"

namespace microblog {
namespace test_support {
namespace {

using microblog::post::v1::ListPostsResponse;
using microblog::post::v1::Post;

// Keeps the posts of `seen` that are in `old` (in order) and checks that none
// came twice.
std::vector<int64_t> OldIdsInOrder(const std::vector<Post>& seen, const std::vector<int64_t>& old) {
  const std::set<int64_t> old_set(old.begin(), old.end());
  std::set<int64_t> unique;
  std::vector<int64_t> kept;
  for (const Post& post : seen) {
    EXPECT_TRUE(unique.insert(post.id()).second) << "post " << post.id() << " came twice";
    if (old_set.count(post.id()) > 0) kept.push_back(post.id());
  }
  return kept;
}

// Received posts are newest first by (create_time, id).
void ExpectNewestFirst(const std::vector<Post>& seen) {
  for (std::size_t i = 1; i < seen.size(); ++i) {
    const auto previous = std::make_pair(Micros(seen[i - 1].create_time()), seen[i - 1].id());
    const auto current = std::make_pair(Micros(seen[i].create_time()), seen[i].id());
    EXPECT_GT(previous, current) << "at position " << i;
  }
}

TEST_F(BothServicesTest, PagesNeverSkipNorRepeatWhileNewPostsArrive) {
  StartServices();
  const int64_t alice = CreateUser("alice");
  const int64_t bob = CreateUser("bob");

  // 200 posts through the API (two authors, interleaved), and 50 written
  // directly with timestamps the API cannot produce: 25 sharing one instant
  // (the order then rests on the id) and 25 one microsecond apart (the
  // token must keep full precision).
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(CreatePost(i % 3 == 0 ? bob : alice, "post " + std::to_string(i)).ok());
  }
  QueryPosts("INSERT INTO posts (user_id, body, created_at) SELECT " + std::to_string(alice) +
             ", 'tied ' || g, timestamptz '2024-05-01 10:00:00.123457+00' "
             "FROM generate_series(1, 25) g");
  QueryPosts("INSERT INTO posts (user_id, body, created_at) SELECT CASE WHEN g % 2 = 0 THEN " +
             std::to_string(alice) + " ELSE " + std::to_string(bob) +
             " END, 'close ' || g, timestamptz '2024-05-01 10:00:00.123457+00' + "
             "g * interval '1 microsecond' FROM generate_series(1, 25) g");
  ASSERT_EQ(CountPosts(), 250);

  int written_between_pages = 0;
  auto write_one = [&] {
    ++written_between_pages;
    ASSERT_TRUE(CreatePost(written_between_pages % 2 ? alice : bob, "new").ok());
  };

  {
    SCOPED_TRACE("everyone's posts");
    const std::vector<int64_t> old = IdsNewestFirst();
    const std::vector<Post> seen = WalkAllPages(0, 7, write_one);
    EXPECT_EQ(OldIdsInOrder(seen, old), old);
    ExpectNewestFirst(seen);
  }
  {
    SCOPED_TRACE("alice's posts");
    const std::string mine = "user_id = " + std::to_string(alice);
    const std::vector<int64_t> old = IdsNewestFirst(mine);
    const std::vector<Post> seen = WalkAllPages(alice, 9, write_one);
    EXPECT_EQ(OldIdsInOrder(seen, old), old);
    ExpectNewestFirst(seen);
    for (const Post& post : seen) EXPECT_EQ(post.user_id(), alice);
  }
  EXPECT_GT(written_between_pages, 30);
}

TEST_F(BothServicesTest, PageSizeDefaultsClampsAndRejectsNegative) {
  StartServices();
  QueryPosts("INSERT INTO posts (user_id, body) SELECT 1, 'p' || g FROM generate_series(1, 130) g");

  ListPostsResponse response;
  ASSERT_TRUE(ListPosts(0, 0, "", &response).ok());
  EXPECT_EQ(response.posts_size(), 20);
  EXPECT_FALSE(response.next_page_token().empty());

  ASSERT_TRUE(ListPosts(0, 1000, "", &response).ok());
  EXPECT_EQ(response.posts_size(), 100);
  ASSERT_TRUE(ListPosts(0, 100, response.next_page_token(), &response).ok());
  EXPECT_EQ(response.posts_size(), 30);
  EXPECT_TRUE(response.next_page_token().empty());

  // A page that ends exactly at the last post has no next token.
  ASSERT_TRUE(ListPosts(0, 65, "", &response).ok());
  ASSERT_TRUE(ListPosts(0, 65, response.next_page_token(), &response).ok());
  EXPECT_EQ(response.posts_size(), 65);
  EXPECT_TRUE(response.next_page_token().empty());

  grpc::Status status = ListPosts(0, -1, "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"page_size"});

  // An author without posts: an empty last page.
  ASSERT_TRUE(ListPosts(99, 0, "", &response).ok());
  EXPECT_EQ(response.posts_size(), 0);
  EXPECT_TRUE(response.next_page_token().empty());
}

TEST_F(BothServicesTest, MalformedOrForeignPageTokensAreInvalidArgument) {
  StartServices();
  QueryPosts(
      "INSERT INTO posts (user_id, body) SELECT 1 + g % 2, 'p' || g "
      "FROM generate_series(1, 10) g");
  ListPostsResponse everyone;
  ASSERT_TRUE(ListPosts(0, 3, "", &everyone).ok());
  ListPostsResponse ones;
  ASSERT_TRUE(ListPosts(1, 2, "", &ones).ok());
  ASSERT_FALSE(everyone.next_page_token().empty());
  ASSERT_FALSE(ones.next_page_token().empty());

  ListPostsResponse response;
  const std::vector<std::pair<int64_t, std::string>> bad = {
      {0, "not a token"},
      {0, everyone.next_page_token().substr(0, everyone.next_page_token().size() / 2)},
      {0, "!" + everyone.next_page_token()},
      {0, ones.next_page_token()},      // issued for user 1
      {2, ones.next_page_token()},      // issued for user 1
      {1, everyone.next_page_token()},  // issued for everyone
  };
  for (const auto& [user_id, token] : bad) {
    grpc::Status status = ListPosts(user_id, 3, token, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << "user_id " << user_id << " token " << token;
    EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"page_token"});
  }
  grpc::Status status = ListPosts(-1, 3, "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"user_id"});

  // The right pairing works.
  EXPECT_TRUE(ListPosts(1, 2, ones.next_page_token(), &response).ok());
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
