// PeriodicTask (common/exec/periodic_task.h): runs its function every period on
// a thread of its own until destroyed.
#include "common/exec/periodic_task.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

namespace microblog {
namespace {

using namespace std::chrono_literals;

// Bound of the waits below: a hang fails the test instead of running into
// the CTest timeout.
constexpr std::chrono::seconds kTimeout(30);

TEST(PeriodicTask, RunsRepeatedlyUntilDestroyed) {
  std::atomic<int> runs{0};
  {
    PeriodicTask task("test-task", 10ms, [&] { ++runs; });
    const auto give_up = std::chrono::steady_clock::now() + kTimeout;
    while (runs.load() < 3 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_GE(runs.load(), 3) << "a 10 ms task did not run three times within " << kTimeout.count()
                              << " s";
  }
  const int after_stop = runs.load();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(runs.load(), after_stop);
}

}  // namespace
}  // namespace microblog
