// WaitList (common/wait_list.h): long polls parked without a thread, woken
// by a notification, their deadline or Close().
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>

#include <gtest/gtest.h>

#include "common/wait_list.h"

namespace microblog {
namespace {

using std::chrono::system_clock;
using namespace std::chrono_literals;

TEST(WaitList, NotifyAllWakesEveryWaiterOnceAndTimeoutsWakeTheRest) {
  WaitList list;
  std::atomic<int> woken{0};
  const uint64_t seen = list.generation();
  for (int i = 0; i < 3; ++i) list.Wait(seen, system_clock::now() + 1h, [&] { ++woken; });
  EXPECT_EQ(woken.load(), 0);
  list.NotifyAll();
  EXPECT_EQ(woken.load(), 3);
  list.NotifyAll();  // nobody waits any more
  EXPECT_EQ(woken.load(), 3);

  std::promise<system_clock::time_point> timed_out;
  const system_clock::time_point deadline = system_clock::now() + 50ms;
  list.Wait(list.generation(), deadline, [&] { timed_out.set_value(system_clock::now()); });
  EXPECT_GE(timed_out.get_future().get(), deadline);
}

TEST(WaitList, ANotificationBeforeWaitIsNotLost) {
  WaitList list;
  const uint64_t seen = list.generation();
  list.NotifyAll();  // between reading and parking
  bool woken = false;
  list.Wait(seen, system_clock::now() + 1h, [&] { woken = true; });
  EXPECT_TRUE(woken);
}

TEST(WaitList, CloseWakesEveryWaiterAndLaterWaitsRunAtOnce) {
  std::atomic<int> woken{0};
  {
    WaitList list;
    list.Wait(list.generation(), system_clock::now() + 1h, [&] { ++woken; });
    list.Close();
    EXPECT_EQ(woken.load(), 1);
    EXPECT_TRUE(list.closed());
    list.Wait(list.generation(), system_clock::now() + 1h, [&] { ++woken; });
    EXPECT_EQ(woken.load(), 2);
    list.Wait(list.generation(), system_clock::now() + 1h, [&] { ++woken; });
  }
  EXPECT_EQ(woken.load(), 3);
}

TEST(WaitList, WaitersMayWaitAgainFromTheirCallback) {
  WaitList list;
  std::atomic<int> rounds{0};
  std::promise<void> done;
  std::function<void()> again = [&] {
    if (++rounds < 3) {
      list.Wait(list.generation(), system_clock::now() + 1h, again);
    } else {
      done.set_value();
    }
  };
  list.Wait(list.generation(), system_clock::now() + 1h, again);
  list.NotifyAll();
  list.NotifyAll();
  list.NotifyAll();
  done.get_future().get();
  EXPECT_EQ(rounds.load(), 3);
}

}  // namespace
}  // namespace microblog
