#include "common/service/server.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <limits>
#include <memory>
#include <thread>

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/rpc/health_service.h"
#include "common/rpc/malformed_request.h"
#include "common/rpc/rpc_metrics.h"
#include "common/service/access_log.h"
#include "common/service/connection_listener.h"
#include "common/service/health_updater.h"
#include "common/service/metrics_server.h"
#include "common/service/process_metrics.h"
#include "common/service/transport_security.h"

namespace microblog {
namespace {

using std::chrono::steady_clock;

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// Waits up to `timeout` for one of `signals` (blocked in this thread);
// true when one arrived.
bool WaitForSignal(const sigset_t& signals, std::chrono::milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - steady_clock::now());
    if (left <= std::chrono::nanoseconds::zero()) return false;
    timespec wait{static_cast<time_t>(left.count() / 1000000000),
                  static_cast<long>(left.count() % 1000000000)};
    if (sigtimedwait(&signals, nullptr, &wait) >= 0) return true;
    if (errno != EINTR) return false;  // EAGAIN: the time is up
  }
}

constexpr int kHandshakeTimeoutMs = 10000;

// A duration as a channel argument (an int of milliseconds).
int ClampedMillis(std::chrono::milliseconds value) {
  return static_cast<int>(std::min<int64_t>(value.count(), std::numeric_limits<int>::max()));
}

}  // namespace

