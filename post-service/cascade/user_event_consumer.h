// post-service's side of the DeleteUser cascade: follows user-service's
// feed of account changes (UserService.ListUserEvents) and applies each
// deletion to the posts database (deleted_authors_store.h): a tombstone for
// the user and the deletion of its posts, in the same transaction as the
// move of the stored cursor. A password change (KIND_CREDENTIALS_CHANGED)
// is stored in the same transaction as a revocation of the user's older
// access tokens (credentials_revocations, read by every replica through
// revocation_refresh.h). A crash anywhere re-applies at most the page
// that had not committed, with the same effect.
//
//   UserEventConsumer consumer(store, *stub, reconciler, options);  // starts
//   ...                                                              // serves
//   // the destructor stops it
//
// Low latency without busy polling: each call is a long poll
// (options.wait) that user-service answers as soon as an event commits on
// any of its replicas; the poll's end is the slow safety net. While
// user-service is unreachable the consumer backs off exponentially with
// jitter up to options.max_backoff, logging at warn; post-service keeps
// serving meanwhile (reads, and CreatePost while its own author checks get
// through).
//
// Several replicas: each polls, and the one that locks the cursor row
// (FOR UPDATE SKIP LOCKED) applies a page; the others find it locked or
// moved, and read again from the new cursor.
//
// Retention overrun (user-service deleted events this consumer had not
// read: OUT_OF_RANGE): logged at error, then a reconciliation pass
// (reconciler.h) removes every missing author's posts, and the cursor
// restarts from the oldest kept event. Nothing is skipped silently.
//
// Metrics (with a Registry): microblog_user_events_applied_total counts
// the events of the pages this replica applied; microblog_user_events_lag_seconds
// is how far behind the feed it is at scrape time: 0 once a poll found
// nothing more, else the age of the oldest event it knows it has not
// applied (or, while polls fail, the time since the first failure), so it
// grows while the consumer is stuck.
//
// Thread-safety: runs on a thread of its own; construct and destroy from
// one thread.
#ifndef MICROBLOG_POST_SERVICE_CASCADE_USER_EVENT_CONSUMER_H_
#define MICROBLOG_POST_SERVICE_CASCADE_USER_EVENT_CONSUMER_H_

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>

#include <grpcpp/client_context.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/base/metrics.h"
#include "common/exec/stop_signal.h"
#include "microblog/user/v1/user_service.grpc.pb.h"
#include "post-service/cascade/deleted_authors_store.h"
#include "post-service/cascade/reconciler.h"

namespace microblog {
namespace post {

// The name of user-service's feed in event_cursors.
inline constexpr char kUserEventsFeed[] = "user-events";

struct UserEventConsumerOptions {
  // How long one ListUserEvents call waits for news (the safety-net poll).
  std::chrono::milliseconds wait{10000};
  // Added to `wait` for the call's deadline.
  std::chrono::milliseconds call_timeout{2000};
  int page_size = 100;
  // Back-off while user-service or the database fail: doubles from
  // `first_backoff` up to `max_backoff`, each pause jittered by +-50 %.
  std::chrono::milliseconds first_backoff{100};
  std::chrono::milliseconds max_backoff{30000};
};

class UserEventConsumer {
 public:
  // Starts consuming. Everything is borrowed and must outlive the consumer;
  // `metrics` (optional) must also outlive its scrapes.
  UserEventConsumer(DeletedAuthorsStore& store,
                    microblog::user::v1::UserService::StubInterface& users, Reconciler& reconciler,
                    UserEventConsumerOptions options, Registry* metrics = nullptr);
  // Cancels the call in flight and stops (a page being applied commits or
  // rolls back first).
  ~UserEventConsumer();

  UserEventConsumer(const UserEventConsumer&) = delete;
  UserEventConsumer& operator=(const UserEventConsumer&) = delete;

 private:
  // What one round asks for next.
  enum class Next { kPoll, kBackOff, kStandBy };

  void Run();
  // Reads the cursor, polls the feed once and applies what came.
  Next Step();
  // After OUT_OF_RANGE from the feed at `cursor`.
  Next RecoverFromOverrun(const std::string& cursor);
  // Logs `what` failed with `status` at warn; returns kBackOff.
  Next Failed(const char* what, const absl::Status& status);
  std::chrono::milliseconds Jittered(std::chrono::milliseconds base);
  // For the lag: the consumer is behind since `micros` (an event's time or
  // a failure's), unless it already was since earlier; or it caught up.
  void BehindSince(int64_t micros);
  void CaughtUp() { behind_since_micros_.store(0, std::memory_order_relaxed); }

  DeletedAuthorsStore& store_;
  microblog::user::v1::UserService::StubInterface& users_;
  Reconciler& reconciler_;
  const UserEventConsumerOptions options_;
  std::minstd_rand random_;     // used by the consumer's thread only
  Counter* applied_ = nullptr;  // microblog_user_events_applied_total, if metered
  // Microseconds since the epoch; 0 while caught up.
  std::atomic<int64_t> behind_since_micros_{0};

  StopSignal stop_;
  absl::Mutex mu_;
  grpc::ClientContext* call_ ABSL_GUARDED_BY(mu_) = nullptr;  // the call in flight
  std::thread thread_;                                        // last: started once the rest is set
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_CASCADE_USER_EVENT_CONSUMER_H_
