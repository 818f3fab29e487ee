// The access tokens post-service refuses although they verify: those of a
// user whose password changed after they were issued (their `ver` claim is
// below the version user-service's 'credentials changed' event announced).
// A deleted user's tokens need no entry: CreatePost asks user-service about
// the author anyway (and refuses with UNAUTHENTICATED "access token
// revoked" when the token's own user is gone), and DeletePost's statement
// reads the user's tombstone.
//
//   RevokedTokens revoked;
//   revoked.Add({{user_id, min_version, changed_micros}});  // from the store
//   if (revoked.IsRevoked(caller)) return TokenRevoked();
//
// How it is kept current (post-service/main.cc): loaded from
// credentials_revocations at start-up, then refreshed every
// kRevocationRefresh with the rows applied lately (by whichever replica's
// consumer applied the feed page, cascade/user_event_consumer.h). So a
// password change reaches every replica within the feed's delivery (p99
// under 1 s while both services run) plus kRevocationRefresh.
//
// Thread-safety: all methods may run concurrently.
#ifndef MICROBLOG_POST_SERVICE_REVOKED_TOKENS_H_
#define MICROBLOG_POST_SERVICE_REVOKED_TOKENS_H_

#include <chrono>
#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/base/caller.h"

namespace microblog {
namespace post {

inline constexpr std::chrono::seconds kRevocationRefresh{1};

// One row of credentials_revocations: tokens of `user_id` with a `ver`
// below `min_version` are revoked.
struct CredentialsRevocation {
  int64_t user_id = 0;
  int64_t min_version = 0;
  int64_t applied_micros = 0;  // when it was stored (for incremental refresh)
};

class RevokedTokens {
 public:
  // Records `revocations`; a lower min_version than one known is ignored.
  void Add(const std::vector<CredentialsRevocation>& revocations);

  // Whether `caller`'s token (if any) is revoked. Privileged callers and
  // calls without a token never are.
  bool IsRevoked(const Caller& caller) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int64_t, int64_t> min_version_ ABSL_GUARDED_BY(mu_);
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_REVOKED_TOKENS_H_
