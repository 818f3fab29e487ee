// WaitList (common/exec/wait_list.h): long polls parked without a thread, woken
// by a notification, their deadline or Close().
#include "common/exec/wait_list.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

namespace microblog {
namespace {

using std::chrono::system_clock;
using namespace std::chrono_literals;

// Bound of the waits below: a hang fails the test instead of running into
// the CTest timeout.
constexpr std::chrono::seconds kTimeout(30);

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

  // Shared with the waiter, which the list's destructor runs if the
  // deadline never did.
  auto timed_out = std::make_shared<std::promise<system_clock::time_point>>();
  std::future<system_clock::time_point> woken_at = timed_out->get_future();
  const system_clock::time_point deadline = system_clock::now() + 50ms;
  list.Wait(list.generation(), deadline,
            [timed_out] { timed_out->set_value(system_clock::now()); });
  ASSERT_EQ(woken_at.wait_for(kTimeout), std::future_status::ready)
      << "a deadline 50 ms away did not wake its waiter within " << kTimeout.count() << " s";
  EXPECT_GE(woken_at.get(), deadline);
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
  // What the waiter and the notifying thread share: on the heap, and left
  // there if the test times out, since a list stuck in a Wait() from a
  // waiter could be neither destroyed nor outlived by its waiters.
  struct Shared {
    WaitList list;
    std::atomic<int> rounds{0};
    std::promise<void> done;
    std::function<void()> again;
  };
  auto shared = std::make_unique<Shared>();
  Shared* s = shared.get();
  s->again = [s] {
    if (++s->rounds < 3) {
      s->list.Wait(s->list.generation(), system_clock::now() + 1h, s->again);
    } else {
      s->done.set_value();
    }
  };
  std::future<void> done = s->done.get_future();
  s->list.Wait(s->list.generation(), system_clock::now() + 1h, s->again);
  // Notified from another thread (which runs the waiter), so that a
  // deadlock there cannot hold this one.
  std::thread notifier([s] {
    s->list.NotifyAll();
    s->list.NotifyAll();
    s->list.NotifyAll();
  });
  if (done.wait_for(kTimeout) != std::future_status::ready) {
    notifier.detach();
    static_cast<void>(shared.release());  // deliberately leaked, see above
    FAIL() << "the waiter did not get its third wake-up within " << kTimeout.count() << " s";
  }
  notifier.join();
  EXPECT_EQ(s->rounds.load(), 3);
}

}  // namespace
}  // namespace microblog
