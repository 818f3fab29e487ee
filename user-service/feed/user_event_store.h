// Storage of user-service's outbox: the `user_events` table
// (migrations/user/0003_user_events.up.sql), read as a feed and pruned by
// retention. Events are written by the changes themselves
// (PostgresUserStore::Delete inserts 'user.deleted' in its own statement).
//
// UserEventStore is the interface the feed's logic (user_events.h) depends
// on; PostgresUserEventStore is the real one, on the service's
// ConnectionPool (prepare its statements with PrepareStatements()).
//
// The feed is ordered by FeedPosition (the writing transaction's id, then
// the event's id) and only hands out events of transactions older than
// every transaction still running, so that an event whose transaction
// commits late is never skipped (see the migration for why).
//
// Errors of every method, besides those it lists: UNAVAILABLE,
// DEADLINE_EXCEEDED, INTERNAL (message may hold SQL details).
// Thread-safety: implementations must be thread-safe.
#ifndef MICROBLOG_USER_SERVICE_FEED_USER_EVENT_STORE_H_
#define MICROBLOG_USER_SERVICE_FEED_USER_EVENT_STORE_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include <pqxx/connection>

#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "common/db/connection_pool.h"
#include "user-service/feed/user_event_records.h"

namespace microblog {
namespace user {

class UserEventStore {
 public:
  virtual ~UserEventStore() = default;

  // Up to `limit` events after `after` (nullopt: from the oldest kept), in
  // feed order, and whether more are committed but held back by an older
  // transaction still running. OUT_OF_RANGE when retention deleted events
  // after `after` (the reader missed them).
  virtual absl::StatusOr<FeedPage> ListAfter(const std::optional<FeedPosition>& after, int limit,
                                             Clock::time_point deadline) = 0;

  // Deletes the events older than `retention` that the feed has already
  // made visible, and records the newest one deleted (for ListAfter's
  // OUT_OF_RANGE). Returns how many it deleted.
  virtual absl::StatusOr<int64_t> Prune(std::chrono::seconds retention,
                                        Clock::time_point deadline) = 0;
};

class PostgresUserEventStore final : public UserEventStore {
 public:
  // Prepares the store's statements on a new connection (a
  // ConnectionPoolOptions::prepare step). Throws pqxx exceptions.
  static void PrepareStatements(pqxx::connection& connection);

  // `pool` is borrowed and must prepare its connections with
  // PrepareStatements().
  explicit PostgresUserEventStore(ConnectionPool& pool) : pool_(pool) {}

  absl::StatusOr<FeedPage> ListAfter(const std::optional<FeedPosition>& after, int limit,
                                     Clock::time_point deadline) override;
  absl::StatusOr<int64_t> Prune(std::chrono::seconds retention,
                                Clock::time_point deadline) override;

 private:
  ConnectionPool& pool_;
};

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_FEED_USER_EVENT_STORE_H_
