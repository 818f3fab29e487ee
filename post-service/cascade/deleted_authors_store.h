// Storage side of the DeleteUser cascade in post-service's database
// (migrations/post/0003_user_tombstones.up.sql): removing deleted authors'
// posts under a tombstone, the stored cursor of the user-event feed, and
// the walk over every author that reconciliation makes.
//
// DeletedAuthorsStore is the interface the consumer (user_event_consumer.h)
// and reconciliation (reconciler.h) depend on; PostgresDeletedAuthorsStore
// is the real one, on a ConnectionPool of its own (a background task must
// not take connections from the RPCs):
//
//   ConnectionPoolOptions options;
//   options.url = url;
//   options.size = 1;
//   options.prepare = &PostgresDeletedAuthorsStore::PrepareStatements;
//   ConnectionPool pool(std::move(options));
//   PostgresDeletedAuthorsStore store(pool);
//
// Removing an author takes its exclusive advisory lock, inserts its
// tombstone and deletes its posts in one transaction: see author_locks.h
// for how that closes the race with CreatePost.
//
// Errors of every method, besides those it lists: UNAVAILABLE,
// DEADLINE_EXCEEDED, INTERNAL (message may hold SQL details).
// Thread-safety: implementations must be thread-safe.
#ifndef MICROBLOG_POST_SERVICE_CASCADE_DELETED_AUTHORS_STORE_H_
#define MICROBLOG_POST_SERVICE_CASCADE_DELETED_AUTHORS_STORE_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/connection>

#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "common/db/connection_pool.h"
#include "post-service/revoked_tokens.h"

namespace microblog {
namespace post {

// A user to remove: who, and since when they do not exist.
struct DeletedAuthor {
  int64_t user_id = 0;
  int64_t deleted_micros = 0;  // microseconds since the Unix epoch
};

// Where a tombstone came from (user_tombstones.source).
enum class RemovalSource { kEvent, kReconcile };

// What ApplyFeedPage did.
struct FeedPageResult {
  enum Outcome {
    kApplied,  // the page's effects and the new cursor committed
    kBusy,     // another replica holds the cursor: it is applying
    kMoved,    // the cursor is no longer `from`: someone applied meanwhile
  };
  Outcome outcome = kApplied;
  int64_t posts_removed = 0;
};

class DeletedAuthorsStore {
 public:
  virtual ~DeletedAuthorsStore() = default;

  // The stored cursor of `feed` ("" = the feed's beginning).
  virtual absl::StatusOr<std::string> ReadCursor(const std::string& feed,
                                                 Clock::time_point deadline) = 0;

  // In one transaction, if `feed`'s cursor is still `from` and no other
  // replica holds it: removes `authors` (tombstone + posts, source event),
  // stores `revocations` (credentials_revocations; their applied_micros
  // are the changes' times) and moves the cursor to `to`. Applying a page
  // twice has the effect of applying it once.
  virtual absl::StatusOr<FeedPageResult> ApplyFeedPage(
      const std::string& feed, const std::string& from, const std::string& to,
      const std::vector<DeletedAuthor>& authors,
      const std::vector<CredentialsRevocation>& revocations, Clock::time_point deadline) = 0;

  // The revocations stored after `after_micros` (microseconds since the
  // epoch; 0: all), with when each was stored.
  virtual absl::StatusOr<std::vector<CredentialsRevocation>> RevocationsSince(
      int64_t after_micros, Clock::time_point deadline) = 0;

  // Sets `feed`'s cursor to "" (its beginning) if it still is `from`:
  // after a retention overrun, once reconciliation has covered what the
  // feed lost.
  virtual absl::Status ResetCursor(const std::string& feed, const std::string& from,
                                   Clock::time_point deadline) = 0;

  // Removes `authors` (tombstone + posts) in one transaction; returns how
  // many posts it deleted.
  virtual absl::StatusOr<int64_t> RemoveAuthors(const std::vector<DeletedAuthor>& authors,
                                                RemovalSource source,
                                                Clock::time_point deadline) = 0;

  // Up to `limit` distinct user ids that have posts, ascending, above
  // `after`.
  virtual absl::StatusOr<std::vector<int64_t>> AuthorsAfter(int64_t after, int limit,
                                                            Clock::time_point deadline) = 0;
};

class PostgresDeletedAuthorsStore final : public DeletedAuthorsStore {
 public:
  // Prepares the store's statements on a new connection. Throws pqxx
  // exceptions.
  static void PrepareStatements(pqxx::connection& connection);

  // `pool` is borrowed and must prepare its connections with
  // PrepareStatements().
  explicit PostgresDeletedAuthorsStore(ConnectionPool& pool) : pool_(pool) {}

  absl::StatusOr<std::string> ReadCursor(const std::string& feed,
                                         Clock::time_point deadline) override;
  absl::StatusOr<FeedPageResult> ApplyFeedPage(
      const std::string& feed, const std::string& from, const std::string& to,
      const std::vector<DeletedAuthor>& authors,
      const std::vector<CredentialsRevocation>& revocations, Clock::time_point deadline) override;
  absl::StatusOr<std::vector<CredentialsRevocation>> RevocationsSince(
      int64_t after_micros, Clock::time_point deadline) override;
  absl::Status ResetCursor(const std::string& feed, const std::string& from,
                           Clock::time_point deadline) override;
  absl::StatusOr<int64_t> RemoveAuthors(const std::vector<DeletedAuthor>& authors,
                                        RemovalSource source, Clock::time_point deadline) override;
  absl::StatusOr<std::vector<int64_t>> AuthorsAfter(int64_t after, int limit,
                                                    Clock::time_point deadline) override;

 private:
  ConnectionPool& pool_;
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_CASCADE_DELETED_AUTHORS_STORE_H_
