// The gRPC metrics dashboards and alerts written for go-grpc-prometheus
// expect, for every RPC a server handles (side "server") or a client makes
// (side "client"):
//
//   grpc_<side>_started_total{grpc_type, grpc_service, grpc_method}
//   grpc_<side>_handled_total{grpc_type, grpc_service, grpc_method, grpc_code}
//   grpc_<side>_handling_seconds{grpc_type, grpc_service, grpc_method} (histogram)
//
// grpc_code is the canonical code as Go prints it (OK, NotFound,
// InvalidArgument, ...). Every unary method of the services named at
// construction has all its series from the start, at 0, so that rates and
// ratios exist before the first error. RunServer (server.h) records the
// server side through its per-call interceptor; ClientMetricsInterceptors()
// gives a channel the client side.
//
// Thread-safety: RecordStart/RecordEnd may be called from any thread; the
// series of the named services are looked up without a lock.
#ifndef MICROBLOG_COMMON_RPC_RPC_METRICS_H_
#define MICROBLOG_COMMON_RPC_RPC_METRICS_H_

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/status.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/base/metrics.h"

namespace microblog {

// go-grpc-prometheus's grpc_type of a call, from gRPC's ServerRpcInfo::Type
// or ClientRpcInfo::Type (same enumerator names).
template <typename RpcType>
const char* GrpcTypeName(RpcType type) {
  if (type == RpcType::CLIENT_STREAMING) return "client_stream";
  if (type == RpcType::SERVER_STREAMING) return "server_stream";
  if (type == RpcType::BIDI_STREAMING) return "bidi_stream";
  return "unary";
}

class RpcMetrics {
 public:
  enum class Side { kServer, kClient };

  // Adds the three families of `side` to `registry` (borrowed) and creates
  // the series of every unary method of `services` (full names, e.g.
  // "microblog.user.v1.UserService", known to the generated descriptor pool).
  RpcMetrics(Registry& registry, Side side, const std::vector<std::string>& services);

  // The series of one method: looked up once per call (RecordStart), then
  // updated without a lookup (RecordEnd).
  struct MethodSeries {
    Counter* started;
    std::array<Counter*, 17> handled;  // by grpc::StatusCode
    Histogram* handling;
  };

  // `path` is gRPC's "/package.Service/Method"; `type` "unary",
  // "client_stream", "server_stream" or "bidi_stream" (GrpcTypeName).
  // Counts the call as started and returns its series.
  MethodSeries& RecordStart(std::string_view path, const char* type);
  void RecordEnd(MethodSeries& series, grpc::StatusCode code, double seconds);

 private:
  MethodSeries& Series(std::string_view path, const char* type);
  MethodSeries Create(const std::string& service, const std::string& method, const char* type);

  CounterFamily& started_;
  CounterFamily& handled_;
  HistogramFamily& handling_;
  std::unordered_map<std::string, MethodSeries> unary_;  // by path; fixed after construction
  absl::Mutex mu_;
  std::unordered_map<std::string, MethodSeries> others_ ABSL_GUARDED_BY(mu_);  // by type + path
};

// Interceptors recording every call of a channel in `metrics` (a client
// side RpcMetrics, borrowed: it must outlive the channel), for
// grpc::experimental::CreateCustomChannelWithInterceptors.
std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
ClientMetricsInterceptors(RpcMetrics& metrics);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_RPC_METRICS_H_
