// Keeps a replica's RevokedTokens (../revoked_tokens.h) current with
// credentials_revocations, which the feed's consumer fills on whichever
// replica applies a page:
//
//   RevocationRefresh refresh(cascade_store, revoked);
//   refresh.RunOnce();  // at start-up: everything
//   PeriodicTask task("refresh-revocations", kRevocationRefresh, [&] { refresh.RunOnce(); });
//
// Each run reads the rows applied since the newest it has seen minus
// kOverlap: applied_at is its transaction's start, so a page committed late
// can carry a time older than rows already read; kOverlap (longer than any
// apply transaction may run) makes sure it is read. Reading a row twice is
// harmless. A failed run is logged and retried by the next.
//
// Thread-safety: RunOnce from one thread at a time.
#ifndef MICROBLOG_POST_SERVICE_CASCADE_REVOCATION_REFRESH_H_
#define MICROBLOG_POST_SERVICE_CASCADE_REVOCATION_REFRESH_H_

#include <chrono>
#include <cstdint>

#include "absl/status/status.h"
#include "post-service/cascade/deleted_authors_store.h"
#include "post-service/revoked_tokens.h"

namespace microblog {
namespace post {

class RevocationRefresh {
 public:
  static constexpr std::chrono::minutes kOverlap{10};

  // Both borrowed; they must outlive this object.
  RevocationRefresh(DeletedAuthorsStore& store, RevokedTokens& revoked)
      : store_(store), revoked_(revoked) {}

  // Reads what was applied lately into the RevokedTokens.
  absl::Status RunOnce();

 private:
  DeletedAuthorsStore& store_;
  RevokedTokens& revoked_;
  int64_t newest_micros_ = 0;  // 0: read everything
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_CASCADE_REVOCATION_REFRESH_H_
