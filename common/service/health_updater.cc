#include "common/service/health_updater.h"

#include <utility>

#include "common/base/log.h"

namespace microblog {

HealthUpdater::HealthUpdater(HealthService* health, ReadinessCheck readiness,
                             std::chrono::milliseconds interval)
    : health_(health),
      readiness_(std::move(readiness)),
      interval_(interval),
      thread_([this] { Loop(); }) {}

HealthUpdater::~HealthUpdater() {
  stop_.Stop();
  thread_.join();
}

void HealthUpdater::Loop() {
  bool last_serving = false;
  bool first = true;
  do {
    const absl::Status ready = readiness_(std::chrono::system_clock::now() + Budget());
    if (stop_.stopped()) break;
    const bool serving = ready.ok();
    if (first || serving != last_serving) {
      health_->SetReady(serving);
      Log(serving ? LogLevel::kInfo : LogLevel::kWarn, "health",
          {{"status", serving ? "SERVING" : "NOT_SERVING"}, {"cause", ready.message()}});
    }
    first = false;
    last_serving = serving;
  } while (stop_.SleepFor(interval_));
}

}  // namespace microblog
