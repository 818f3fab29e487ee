#include "post-service/user_service_channel.h"

#include <utility>

#include <grpc/grpc.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "common/service/config.h"

namespace microblog {
namespace post {
namespace {

// Round-robin over every resolved address that is healthy: gRPC's
// client-side health checking watches each replica's health service
// (grpc.health.v1.Health/Watch of UserService), so calls leave a replica as
// soon as it says NOT_SERVING, e.g. when it starts draining on SIGTERM,
// while it still serves (docs/operations.md, "Scaling up, scaling down and
// rollouts"). gRPC retries UNAVAILABLE answers of user-service (its
// database restarting, one replica going away) within the call's deadline. post-service only reads
// from it, so a retry is always safe.
constexpr char kServiceConfig[] = R"json({
  "loadBalancingConfig": [{"round_robin": {}}],
  "healthCheckConfig": {"serviceName": "microblog.user.v1.UserService"},
  "methodConfig": [{
    "name": [{"service": "microblog.user.v1.UserService"}],
    "retryPolicy": {
      "maxAttempts": 3,
      "initialBackoff": "0.05s",
      "maxBackoff": "0.5s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
})json";

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(
    const UserServiceChannelOptions& options) {
  if (options.tls_ca_file.empty() && options.tls_cert_file.empty() &&
      options.tls_key_file.empty()) {
    return grpc::InsecureChannelCredentials();
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "USER_SERVICE_TLS_CERT_FILE and USER_SERVICE_TLS_KEY_FILE must be set together");
  }
  grpc::SslCredentialsOptions ssl;
  if (!options.tls_ca_file.empty()) {
    absl::StatusOr<std::string> ca =
        ReadSettingFile(options.tls_ca_file, "USER_SERVICE_TLS_CA_FILE");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert =
        ReadSettingFile(options.tls_cert_file, "USER_SERVICE_TLS_CERT_FILE");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key =
        ReadSettingFile(options.tls_key_file, "USER_SERVICE_TLS_KEY_FILE");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

grpc::ChannelArguments MakeChannelArguments() {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(kServiceConfig);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  // Detect a silently dead connection during a call; no pings while idle,
  // which servers would punish as abuse (GOAWAY too_many_pings).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // After user-service comes back, reconnect within seconds rather than
  // gRPC's default of up to two minutes of backoff.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  return args;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewUserServiceChannel(
    const UserServiceChannelOptions& options, RpcMetrics* metrics) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("USER_SERVICE_ADDR must not be empty");
  }
  if (options.timeout <= std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("USER_SERVICE_TIMEOUT_MS must be positive");
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = MakeCredentials(options);
  if (!credentials.ok()) return credentials.status();
  if (metrics == nullptr) {
    return grpc::CreateCustomChannel(options.target, *credentials, MakeChannelArguments());
  }
  return grpc::experimental::CreateCustomChannelWithInterceptors(
      options.target, *credentials, MakeChannelArguments(), ClientMetricsInterceptors(*metrics));
}

}  // namespace post
}  // namespace microblog
