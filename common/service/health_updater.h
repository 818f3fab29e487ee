// Keeps a server's health service (common/rpc/health_service.h) in line
// with the service's readiness check: one thread calls the check every
// `interval` and sets the health service SERVING or NOT_SERVING by its
// answer, logging each change. RunServer (common/service/server.h) runs one
// while the server runs.
//
// Thread-safety: the constructor starts the thread, the destructor stops and
// joins it; the check runs on that thread only.
#ifndef MICROBLOG_COMMON_SERVICE_HEALTH_UPDATER_H_
#define MICROBLOG_COMMON_SERVICE_HEALTH_UPDATER_H_

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "absl/status/status.h"
#include "common/base/clock.h"
#include "common/exec/stop_signal.h"
#include "common/rpc/health_service.h"

namespace microblog {

// Readiness check: OK when the service can do its work (its database
// answers). Called from one background thread, with a deadline
// max(health_check_interval, 1 s) away, which it should honour: the next
// check only starts after it returns.
using ReadinessCheck = std::function<absl::Status(Clock::time_point deadline)>;

class HealthUpdater {
 public:
  // Starts the thread; the first check runs at once. `health` is borrowed
  // and must outlive the updater.
  HealthUpdater(HealthService* health, ReadinessCheck readiness,
                std::chrono::milliseconds interval);
  // Stops the thread (a check in progress finishes first).
  ~HealthUpdater();

  HealthUpdater(const HealthUpdater&) = delete;
  HealthUpdater& operator=(const HealthUpdater&) = delete;

 private:
  void Loop();

  // How long one readiness check may take: the interval, but at least
  // kMinReadinessBudget. A short interval is there to notice changes soon,
  // not to demand that a new database connection be made that fast.
  std::chrono::milliseconds Budget() const { return std::max(interval_, kMinReadinessBudget); }
  static constexpr std::chrono::milliseconds kMinReadinessBudget{1000};

  HealthService* health_;
  ReadinessCheck readiness_;
  std::chrono::milliseconds interval_;
  StopSignal stop_;
  std::thread thread_;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_SERVICE_HEALTH_UPDATER_H_
