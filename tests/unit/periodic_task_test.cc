// PeriodicTask (common/periodic_task.h): runs its function every period on
// a thread of its own until destroyed.
#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "common/periodic_task.h"

namespace microblog {
namespace {

using namespace std::chrono_literals;

TEST(PeriodicTask, RunsRepeatedlyUntilDestroyed) {
  std::atomic<int> runs{0};
  {
    PeriodicTask task("test-task", 10ms, [&] { ++runs; });
    while (runs.load() < 3) std::this_thread::sleep_for(5ms);
  }
  const int after_stop = runs.load();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(runs.load(), after_stop);
}

}  // namespace
}  // namespace microblog
