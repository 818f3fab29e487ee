// The access log of a server: one JSON log line per RPC (method, status
// code, duration, peer, the caller's trace context), at the level
// AccessLogPolicy (common/service/config.h) gives it, and the call's
// grpc_server_* metrics (common/rpc/rpc_metrics.h). RunServer
// (common/service/server.h) installs it on every server, after the
// malformed-request interceptor (common/rpc/malformed_request.h), whose
// corrected status it logs and counts.
//
// Thread-safety: gRPC creates one interceptor per call; the factory is
// shared by all of them.
#ifndef MICROBLOG_COMMON_SERVICE_ACCESS_LOG_H_
#define MICROBLOG_COMMON_SERVICE_ACCESS_LOG_H_

#include <memory>

#include <grpcpp/support/server_interceptor.h>

#include "common/rpc/rpc_metrics.h"
#include "common/service/config.h"

namespace microblog {

// The interceptors of the access log. `metrics` (borrowed, must outlive the
// server) is null when the server has no metrics: then only the log lines.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> AccessLogInterceptorFactory(
    RpcMetrics* metrics, const AccessLogPolicy& policy);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_SERVICE_ACCESS_LOG_H_
