// post-service's channel to user-service: one long-lived gRPC channel that
// every part talking to user-service shares (the author checks, the
// user-event consumer, reconciliation).
//
//   UserServiceChannelOptions options;
//   options.target = "dns:///user-service:50051";
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewUserServiceChannel(options);
//
// The channel balances round-robin over every address the target resolves
// to, sends keepalive pings on long calls, lets gRPC itself retry
// UNAVAILABLE answers (a few attempts with backoff, within the deadline:
// post-service only reads from user-service, so a retry is always safe),
// and reconnects within seconds after user-service comes back.
#ifndef MICROBLOG_POST_SERVICE_USER_SERVICE_CHANNEL_H_
#define MICROBLOG_POST_SERVICE_USER_SERVICE_CHANNEL_H_

#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "common/rpc/rpc_metrics.h"

namespace microblog {
namespace post {

// How post-service reaches user-service.
struct UserServiceChannelOptions {
  // gRPC target of user-service: "host:port" or "dns:///host:port" (every
  // address of the name is used, round-robin).
  std::string target = "localhost:50051";
  // Upper bound of one call (an author check, one page of reconciliation),
  // whatever the caller's deadline.
  std::chrono::milliseconds timeout{2000};
  // TLS, when any of these is set: tls_ca_file verifies the server (empty:
  // the system's roots); tls_cert_file and tls_key_file, set together, are
  // the client certificate for mutual TLS.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
};

// Builds the channel (it connects lazily, so user-service need not be up).
// With `metrics` (a client-side RpcMetrics, borrowed, outliving the
// channel), every call is counted in grpc_client_*. INVALID_ARGUMENT for an
// empty target, a non-positive timeout, an unreadable TLS file or a
// certificate without its key (or the reverse).
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewUserServiceChannel(
    const UserServiceChannelOptions& options, RpcMetrics* metrics = nullptr);

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_USER_SERVICE_CHANNEL_H_
