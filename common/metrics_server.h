// Serves a metrics Registry (metrics.h) to Prometheus: GET /metrics over
// plain HTTP on its own port, from civetweb's own threads (Debian's
// libcivetweb, the server prometheus-cpp builds on), so that scrapes never
// take a gRPC thread and gRPC traffic never waits for a scrape. Any other
// path is 404; civetweb drops malformed requests on its own.
//
//   absl::StatusOr<std::unique_ptr<MetricsServer>> server =
//       MetricsServer::Start("0.0.0.0:9464", registry);
//
// Thread-safety: the registry is read from civetweb's threads. Destroying
// the server stops it (waits for scrapes in progress).
#ifndef MICROBLOG_COMMON_METRICS_SERVER_H_
#define MICROBLOG_COMMON_METRICS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics.h"

struct mg_context;
struct mg_connection;

namespace microblog {

class MetricsServer {
 public:
  // Listens on `address` ("host:port"; port 0 is refused: civetweb cannot
  // report the port it chose). INVALID_ARGUMENT for a malformed address,
  // UNAVAILABLE when it cannot listen (port in use). `registry` is
  // borrowed and must outlive the server.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& address,
                                                              const Registry& registry);
  ~MetricsServer();

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

 private:
  explicit MetricsServer(const Registry& registry) : registry_(registry) {}
  static int HandleMetrics(mg_connection* connection, void* self);

  const Registry& registry_;
  mg_context* context_ = nullptr;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_METRICS_SERVER_H_
