// post-service's view of user-service: "does this author exist?".
//
// AuthorChecker is the interface the service logic depends on, so that it can
// be exercised with a fake; GrpcUserDirectory is the real one, asking
// microblog.user.v1.UserService over one long-lived gRPC channel:
//
//   absl::StatusOr<std::unique_ptr<GrpcUserDirectory>> users =
//       GrpcUserDirectory::Create({.target = "dns:///user-service:50051",
//                                  .timeout = std::chrono::milliseconds(2000)});
//   (*users)->CheckAuthor(user_id, deadline, TraceContextFrom(server_context),
//                         [](const absl::Status& author) { ... });
//
// Checks are batched (common/batch_loader.h): the checks that arrive while
// the previous BatchGetUsers call is in progress go together in the next
// one, so that under load one call to user-service answers dozens of
// CreatePost calls. Nothing is cached: every answer comes from user-service
// after the check was asked, so a deleted user is refused at once.
//
// The channel balances round-robin over every address the target resolves
// to, sends keepalive pings on long calls, and lets gRPC itself retry
// UNAVAILABLE answers (a few attempts with backoff, within the deadline).
#ifndef MICROBLOG_POST_SERVICE_USER_DIRECTORY_H_
#define MICROBLOG_POST_SERVICE_USER_DIRECTORY_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/batch_loader.h"
#include "common/trace_context.h"
#include "common/unary_call.h"
#include "microblog/user/v1/user_service.grpc.pb.h"

namespace microblog {
namespace post {

// Checks that a user exists. Implementations must be thread-safe.
class AuthorChecker {
 public:
  using Clock = std::chrono::system_clock;

  virtual ~AuthorChecker() = default;

  // Calls `done` exactly once, on another thread or (for an invalid
  // request) on this one, with OK when user `user_id` exists. Errors:
  //  NOT_FOUND  - no such user; carries a google.rpc.ResourceInfo naming it
  //               (resource_type "user", resource_name the id);
  //  UNAVAILABLE - the answer could not be obtained before `deadline` (or the
  //               checker's own cap): user-service down, overloaded or
  //               failing. `done` never comes later than the deadline
  //               (or the cap) by more than the cost of answering.
  // `trace` goes with the question to user-service.
  virtual void CheckAuthor(int64_t user_id, Clock::time_point deadline, const TraceContext& trace,
                           Reply done) = 0;
};

struct UserDirectoryOptions {
  // gRPC target of user-service: "host:port" or "dns:///host:port" (every
  // address of the name is used, round-robin).
  std::string target = "localhost:50051";
  // Upper bound of one check, whatever the caller's deadline.
  std::chrono::milliseconds timeout{2000};
  // TLS, when any of these is set: tls_ca_file verifies the server (empty:
  // the system's roots); tls_cert_file and tls_key_file, set together, are
  // the client certificate for mutual TLS.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
};

class GrpcUserDirectory final : public AuthorChecker {
 public:
  // Builds the channel (it connects lazily, so user-service need not be up).
  // INVALID_ARGUMENT for an unreadable TLS file or a certificate without its
  // key (or the reverse).
  static absl::StatusOr<std::unique_ptr<GrpcUserDirectory>> Create(
      const UserDirectoryOptions& options);

  GrpcUserDirectory(const GrpcUserDirectory&) = delete;
  GrpcUserDirectory& operator=(const GrpcUserDirectory&) = delete;

  // Asks UserService.BatchGetUsers, together with the checks queued at the
  // same time, with deadline min(latest deadline of the batch, now +
  // timeout); a check whose own deadline passed while it was queued is
  // DEADLINE_EXCEEDED. A batched call carries the trace context of its
  // first traced check. Thread-safe.
  void CheckAuthor(int64_t user_id, Clock::time_point deadline, const TraceContext& trace,
                   Reply done) override;

 private:
  // One check, as the batch loader sees it: checks with different trace
  // contexts are distinct keys, so each trace is still forwarded when it is
  // alone in its batch.
  struct Check {
    int64_t user_id;
    TraceContext trace;
    bool operator==(const Check& other) const {
      return user_id == other.user_id && trace.traceparent == other.trace.traceparent &&
             trace.tracestate == other.trace.tracestate;
    }
  };
  struct CheckHash {
    std::size_t operator()(const Check& check) const {
      return std::hash<int64_t>()(check.user_id) ^ std::hash<std::string>()(check.trace.traceparent);
    }
  };

  GrpcUserDirectory(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout);

  // The batch: one BatchGetUsers call for all `checks`.
  std::vector<absl::StatusOr<bool>> CheckBatch(const std::vector<Check>& checks,
                                               Clock::time_point deadline);

  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<microblog::user::v1::UserService::Stub> stub_;
  const std::chrono::milliseconds timeout_;
  BatchLoader<Check, bool, CheckHash> checks_;
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_USER_DIRECTORY_H_
