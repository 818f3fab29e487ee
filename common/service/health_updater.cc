#include "common/service/health_updater.h"

#include <utility>

#include "absl/time/time.h"
#include "common/base/log.h"

namespace microblog {

HealthUpdater::HealthUpdater(HealthService* health, ReadinessCheck readiness,
                             std::chrono::milliseconds interval)
    : health_(health), readiness_(std::move(readiness)), interval_(interval),
      thread_([this] { Loop(); }) {}

HealthUpdater::~HealthUpdater() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void HealthUpdater::Loop() {
  bool last_serving = false;
  bool first = true;
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    mu_.Unlock();
    const absl::Status ready = readiness_(std::chrono::system_clock::now() + Budget());
    mu_.Lock();
    if (stop_) break;
    const bool serving = ready.ok();
    if (first || serving != last_serving) {
      health_->SetReady(serving);
      Log(serving ? LogLevel::kInfo : LogLevel::kWarn, "health",
          {{"status", serving ? "SERVING" : "NOT_SERVING"}, {"cause", ready.message()}});
    }
    first = false;
    last_serving = serving;
    mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::FromChrono(interval_));
  }
}

}  // namespace microblog
