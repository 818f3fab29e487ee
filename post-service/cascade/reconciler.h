// Reconciliation: one pass over every distinct author in the posts table,
// asking user-service (BatchGetUsers, at a bounded rate) which still exist,
// and removing the posts of those that do not (tombstone + posts, as the
// DeleteUser cascade does; deleted_authors_store.h).
//
// It repairs what the event feed cannot: orphans from before the cascade
// existed, after a restore from backup, and after a retention overrun (the
// consumer runs a pass itself then, user_event_consumer.h). Run by
// `post-service reconcile` (a daily CronJob in deploy/).
//
//   Reconciler reconciler(store, *stub, options);
//   absl::StatusOr<ReconcileReport> report = reconciler.RunOnce();
//
// A user is removed only when user-service answered and did not return
// it; any failure to ask stops the pass with that error (nothing is
// guessed).
//
// Thread-safety: RunOnce() may run on several threads at once (it is
// idempotent), but one pass at a time is the intent.
#ifndef MICROBLOG_POST_SERVICE_CASCADE_RECONCILER_H_
#define MICROBLOG_POST_SERVICE_CASCADE_RECONCILER_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "microblog/user/v1/user_service.grpc.pb.h"
#include "post-service/cascade/deleted_authors_store.h"

namespace microblog {
namespace post {

struct ReconcileOptions {
  int batch_size = 100;         // ids per BatchGetUsers (user-service takes 100 at most)
  int batches_per_second = 10;  // the rate bound on user-service
  std::chrono::milliseconds call_timeout{2000};  // per BatchGetUsers call
};

// What a pass found and did.
struct ReconcileReport {
  int64_t authors_checked = 0;
  int64_t authors_missing = 0;
  int64_t posts_removed = 0;
  std::vector<int64_t> missing_users;  // the first kMaxListedMissing of them
};

class Reconciler {
 public:
  static constexpr std::size_t kMaxListedMissing = 100;

  // Everything is borrowed.
  Reconciler(DeletedAuthorsStore& store, microblog::user::v1::UserService::StubInterface& users,
             ReconcileOptions options);

  // One whole pass. Errors: the first failure of user-service (with its
  // code) or of the database; posts removed before it stay removed.
  absl::StatusOr<ReconcileReport> RunOnce();

 private:
  // The ids among `ids` that user-service does not know.
  absl::StatusOr<std::vector<int64_t>> Missing(const std::vector<int64_t>& ids);

  DeletedAuthorsStore& store_;
  microblog::user::v1::UserService::StubInterface& users_;
  const ReconcileOptions options_;
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_CASCADE_RECONCILER_H_
