// Serves a metrics Registry (metrics.h) to Prometheus: GET /metrics over
// plain HTTP on its own port, from civetweb's own threads (Debian's
// libcivetweb, the server prometheus-cpp builds on), so that scrapes never
// take a gRPC thread and gRPC traffic never waits for a scrape. Any other
// path is 404; civetweb drops malformed requests on its own.
//
//   absl::StatusOr<std::unique_ptr<MetricsServer>> server =
//       MetricsServer::Start("0.0.0.0:9464", registry);
//
// A hostile or broken client fails only itself (CWE-400, uncontrolled
// resource consumption; RFC 9112 section 9.5: a server closes connections
// that stay inactive): civetweb holds one worker thread per connection from
// accept to close, so
//  - kWorkerThreads workers: a handful of connections that send nothing, or
//    trickle a request, leave workers free for the real scrapers (a
//    Prometheus HA pair, someone's curl);
//  - kRequestTimeoutMs: the request line and headers must arrive within
//    it, else the connection is dropped. civetweb 1.15 checks the time
//    since accept before each read and lets one read wait that long, so a
//    client that trickles its request a byte at a time is dropped within
//    about twice that, one that sends nothing within about that
//    (tests/metrics_test.cc measures both). Each write of a response gets
//    as long too. A scraper sends its few hundred bytes right after
//    connecting, so 2 s is ample for it; and even when more clients than
//    workers hold connections open, a scrape queued behind them waits
//    about 2-4 s per round of them, inside Prometheus' default
//    scrape_timeout of 10 s.
//
// Thread-safety: the registry is read from civetweb's threads. Destroying
// the server stops it (waits for scrapes in progress).
#ifndef MICROBLOG_COMMON_SERVICE_METRICS_SERVER_H_
#define MICROBLOG_COMMON_SERVICE_METRICS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/base/metrics.h"

struct mg_context;
struct mg_connection;

namespace microblog {

class MetricsServer {
 public:
  // civetweb worker threads: 8 idle clients + 2 scrapers fit with room to
  // spare; idle workers only wait on a condition variable.
  static constexpr int kWorkerThreads = 16;
  // Deadline of a request's arrival (and of each network read or write).
  static constexpr int kRequestTimeoutMs = 2000;

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

#endif  // MICROBLOG_COMMON_SERVICE_METRICS_SERVER_H_
