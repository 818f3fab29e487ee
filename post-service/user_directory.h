// post-service's view of user-service: "does this author exist?".
//
// AuthorChecker is the interface the service logic depends on, so that it can
// be exercised with a fake; GrpcUserDirectory is the real one, calling
// microblog.user.v1.UserService.GetUser over one long-lived gRPC channel:
//
//   absl::StatusOr<std::unique_ptr<GrpcUserDirectory>> users =
//       GrpcUserDirectory::Create({.target = "dns:///user-service:50051",
//                                  .timeout = std::chrono::milliseconds(2000)});
//   absl::Status author = (*users)->CheckAuthor(user_id, deadline,
//                                               TraceContextFrom(server_context));
//
// The channel balances round-robin over every address the target resolves
// to, sends keepalive pings on long calls, and lets gRPC itself retry
// UNAVAILABLE answers (a few attempts with backoff, within the deadline).
#ifndef MICROBLOG_POST_SERVICE_USER_DIRECTORY_H_
#define MICROBLOG_POST_SERVICE_USER_DIRECTORY_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/server_context.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "microblog/user/v1/user_service.grpc.pb.h"

namespace microblog {
namespace post {

// W3C trace context of an incoming call, forwarded on the calls it causes so
// that one trace spans both services. Empty fields are not sent.
struct TraceContext {
  std::string traceparent;
  std::string tracestate;
};

// The trace context of `context`'s client metadata (empty when absent).
TraceContext TraceContextFrom(const grpc::ServerContext& context);

// Checks that a user exists. Implementations must be thread-safe.
class AuthorChecker {
 public:
  using Clock = std::chrono::system_clock;

  virtual ~AuthorChecker() = default;

  // OK when user `user_id` exists. Errors:
  //  NOT_FOUND  - no such user; carries a google.rpc.ResourceInfo naming it
  //               (resource_type "user", resource_name the id);
  //  UNAVAILABLE - the answer could not be obtained before `deadline` (or the
  //               checker's own cap): user-service down, overloaded or
  //               failing. Never blocks past the deadline.
  virtual absl::Status CheckAuthor(int64_t user_id, Clock::time_point deadline,
                                   const TraceContext& trace) = 0;
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

  // Calls UserService.GetUser with deadline min(`deadline`, now + timeout).
  // Thread-safe.
  absl::Status CheckAuthor(int64_t user_id, Clock::time_point deadline,
                           const TraceContext& trace) override;

 private:
  GrpcUserDirectory(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout);

  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<microblog::user::v1::UserService::Stub> stub_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_USER_DIRECTORY_H_