void BlockShutdownSignals() {
  const sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int RunServer(const ServerSettings& settings, const std::string& server_name,
              const std::vector<ServedService>& services, ReadinessCheck readiness,
              std::function<void()> on_shutdown, Registry* registry,
              std::shared_ptr<AuthorizationEnforcer> authorization) {
  auto credentials = ServerCredentialsFor(settings);
  if (!credentials.ok()) {
    Log(LogLevel::kError, "cannot set up TLS", {{"cause", credentials.status().message()}});
    return 1;
  }
  if (authorization != nullptr) {
    if (settings.transport_security == TransportSecurity::kInsecure) {
      Log(LogLevel::kError, "an authorization policy needs TLS");
      return 1;
    }
    // The policy is checked in gRPC's server-auth filter, for every call.
    (*credentials)->SetAuthMetadataProcessor(std::move(authorization));
  }
  if (settings.transport_security == TransportSecurity::kInsecure) {
    Log(LogLevel::kWarn,
        "TRANSPORT_SECURITY=insecure: plaintext, no caller proves a service identity and no "
        "authorization policy applies; for local development only",
        {{"server", server_name}});
  }

  // The operator's hard open-file limit, not the soft default of 1024: each
  // client connection is a descriptor (common/service/connection_listener.h).
  const long open_files_limit = RaiseOpenFileLimit();

  // Debian's Abseil leaves mutex deadlock detection on, which costs ~4 % of
  // the CPU of a busy service (bench/README.md); our locks are simple.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  std::vector<std::string> names;
  for (const ServedService& served : services) names.push_back(served.full_name);

  // Prometheus metrics on their own HTTP port (METRICS_ADDRESS).
  Registry own_registry;
  Registry& metrics = registry != nullptr ? *registry : own_registry;
  std::unique_ptr<RpcMetrics> rpc_metrics;
  std::unique_ptr<MetricsServer> metrics_server;
  if (!settings.metrics_address.empty()) {
    rpc_metrics = std::make_unique<RpcMetrics>(metrics, RpcMetrics::Side::kServer, names);
    AddProcessMetrics(metrics);
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(settings.metrics_address, metrics);
    if (!started.ok()) {
      Log(LogLevel::kError, "cannot serve metrics", {{"cause", started.status().message()}});
      return 1;
    }
    metrics_server = *std::move(started);
  }
  // Starts NOT_SERVING until the first readiness check passes.
  HealthService health(names);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  // The services' own methods and health (Watch streams included) are on
  // the callback API; only reflection (light traffic) uses the sync
  // server's threads, so its default thread limits are right again
  // (bench/README.md tells how the sync server's thread churn used to cost
  // half the CPU).
  // Our own listener, not AddListeningPort: it survives descriptor
  // exhaustion and binds without SO_REUSEPORT (common/service/connection_listener.h).
  absl::StatusOr<std::unique_ptr<ConnectionListener>> listener =
      ConnectionListener::Bind(settings.listen_address, rpc_metrics ? &metrics : nullptr);
  if (!listener.ok()) {
    Log(LogLevel::kError, "cannot listen",
        {{"address", settings.listen_address}, {"cause", listener.status().message()}});
    return 1;
  }
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor =
      builder.experimental().AddExternalConnectionAcceptor(
          grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD, *credentials);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // A connection that has not finished its TLS and HTTP/2 handshake in this
  // time is closed (gRPC's default is 120 s): idle sockets cannot hold the
  // descriptors that real clients need for long.
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, kHandshakeTimeoutMs);
  // post-service keeps its channel to user-service alive with pings.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Connections age out (GOAWAY, then the grace for calls in progress), so
  // that long-lived clients re-resolve and reach replicas added since.
  if (settings.max_connection_age > std::chrono::milliseconds::zero()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               ClampedMillis(settings.max_connection_age));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               ClampedMillis(settings.max_connection_age_grace));
  }
  for (const ServedService& served : services) builder.RegisterService(served.service);
  builder.RegisterService(&health);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  // First: the access log and metrics below see the status it corrects.
  interceptors.push_back(MalformedRequestInterceptorFactory());
  interceptors.push_back(AccessLogInterceptorFactory(rpc_metrics.get(), settings.access_log));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));

  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    Log(LogLevel::kError, "cannot start the gRPC server", {{"address", settings.listen_address}});
    return 1;
  }
  (*listener)->Start(acceptor.get());
  Log(LogLevel::kInfo, "listening",
      {{"server", server_name},
       {"address", settings.listen_address},
       {"port", (*listener)->port()},
       {"transport_security", TransportSecurityName(settings.transport_security)},
       {"authz_policy", settings.authz_policy_file},
       {"metrics", settings.metrics_address},
       {"open_files_limit", static_cast<int64_t>(open_files_limit)}});

  std::thread signal_waiter([&] {
    const sigset_t set = ShutdownSignals();
    int signal_number = 0;
    sigwait(&set, &signal_number);
    Log(LogLevel::kInfo, "shutting down",
        {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
         {"drain_delay_ms", static_cast<int64_t>(settings.shutdown_drain_delay.count())},
         {"grace_ms", static_cast<int64_t>(settings.shutdown_grace.count())}});
    // Drain first: readiness NOT_SERVING while every call is still served,
    // so that load balancers, readiness probes and health-checking clients
    // move away. Only then Shutdown(): gRPC 1.51's server answers CANCELLED
    // to every call that reaches it once Shutdown() has begun, even one the
    // client sent before it saw the GOAWAY (docs/operations.md, "Scaling up, scaling
    // down and rollouts").
    health.StartDraining();
    if (settings.shutdown_drain_delay > std::chrono::milliseconds::zero()) {
      if (WaitForSignal(set, settings.shutdown_drain_delay)) {
        Log(LogLevel::kWarn, "drain delay cut short by a second signal");
      }
    }
    Log(LogLevel::kInfo, "stopping",
        {{"grace_ms", static_cast<int64_t>(settings.shutdown_grace.count())}});
    // Watch streams end, long polls answer (on_shutdown), new calls are
    // refused, and in-flight calls get the grace period.
    health.Shutdown();
    if (on_shutdown) on_shutdown();
    (*listener)->Stop();
    server->Shutdown(std::chrono::system_clock::now() + settings.shutdown_grace);
  });
  {
    HealthUpdater updater(&health, std::move(readiness), settings.health_check_interval);
    server->Wait();
  }
  signal_waiter.join();
  Log(LogLevel::kInfo, "stopped", {{"server", server_name}});
  return 0;
}

}  // namespace microblog
