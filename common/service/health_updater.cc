#include "common/service/health_updater.h"

#include <utility>

#include "common/base/log.h"

namespace microblog {

HealthUpdater::HealthUpdater(HealthService* health, ReadinessCheck readiness,
                             std::chrono::milliseconds interval)
    : health_(health), readiness_(std::move(readiness)), interval_(interval),
      thread_([this] { Loop(); }) {}

HealthUpdater::~HealthUpdater() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void HealthUpdater::Loop() {
  bool last_serving = false;
  bool first = true;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    const absl::Status ready = readiness_(std::chrono::system_clock::now() + Budget());
    lock.lock();
    if (stop_) break;
    const bool serving = ready.ok();
    if (first || serving != last_serving) {
      health_->SetReady(serving);
      Log(serving ? LogLevel::kInfo : LogLevel::kWarn, "health",
          {{"status", serving ? "SERVING" : "NOT_SERVING"}, {"cause", ready.message()}});
    }
    first = false;
    last_serving = serving;
    cv_.wait_for(lock, interval_, [this] { return stop_; });
  }
}

}  // namespace microblog
