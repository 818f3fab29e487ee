// A real Prometheus server (Debian's `prometheus`, v2) for tests that check
// what Prometheus itself makes of the services' /metrics: it scrapes the
// given targets, and the test asks it through its HTTP query API.
//
//   PrometheusServer prometheus({{"user-service", users.metrics_address()}});
//   std::vector<PromSample> up = prometheus.Query("up{job=\"user-service\"}");
//
// Its configuration and storage live in a TempDir removed, with the process
// (SIGKILLed), by the destructor. Not thread-safe: use it from one thread.
#ifndef MICROBLOG_TESTS_SUPPORT_PROMETHEUS_SERVER_H_
#define MICROBLOG_TESTS_SUPPORT_PROMETHEUS_SERVER_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/temp_dir.h"

namespace microblog {
namespace test_support {

// One element of an instant vector: the series' labels (__name__ included
// unless the query dropped it) and its value at the query's time.
struct PromSample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

class PrometheusServer {
 public:
  // Starts `prometheus` (from PATH) on 127.0.0.1:<free port>, scraping one
  // job per entry of `targets` (job name -> "host:port", path /metrics)
  // every `scrape_interval`, and waits up to `startup_timeout` until its
  // /-/ready answers 200. Throws std::runtime_error, with Prometheus's
  // output, when it cannot be spawned (not installed), exits or is not ready
  // in time. A start that failed because another process took the port is
  // retried on a new port.
  explicit PrometheusServer(const std::map<std::string, std::string>& targets,
                            std::chrono::milliseconds scrape_interval = std::chrono::seconds(1),
                            std::chrono::milliseconds startup_timeout = std::chrono::seconds(60));
  // Kills the process (SIGKILL: its storage is thrown away anyway).
  ~PrometheusServer() = default;

  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // "127.0.0.1:<port>" of its web UI and API.
  const std::string& address() const { return address_; }
  // Everything Prometheus logged so far (e.g. scrape errors).
  std::string output() const { return child_->ReadOutput(); }

  // Evaluates `promql` now through /api/v1/query. Throws std::runtime_error,
  // with the response, when Prometheus answers anything but a successful
  // instant vector (bad query, a scalar, no answer).
  std::vector<PromSample> Query(const std::string& promql) const;

 private:
  // One start attempt; returns false when the process exited before it
  // was ready (e.g. port taken), throws on timeout.
  bool TryStart(std::chrono::milliseconds startup_timeout);

  TempDir dir_{"mbprom"};  // declared first: outlives the process using it
  std::string address_;
  std::unique_ptr<ChildProcess> child_;
};

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_PROMETHEUS_SERVER_H_
