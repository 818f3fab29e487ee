// The `posts` table of post-service's own PostgreSQL database.
//
// Every statement is a named prepared statement, declared together in
// post_store.cc (PrepareStatements) and prepared on each new connection of the
// pool:
//
//   ConnectionPool pool({.url = url, .size = 8,
//                        .prepare = &PostStore::PrepareStatements});
//   PostStore store(pool);
//   absl::StatusOr<Post> post = store.Create({user_id, body, request_id}, deadline);
//
// The store trusts its arguments: validate requests first
// (post_validation.h), and check authors with user-service before Create().
// Errors: those of ConnectionPool::Run (UNAVAILABLE while the database is
// unreachable, DEADLINE_EXCEEDED, INTERNAL), plus the ones documented per
// method.
//
// Thread-safety: all methods are thread-safe (each runs on its own pooled
// connection). Not copyable.
#ifndef MICROBLOG_POST_SERVICE_POST_STORE_H_
#define MICROBLOG_POST_SERVICE_POST_STORE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/connection>

#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/connection_pool.h"
#include "microblog/post/v1/post_service.pb.h"
#include "post-service/post_validation.h"

namespace microblog {
namespace post {

// One page of a listing.
struct PostPage {
  std::vector<microblog::post::v1::Post> posts;  // newest first
  std::optional<PageKey> next;                   // set when more posts follow
};

// A user's first page of posts: what a timeline shows first, the hottest
// ListPosts call.
struct FirstPageKey {
  int64_t user_id = 0;
  int page_size = 0;
  bool operator==(const FirstPageKey& other) const {
    return user_id == other.user_id && page_size == other.page_size;
  }
};
struct FirstPageKeyHash {
  std::size_t operator()(const FirstPageKey& key) const {
    return absl::HashOf(key.user_id, key.page_size);
  }
};

// A post to store.
struct NewPost {
  int64_t user_id = 0;
  std::string body;
  std::string request_id;  // empty: none
};

class PostStore {
 public:
  using Clock = ConnectionPool::Clock;

  // Prepares every statement the store uses on `connection`; meant for
  // ConnectionPoolOptions::prepare. Throws pqxx exceptions.
  static void PrepareStatements(pqxx::connection& connection);

  // `pool` is borrowed and must outlive the store; its connections must have
  // been prepared with PrepareStatements.
  explicit PostStore(ConnectionPool& pool) : pool_(pool) {}
  PostStore(const PostStore&) = delete;
  PostStore& operator=(const PostStore&) = delete;

  // Stores a new post; create_time is the database server's clock.
  // With a non-empty `request_id`, concurrent and repeated calls store one
  // post only (the unique index on request_id decides, not a prior read):
  // a call whose request_id is taken returns the stored post when user_id
  // and body match, and ALREADY_EXISTS (naming request_id) when they do not.
  absl::StatusOr<microblog::post::v1::Post> Create(const NewPost& post,
                                                   Clock::time_point deadline);

  // Stores `posts` as Create() would, one result per post in the same
  // order, all in one transaction: one commit (one WAL flush) for the
  // batch. Each post's own outcome (ALREADY_EXISTS...) is its own; an error
  // of the transaction (database down, commit lost) is every post's, and
  // then none is stored.
  std::vector<absl::StatusOr<microblog::post::v1::Post>> CreateMany(
      const std::vector<NewPost>& posts, Clock::time_point deadline);

  // The posts `ids` (distinct), one result per id in the same order: the
  // post, or NOT_FOUND (with a ResourceInfo detail) when it does not exist,
  // or the error of the whole query. One query for all of them.
  std::vector<absl::StatusOr<microblog::post::v1::Post>> GetMany(const std::vector<int64_t>& ids,
                                                                  Clock::time_point deadline);

  // Up to `query.page_size` posts, newest first (create_time, then id,
  // descending), of `query.user_id` (0: all) strictly after `query.after`.
  absl::StatusOr<PostPage> List(const ListPostsQuery& query, Clock::time_point deadline);

  // The first pages of several users' posts, one query for all: one
  // result per key, in order, each what List() answers for {user_id,
  // page_size, no cursor}. Keys must be distinct.
  std::vector<absl::StatusOr<PostPage>> ListFirstPages(const std::vector<FirstPageKey>& keys,
                                                       Clock::time_point deadline);

  // Deletes the post `id`, or NOT_FOUND (with a ResourceInfo detail).
  absl::Status Delete(int64_t id, Clock::time_point deadline);

 private:
  ConnectionPool& pool_;
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_POST_STORE_H_
