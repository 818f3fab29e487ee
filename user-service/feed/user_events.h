// The feed of account changes, apart from gRPC: UserService.ListUserEvents
// (a long poll over the outbox, user_event_store.h) and the outbox's
// retention.
//
//   PostgresUserEventStore store(pool);
//   WaitList new_events;
//   PgListener listener(url, kUserEventsChannel, [&] { new_events.NotifyAll(); });
//   UserEventFeed feed(store, db_workers, new_events, std::chrono::hours(24 * 7));
//   feed.ListUserEvents(request, deadline, response, std::move(done));
//   PeriodicTask pruning("prune-user-events", interval, [&] { feed.PruneExpired(); });
//
// A call that finds no event and asked to wait parks in `new_events` (no
// thread waits) until a notification, its wait or its deadline, then reads
// again. Reads run on `db_workers`.
//
// Thread-safety: all methods may run concurrently. Everything borrowed must
// outlive the calls in flight: close `new_events` (WaitList::Close) before
// destroying the feed, and destroy the workers before the store.
#ifndef MICROBLOG_USER_SERVICE_FEED_USER_EVENTS_H_
#define MICROBLOG_USER_SERVICE_FEED_USER_EVENTS_H_

#include <chrono>
#include <memory>

#include "common/base/clock.h"
#include "common/exec/reply.h"
#include "common/exec/wait_list.h"
#include "common/exec/worker_pool.h"
#include "microblog/user/v1/user_service.pb.h"
#include "user-service/feed/user_event_store.h"

namespace microblog {
namespace user {

// The NOTIFY channel of migrations/user/0003 (a trigger on user_events).
inline constexpr char kUserEventsChannel[] = "user_events";

class UserEventFeed {
 public:
  // Everything is borrowed. Events older than `retention` are deleted by
  // PruneExpired().
  UserEventFeed(UserEventStore& store, WorkerPool& db_workers, WaitList& new_events,
                std::chrono::seconds retention);

  UserEventFeed(const UserEventFeed&) = delete;
  UserEventFeed& operator=(const UserEventFeed&) = delete;

  // Fills `response` and then calls `done` exactly once: on this thread
  // when the request is invalid, on a worker thread otherwise; at the
  // latest when its wait (or, a little before, `deadline`) passes.
  // `request` and `response` must stay valid until then.
  void ListUserEvents(const microblog::user::v1::ListUserEventsRequest& request,
                      Clock::time_point deadline,
                      microblog::user::v1::ListUserEventsResponse& response, Reply done);

  // Deletes the events older than the retention, logging what it did.
  // Blocks (run it on a background thread).
  void PruneExpired();

 private:
  struct Poll;
  // Reads the feed for `poll` on a worker; answers, or waits for news.
  void Read(std::shared_ptr<Poll> poll);

  UserEventStore& store_;
  WorkerPool& db_workers_;
  WaitList& new_events_;
  const std::chrono::seconds retention_;
};

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_FEED_USER_EVENTS_H_
