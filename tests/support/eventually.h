// Waiting for a condition that another process makes true, in tests.
//
//   ASSERT_TRUE(Eventually([&] { return CountUsers() >= 1; }));
#ifndef MICROBLOG_TESTS_SUPPORT_EVENTUALLY_H_
#define MICROBLOG_TESTS_SUPPORT_EVENTUALLY_H_

#include <chrono>
#include <thread>

namespace microblog {
namespace test_support {

// Polls `condition` every 50 ms until it holds (true) or `timeout` passes
// (false). A bound against hangs, not a speed assertion.
template <typename Condition>
bool Eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_EVENTUALLY_H_
