#include "common/service/access_log.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/log.h"
#include "common/base/trace_context.h"
#include "common/rpc/trace_metadata.h"

namespace microblog {
namespace {

using std::chrono::steady_clock;

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
  if (policy.sample_every > 0 && ok_calls.fetch_add(1, std::memory_order_relaxed) %
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
      const LogLevel level = AccessLogLevel(
          status.error_code(), millis, absl::StartsWith(info_->method(), "/grpc.health.v1.Health/"),
          policy_, ok_calls_);
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
  RpcMetrics* metrics_;  // null: no metrics
  const AccessLogPolicy& policy_;
  std::atomic<uint64_t>& ok_calls_;
  RpcMetrics::MethodSeries* series_;  // this call's, when metrics are on
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

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> AccessLogInterceptorFactory(
    RpcMetrics* metrics, const AccessLogPolicy& policy) {
  return std::make_unique<RpcLogInterceptorFactory>(metrics, policy);
}

}  // namespace microblog
