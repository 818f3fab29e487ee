// post-service's view of user-service: "does this author exist?".
//
// AuthorChecker is the interface the service logic (posts.h) depends on, so
// that the logic can be unit-tested with a fake and compiles without gRPC;
// GrpcAuthorChecker (grpc_author_checker.h) is the real one, asking
// microblog.user.v1.UserService over post-service's channel to it.
#ifndef MICROBLOG_POST_SERVICE_AUTHOR_CHECKER_H_
#define MICROBLOG_POST_SERVICE_AUTHOR_CHECKER_H_

#include <chrono>
#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "common/base/clock.h"
#include "common/base/trace_context.h"

namespace microblog {
namespace post {

// Checks that a user exists. Implementations must be thread-safe.
class AuthorChecker {
 public:
  // Receives the answer of one check, once.
  using Answer = absl::AnyInvocable<void(absl::Status author) &&>;

  virtual ~AuthorChecker() = default;

  // Calls `done` exactly once, from any thread, with OK when user `user_id`
  // exists. Errors:
  //  NOT_FOUND   - no such user; carries a google.rpc.ResourceInfo naming it
  //                (resource_type "user", resource_name the id);
  //  UNAVAILABLE - the answer could not be obtained before `deadline` (or
  //                the checker's own cap): user-service down, overloaded or
  //                failing;
  //  DEADLINE_EXCEEDED - `deadline` passed before the check was sent.
  // `done` never comes later than the deadline (or the cap) by more than the
  // cost of answering. `trace` goes with the question to user-service.
  virtual void CheckAuthor(int64_t user_id, Clock::time_point deadline, const TraceContext& trace,
                           Answer done) = 0;
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_AUTHOR_CHECKER_H_
