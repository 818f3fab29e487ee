#include "post-service/author_checker.h"

#include <algorithm>
#include <memory>
#include <unordered_set>
#include <utility>

#include <grpc/grpc.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/log.h"
#include "common/status.h"

namespace microblog {
namespace post {
namespace {

// Round-robin over every resolved address; gRPC retries UNAVAILABLE answers
// of user-service (its database restarting, one replica going away) within
// the call's deadline. post-service only reads from it, so a retry is always safe.
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
    absl::StatusOr<std::string> ca = ReadSettingFile(options.tls_ca_file, "USER_SERVICE_TLS_CA_FILE");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::string> cert =
        ReadSettingFile(options.tls_cert_file, "USER_SERVICE_TLS_CERT_FILE");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadSettingFile(options.tls_key_file, "USER_SERVICE_TLS_KEY_FILE");
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

// At most this many ids per BatchGetUsers call: what user-service accepts.
constexpr std::size_t kMaxBatch = 100;
// Calls to user-service in progress at once; the checks that arrive
// meanwhile wait for the next one.
constexpr std::size_t kCallsInFlight = 2;

// One BatchGetUsers call in flight: what gRPC needs alive until it calls back.
struct BatchGetUsersCall {
  grpc::ClientContext context;
  microblog::user::v1::BatchGetUsersRequest request;
  microblog::user::v1::BatchGetUsersResponse response;
  std::vector<int64_t> asked;  // one user id per check, in check order
};

// One result per check of `call`, from user-service's answer `status`.
std::vector<absl::StatusOr<bool>> AuthorsOf(const BatchGetUsersCall& call,
                                            const grpc::Status& status) {
  if (!status.ok()) {
    // Whatever went wrong (down, slow, failing), the authors could not be
    // checked: the callers may retry later, so say UNAVAILABLE, never store.
    // The channel's message names internal addresses: it goes to our log,
    // not to the clients.
    Log(LogLevel::kWarn, "author check failed",
        {{"users", static_cast<int64_t>(call.request.ids_size())},
         {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))},
         {"cause", status.error_message()}});
    return std::vector<absl::StatusOr<bool>>(
        call.asked.size(), absl::UnavailableError("user-service unavailable; retry later"));
  }
  std::unordered_set<int64_t> found;
  for (const microblog::user::v1::User& user : call.response.users()) found.insert(user.id());
  std::vector<absl::StatusOr<bool>> results;
  results.reserve(call.asked.size());
  for (int64_t user_id : call.asked) {
    if (found.count(user_id) != 0) {
      results.push_back(true);
    } else {
      results.push_back(NotFoundResource("user", user_id));
    }
  }
  return results;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcAuthorChecker>> GrpcAuthorChecker::Create(
    const UserServiceChannelOptions& options) {
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
  return std::unique_ptr<GrpcAuthorChecker>(
      new GrpcAuthorChecker(std::move(channel), options.timeout));
}

GrpcAuthorChecker::GrpcAuthorChecker(std::shared_ptr<grpc::Channel> channel,
                                     std::chrono::milliseconds timeout)
    : channel_(std::move(channel)),
      stub_(microblog::user::v1::UserService::NewStub(channel_)),
      timeout_(timeout),
      checks_(
          [this](std::vector<Check> checks, Clock::time_point deadline,
                 CheckBatcher::Finished finished) {
            AskUserService(std::move(checks), deadline, std::move(finished));
          },
          kMaxBatch, kCallsInFlight) {}

void GrpcAuthorChecker::CheckAuthor(int64_t user_id, Clock::time_point deadline,
                                    const TraceContext& trace, Answer done) {
  checks_.Add({user_id, trace}, deadline,
              [done = std::move(done)](absl::StatusOr<bool> exists) mutable {
                std::move(done)(exists.status());
              });
}

void GrpcAuthorChecker::AskUserService(std::vector<Check> checks, Clock::time_point deadline,
                                       CheckBatcher::Finished finished) {
  // Shared with gRPC's callback, which must be copyable.
  auto call = std::make_shared<BatchGetUsersCall>();
  call->context.set_deadline(std::min(deadline, Clock::now() + timeout_));
  std::unordered_set<int64_t> distinct;
  bool traced = false;
  for (const Check& check : checks) {
    call->asked.push_back(check.user_id);
    if (distinct.insert(check.user_id).second) call->request.add_ids(check.user_id);
    if (!traced && !check.trace.traceparent.empty()) {
      AddTo(check.trace, call->context);
      traced = true;
    }
  }
  auto answer = std::make_shared<CheckBatcher::Finished>(std::move(finished));
  stub_->async()->BatchGetUsers(&call->context, &call->request, &call->response,
                                [call, answer](grpc::Status status) {
                                  std::move(*answer)(AuthorsOf(*call, status));
                                });
}

}  // namespace post
}  // namespace microblog
