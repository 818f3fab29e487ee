#include "post-service/user_directory.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include <grpc/grpc.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"

namespace microblog {
namespace post {
namespace {

// Round-robin over every resolved address; gRPC retries UNAVAILABLE answers
// of user-service (its database restarting, one replica going away) within
// the call's deadline. GetUser is a read, so retrying it is always safe.
constexpr char kServiceConfig[] = R"json({
  "loadBalancingConfig": [{"round_robin": {}}],
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

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(
    const UserDirectoryOptions& options) {
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
    absl::StatusOr<std::string> ca = ReadFile(options.tls_ca_file, "USER_SERVICE_TLS_CA_FILE");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert =
        ReadFile(options.tls_cert_file, "USER_SERVICE_TLS_CERT_FILE");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(options.tls_key_file, "USER_SERVICE_TLS_KEY_FILE");
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

// The metadata value of `key` in `context` ("" when absent).
std::string ClientMetadata(const grpc::ServerContext& context, const char* key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(key);
  if (it == metadata.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

TraceContext TraceContextFrom(const grpc::ServerContext& context) {
  return TraceContext{ClientMetadata(context, "traceparent"),
                      ClientMetadata(context, "tracestate")};
}

absl::StatusOr<std::unique_ptr<GrpcUserDirectory>> GrpcUserDirectory::Create(
    const UserDirectoryOptions& options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("USER_SERVICE_ADDR must not be empty");
  }
  if (options.timeout <= std::chrono::milliseconds::zero()) {
    return absl::InvalidArgumentError("USER_SERVICE_TIMEOUT_MS must be positive");
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeCredentials(options);
  if (!credentials.ok()) return credentials.status();
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.target, *credentials, MakeChannelArguments());
  return std::unique_ptr<GrpcUserDirectory>(
      new GrpcUserDirectory(std::move(channel), options.timeout));
}

GrpcUserDirectory::GrpcUserDirectory(std::shared_ptr<grpc::Channel> channel,
                                     std::chrono::milliseconds timeout)
    : channel_(std::move(channel)),
      stub_(microblog::user::v1::UserService::NewStub(channel_)),
      timeout_(timeout) {}

absl::Status GrpcUserDirectory::CheckAuthor(int64_t user_id, Clock::time_point deadline,
                                            const TraceContext& trace) {
  grpc::ClientContext context;
  context.set_deadline(std::min(deadline, Clock::now() + timeout_));
  if (!trace.traceparent.empty()) context.AddMetadata("traceparent", trace.traceparent);
  if (!trace.tracestate.empty()) context.AddMetadata("tracestate", trace.tracestate);

  microblog::user::v1::GetUserRequest request;
  request.set_id(user_id);
  microblog::user::v1::GetUserResponse response;
  const grpc::Status status = stub_->GetUser(&context, request, &response);
  if (status.ok()) return absl::OkStatus();

  const std::string id = std::to_string(user_id);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return NotFoundResource("user", id, absl::StrCat("user ", id, " does not exist"));
  }
  // Whatever else went wrong (down, slow, failing), the author could not be
  // checked: the caller may retry later, so say UNAVAILABLE, never store.
  // The channel's message names internal addresses: it goes to our log,
  // not to the client.
  Log(LogLevel::kWarn, "author check failed",
      {{"user_id", static_cast<int64_t>(user_id)},
       {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))},
       {"cause", status.error_message()}});
  return absl::UnavailableError("user-service unavailable; retry later");
}

}  // namespace post
}  // namespace microblog
