#include "common/service/access_log.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

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

bool IsServerError(grpc::StatusCode code) {
  return code == grpc::StatusCode::INTERNAL || code == grpc::StatusCode::UNKNOWN ||
         code == grpc::StatusCode::DATA_LOSS;
}

// At most `limit` admissions per second of the steady clock (0: no limit),
// and a count of what it refused since its last admission. Approximate at
// the edge of a second (two threads may both reset the window): a log
// budget, not a quota.
class LinesPerSecond {
 public:
  // Whether this line may be written at info; if so, `*suppressed` is how
  // many were refused since the last one admitted.
  bool Admit(int64_t limit, uint64_t* suppressed) {
    if (limit <= 0) {
      *suppressed = 0;
      return true;
    }
    const int64_t second =
        std::chrono::duration_cast<std::chrono::seconds>(steady_clock::now().time_since_epoch())
            .count();
    int64_t window = window_.load(std::memory_order_relaxed);
    if (window != second &&
        window_.compare_exchange_strong(window, second, std::memory_order_relaxed)) {
      admitted_.store(0, std::memory_order_relaxed);
    }
    if (admitted_.fetch_add(1, std::memory_order_relaxed) >= limit) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    *suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }

 private:
  std::atomic<int64_t> window_{-1};
  std::atomic<int64_t> admitted_{0};
  std::atomic<uint64_t> suppressed_{0};
};

// What the access log shares between calls: the fast OK calls so far (for
// sampling) and the info-line budget of each client-error code.
struct AccessLogState {
  std::atomic<uint64_t> ok_calls{0};
  std::array<LinesPerSecond, 17> client_errors;  // indexed by grpc::StatusCode
};

// The level of a finished call's log line under `policy` (AccessLogPolicy,
// common/service/config.h); `state` counts the fast OK calls, for sampling.
// Successful health checks (probes, every few seconds) are always debug.
// Client errors beyond their budget are debug too; `*suppressed` is then
// 0, else how many lines of that code the budget turned to debug before.
LogLevel AccessLogLevel(grpc::StatusCode code, double millis, bool health_check,
                        const AccessLogPolicy& policy, AccessLogState& state,
                        uint64_t* suppressed) {
  *suppressed = 0;
  if (IsServerError(code)) return LogLevel::kError;
  if (code != grpc::StatusCode::OK) {
    const auto index = static_cast<std::size_t>(code);
    if (index >= state.client_errors.size()) return LogLevel::kInfo;
    return state.client_errors[index].Admit(policy.client_errors_per_second, suppressed)
               ? LogLevel::kInfo
               : LogLevel::kDebug;
  }
  if (health_check) return LogLevel::kDebug;
  if (millis >= static_cast<double>(policy.slow.count())) return LogLevel::kInfo;
  if (policy.sample_every > 0 && state.ok_calls.fetch_add(1, std::memory_order_relaxed) %
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
                    const AccessLogPolicy& policy, AccessLogState& state)
      : info_(info),
        metrics_(metrics),
        policy_(policy),
        state_(state),
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
      uint64_t suppressed = 0;
      const LogLevel level = AccessLogLevel(
          status.error_code(), millis, absl::StartsWith(info_->method(), "/grpc.health.v1.Health/"),
          policy_, state_, &suppressed);
      // No line to write: skip gathering its fields.
      if (!LogEnabled(level)) return methods->Proceed();
      const std::string peer = info_->server_context()->peer();
      // The W3C trace context, when the caller sent one, ties this line to
      // the caller's span (post-service's calls to user-service carry a span
      // of their own): Log() adds it, as to every line of the call; calls
      // the handlers did not answer themselves (health, reflection) get it
      // here too. Untraced calls write no empty trace fields.
      ScopedLogTrace log_trace(SharedLogTraceOf(TraceContextFrom(*info_->server_context())));
      // LogField holds views: every string it names outlives `fields`
      // (grpc::Status::error_message() returns a copy).
      const std::string code = CodeName(status.error_code());
      const std::string message = status.error_message();
      std::vector<LogField> fields = {{"method", info_->method()},
                                      {"code", code},
                                      {"duration_ms", millis},
                                      {"peer", peer},
                                      {"message", message}};
      // A flood of one client error (e.g. refused logins) is not a flood of
      // lines: the line after a full budget says how many went to debug.
      if (suppressed > 0) fields.push_back({"suppressed_lines", static_cast<int64_t>(suppressed)});
      Log(level, "rpc", fields);
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  RpcMetrics* metrics_;  // null: no metrics
  const AccessLogPolicy& policy_;
  AccessLogState& state_;
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
    return new RpcLogInterceptor(info, metrics_, policy_, state_);
  }

 private:
  RpcMetrics* metrics_;
  const AccessLogPolicy policy_;
  AccessLogState state_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> AccessLogInterceptorFactory(
    RpcMetrics* metrics, const AccessLogPolicy& policy) {
  return std::make_unique<RpcLogInterceptorFactory>(metrics, policy);
}

}  // namespace microblog
