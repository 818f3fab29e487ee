#include "common/service/server.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <ctime>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "common/service/connection_listener.h"
#include "common/rpc/health_service.h"
#include "common/base/log.h"
#include "common/rpc/malformed_request.h"
#include "common/base/metrics.h"
#include "common/service/metrics_server.h"
#include "common/service/process_metrics.h"
#include "common/rpc/rpc_metrics.h"
#include "common/base/trace_context.h"
#include "common/rpc/trace_metadata.h"

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

// gRPC's status codes have Abseil's values, so Abseil's names serve both.
// A value outside the known codes logs as its number.
std::string CodeName(grpc::StatusCode code) {
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? absl::StrCat(static_cast<int>(code)) : name;
}

// The level of a finished call's log line under `policy` (AccessLogPolicy,
// common/service/config.h); `ok_calls` counts the fast OK calls, for sampling.
// Successful health checks (probes, every few seconds) are always debug.
LogLevel AccessLogLevel(grpc::StatusCode code, double millis, bool health_check,
                        const AccessLogPolicy& policy, std::atomic<uint64_t>& ok_calls) {
  if (code == grpc::StatusCode::INTERNAL || code == grpc::StatusCode::UNKNOWN ||
      code == grpc::StatusCode::DATA_LOSS) {
    return LogLevel::kError;
  }
  if (code != grpc::StatusCode::OK) return LogLevel::kInfo;
  if (health_check) return LogLevel::kDebug;
  if (millis >= static_cast<double>(policy.slow.count())) return LogLevel::kInfo;
  if (policy.sample_every > 0 &&
      ok_calls.fetch_add(1, std::memory_order_relaxed) %
              static_cast<uint64_t>(policy.sample_every) ==
          0) {
    return LogLevel::kInfo;
  }
  return LogLevel::kDebug;
}

// Per call: the metrics (rpc_metrics.h) and the one log line per RPC:
// method, status code, duration, peer, trace; at the level AccessLogLevel
// says.
class RpcLogInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcLogInterceptor(grpc::experimental::ServerRpcInfo* info, RpcMetrics* metrics,
                    const AccessLogPolicy& policy, std::atomic<uint64_t>& ok_calls)
      : info_(info),
        metrics_(metrics),
        policy_(policy),
        ok_calls_(ok_calls),
        series_(metrics != nullptr
                    ? &metrics->RecordStart(info->method(), GrpcTypeName(info->type()))
                    : nullptr),
        start_(steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      const double seconds = std::chrono::duration<double>(steady_clock::now() - start_).count();
      if (series_ != nullptr) metrics_->RecordEnd(*series_, status.error_code(), seconds);
      const double millis = seconds * 1000;
      const LogLevel level =
          AccessLogLevel(status.error_code(), millis,
                         absl::StartsWith(info_->method(), "/grpc.health.v1.Health/"), policy_,
                         ok_calls_);
      // No line to write: skip gathering its fields.
      if (!LogEnabled(level)) return methods->Proceed();
      const std::string peer = info_->server_context()->peer();
      // The W3C trace context, when the caller sent one, ties this line to
      // the caller's span (post-service's calls to user-service carry a span
      // of their own): Log() adds it, as to every line of the call; calls
      // the handlers did not answer themselves (health, reflection) get it
      // here too. Untraced calls write no empty trace fields.
      ScopedLogTrace log_trace(SharedLogTraceOf(TraceContextFrom(*info_->server_context())));
      Log(level, "rpc",
          {{"method", info_->method()},
           {"code", CodeName(status.error_code())},
           {"duration_ms", millis},
           {"peer", peer},
           {"message", status.error_message()}});
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  RpcMetrics* metrics_;                  // null: no metrics
  const AccessLogPolicy& policy_;
  std::atomic<uint64_t>& ok_calls_;
  RpcMetrics::MethodSeries* series_;     // this call's, when metrics are on
  steady_clock::time_point start_;
};

class RpcLogInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  RpcLogInterceptorFactory(RpcMetrics* metrics, AccessLogPolicy policy)
      : metrics_(metrics), policy_(policy) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcLogInterceptor(info, metrics_, policy_, ok_calls_);
  }

 private:
  RpcMetrics* metrics_;
  const AccessLogPolicy policy_;
  std::atomic<uint64_t> ok_calls_{0};  // fast OK calls so far, for sampling
};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const ServerSettings& settings) {
  if (settings.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  auto cert = ReadSettingFile(settings.tls_cert_file, "TLS_CERT_FILE");
  if (!cert.ok()) return cert.status();
  auto key = ReadSettingFile(settings.tls_key_file, "TLS_KEY_FILE");
  if (!key.ok()) return key.status();
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!settings.tls_client_ca_file.empty()) {
    auto ca = ReadSettingFile(settings.tls_client_ca_file, "TLS_CLIENT_CA_FILE");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

// Keeps the health service in line with the readiness check until stopped.
class HealthUpdater {
 public:
  HealthUpdater(HealthService* health, ReadinessCheck readiness,
                std::chrono::milliseconds interval)
      : health_(health), readiness_(std::move(readiness)), interval_(interval),
        thread_([this] { Loop(); }) {}
  ~HealthUpdater() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  HealthUpdater(const HealthUpdater&) = delete;
  HealthUpdater& operator=(const HealthUpdater&) = delete;

 private:
  void Loop() {
    bool last_serving = false;
    bool first = true;
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      const absl::Status ready = readiness_(std::chrono::system_clock::now() + Budget());
      lock.lock();
      if (stop_) break;
      const bool serving = ready.ok();
      if (first || serving != last_serving) {
        health_->SetReady(serving);
        Log(serving ? LogLevel::kInfo : LogLevel::kWarn, "health",
            {{"status", serving ? "SERVING" : "NOT_SERVING"}, {"cause", ready.message()}});
      }
      first = false;
      last_serving = serving;
      cv_.wait_for(lock, interval_, [this] { return stop_; });
    }
  }

  // How long one readiness check may take: the interval, but at least
  // kMinReadinessBudget. A short interval is there to notice changes soon,
  // not to demand that a new database connection be made that fast.
  std::chrono::milliseconds Budget() const { return std::max(interval_, kMinReadinessBudget); }
  static constexpr std::chrono::milliseconds kMinReadinessBudget{1000};

  HealthService* health_;
  ReadinessCheck readiness_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace

void BlockShutdownSignals() {
  const sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::chrono::system_clock::time_point EffectiveDeadline(const grpc::ServerContextBase& context,
                                                        std::chrono::milliseconds max_deadline) {
  return std::min(context.deadline(), std::chrono::system_clock::now() + max_deadline);
}

int RunServer(const ServerSettings& settings, const std::string& server_name,
              const std::vector<ServedService>& services, ReadinessCheck readiness,
              std::function<void()> on_shutdown, Registry* registry) {

  auto credentials = MakeCredentials(settings);
  if (!credentials.ok()) {
    Log(LogLevel::kError, "cannot set up TLS", {{"cause", credentials.status().message()}});
    return 1;
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
  interceptors.push_back(
      std::make_unique<RpcLogInterceptorFactory>(rpc_metrics.get(), settings.access_log));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));

  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    Log(LogLevel::kError, "cannot start the gRPC server", {{"address", settings.listen_address}});
    return 1;
  }
  (*listener)->Start(acceptor.get());
  Log(LogLevel::kInfo, "listening",
      {{"server", server_name}, {"address", settings.listen_address},
       {"port", (*listener)->port()}, {"tls", !settings.tls_cert_file.empty()},
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
    // client sent before it saw the GOAWAY (README.md, "Scaling up, scaling
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
