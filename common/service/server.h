// Runs a gRPC server the way both microblog services need it:
//  - the standard health service (grpc.health.v1.Health, see
//    common/rpc/health_service.h): "" and each served service's name are
//    SERVING only while `readiness` answers OK (polled every
//    health_check_interval, health_updater.h);
//    "liveness" is SERVING while the process runs; everything is NOT_SERVING
//    from the moment shutdown starts;
//  - server reflection (v1alpha, what gRPC 1.51 serves and grpcurl falls back
//    to), the health service included, so that
//    `grpcurl describe grpc.health.v1.Health` works;
//  - Prometheus metrics on METRICS_ADDRESS (when set): go-grpc-prometheus's
//    grpc_server_* series for every call (rpc_metrics.h), process metrics
//    and build info (process_metrics.h), served at /metrics by
//    metrics_server.h;
//  - one JSON log line per RPC (method, status code, duration, peer, the
//    caller's traceparent; access_log.h);
//  - optional TLS (and client-certificate checks) from ServerSettings;
//  - connections that age out (max_connection_age: GOAWAY, then
//    max_connection_age_grace for the calls in progress), so that clients
//    re-resolve and spread over replicas added after they connected;
//  - graceful shutdown on SIGTERM/SIGINT: readiness NOT_SERVING while
//    everything is still served for shutdown_drain_delay (a second signal
//    ends it early), then stop accepting, let in-flight calls finish within
//    shutdown_grace, and return 0.
//
//   int main(int argc, char** argv) {
//     BlockShutdownSignals();   // first thing in main, before any thread
//     ... read config, build the service ...
//     return RunServer(settings, "user-service",
//                      {{&service, v1::UserService::service_full_name()}},
//                      [&](auto deadline) { return pool.Ping(deadline); });
//   }
#ifndef MICROBLOG_COMMON_SERVICE_SERVER_H_
#define MICROBLOG_COMMON_SERVICE_SERVER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

// grpc::Service lives in impl/service_type.h, the header gRPC's generated
// code includes for it; impl/codegen/ is what gRPC is removing.
#include <grpcpp/impl/service_type.h>

#include "absl/status/status.h"
#include "common/base/metrics.h"
#include "common/rpc/authorization_enforcer.h"
#include "common/service/config.h"
#include "common/service/health_updater.h"  // ReadinessCheck

namespace microblog {

// Blocks SIGTERM and SIGINT in the calling thread and in every thread it
// creates afterwards, so that RunServer() can wait for them synchronously.
// Call it at the start of main(), before any other thread exists.
void BlockShutdownSignals();

// A service to serve, with its full proto name (for the health service).
struct ServedService {
  grpc::Service* service;  // borrowed
  std::string full_name;   // e.g. "microblog.user.v1.UserService"
};

// Builds and runs the server until SIGTERM/SIGINT, then drains it.
// `services` are borrowed and must outlive the call. Returns the process
// exit code: 0 after a clean shutdown, 1 when the server cannot start (port
// in use, bad TLS files; the reason is logged). `on_shutdown`, when set,
// runs after the drain delay, just before the server stops accepting calls:
// e.g. to make long polls answer now rather than hold the grace period
// (WaitList::Close).
// `registry` (borrowed), when given, is where the server's metrics go, next
// to the caller's own (e.g. post-service's client metrics); otherwise the
// server keeps its own.
// `authorization` (OpenAuthorization, transport_security.h), when given,
// checks every call against the policy before any handler runs.
int RunServer(const ServerSettings& settings, const std::string& server_name,
              const std::vector<ServedService>& services, ReadinessCheck readiness,
              std::function<void()> on_shutdown = nullptr, Registry* registry = nullptr,
              std::shared_ptr<AuthorizationEnforcer> authorization = nullptr);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_SERVICE_SERVER_H_
