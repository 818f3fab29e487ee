// Unit tests of FairWorkQueue (common/exec/fair_work_queue.h) and CallerKey
// (common/rpc/caller_key.h): the order jobs run in across callers, admission
// against caps and deadlines, and how peers become keys. Jobs block on
// latches the test opens, so nothing depends on timing but the generous
// margins of the deadline checks (hours against seconds).
#include "common/exec/fair_work_queue.h"

#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/base/metrics.h"
#include "common/base/status.h"
#include "common/rpc/caller_key.h"

namespace microblog {
namespace {

using std::chrono::hours;

Clock::time_point Far() { return Clock::now() + hours(1000); }

FairWorkQueueOptions OneThread() {
  FairWorkQueueOptions options;
  options.name = "test";
  options.threads = 1;
  options.initial_job_estimate = std::chrono::milliseconds(1);
  return options;
}

// Occupies the queue's only thread until Release().
class Blocker {
 public:
  explicit Blocker(FairWorkQueue& queue) {
    std::promise<void> started;
    std::future<void> running = started.get_future();
    EXPECT_TRUE(
        queue
            .Submit("blocker", Far(),
                    [released = release_.get_future(), started = std::move(started)]() mutable {
                      started.set_value();
                      released.wait();
                    })
            .ok());
    running.wait();
  }
  void Release() { release_.set_value(); }

 private:
  std::promise<void> release_;
};

// Jobs that record their names in the order the queue runs them.
class RunOrder {
 public:
  std::function<void()> Job(std::string name) {
    return [this, name] {
      std::lock_guard<std::mutex> lock(mu_);
      names_.push_back(name);
    };
  }
  std::vector<std::string> names() {
    std::lock_guard<std::mutex> lock(mu_);
    return names_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> names_;
};

TEST(FairWorkQueueTest, RoundRobinServesANewcomerBeforeAFloodersBacklog) {
  RunOrder order;
  {
    FairWorkQueue queue(OneThread());
    Blocker blocker(queue);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(queue.Submit("flood", Far(), order.Job("f")).ok());
    ASSERT_TRUE(queue.Submit("login", Far(), order.Job("login")).ok());
    ASSERT_TRUE(queue.Submit("other", Far(), order.Job("o1")).ok());
    ASSERT_TRUE(queue.Submit("other", Far(), order.Job("o2")).ok());
    EXPECT_EQ(queue.queued(), 8u);
    blocker.Release();
  }  // the destructor runs what is queued
  EXPECT_EQ(order.names(),
            (std::vector<std::string>{"f", "login", "o1", "f", "o2", "f", "f", "f"}));
}

TEST(FairWorkQueueTest, ACallerWithNothingWaitingGoesBeforeEveryBusyOne) {
  RunOrder order;
  {
    FairWorkQueue queue(OneThread());
    Blocker blocker(queue);
    // The first flood job brings a login while the flood is busy (in the
    // ring with jobs waiting): the login runs next, not after one more
    // flood job.
    ASSERT_TRUE(queue
                    .Submit("flood", Far(),
                            [&] {
                              order.Job("f")();
                              ASSERT_TRUE(queue.Submit("login", Far(), order.Job("login")).ok());
                            })
                    .ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(queue.Submit("flood", Far(), order.Job("f")).ok());
    blocker.Release();
  }
  EXPECT_EQ(order.names(), (std::vector<std::string>{"f", "login", "f", "f", "f"}));
}

TEST(FairWorkQueueTest, CallerCapRefusesOnlyThatCallerWithRetryInfo) {
  FairWorkQueueOptions options = OneThread();
  options.max_queued_per_key = 2;
  Registry metrics;
  options.refused = &metrics.AddCounter("refused_total", "", {"reason"});
  FairWorkQueue queue(options);
  Blocker blocker(queue);
  EXPECT_TRUE(queue.Submit("a", Far(), [] {}).ok());
  EXPECT_TRUE(queue.Submit("a", Far(), [] {}).ok());
  FairWorkQueue::Admission third = queue.Submit("a", Far(), [] {});
  EXPECT_EQ(third.refusal, FairWorkQueue::Refusal::kCallerQueueFull);
  EXPECT_EQ(third.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(RetryDelayOf(third.status).has_value());
  EXPECT_TRUE(queue.Submit("b", Far(), [] {}).ok());
  EXPECT_EQ(options.refused->WithLabels({"caller_queue_full"}).value(), 1);
  blocker.Release();
}

TEST(FairWorkQueueTest, TotalCapBoundsEveryCallerTogether) {
  FairWorkQueueOptions options = OneThread();
  options.max_queued = 3;
  Gauge queued;
  options.queued = &queued;
  FairWorkQueue queue(options);
  Blocker blocker(queue);
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    FairWorkQueue::Admission admission = queue.Submit("k" + std::to_string(i), Far(), [] {});
    if (!admission.ok()) {
      EXPECT_EQ(admission.refusal, FairWorkQueue::Refusal::kQueueFull);
      ++refused;
    }
  }
  EXPECT_EQ(refused, 7);
  EXPECT_EQ(queued.value(), 3);  // the gauge counts the waiting jobs, not the running one
  blocker.Release();
}

TEST(FairWorkQueueTest, JobThatCannotFinishBeforeItsDeadlineIsRefusedAtOnce) {
  FairWorkQueueOptions options = OneThread();
  options.initial_job_estimate = hours(1);  // every job takes an hour, as far as it knows
  FairWorkQueue queue(options);
  // An idle queue starts a job at once: it fits a deadline just past one job.
  Blocker blocker(queue);
  // Now the thread is busy: the next job would start in about an hour and
  // finish in two.
  const auto before = Clock::now();
  FairWorkQueue::Admission late = queue.Submit("a", Clock::now() + std::chrono::minutes(90), [] {});
  EXPECT_LT(Clock::now() - before, std::chrono::seconds(10));  // not after waiting
  EXPECT_EQ(late.refusal, FairWorkQueue::Refusal::kDeadline);
  EXPECT_EQ(late.status.code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(RetryDelayOf(late.status).has_value());
  EXPECT_GE(*RetryDelayOf(late.status), hours(1));
  EXPECT_TRUE(queue.Submit("a", Clock::now() + hours(3), [] {}).ok());
  EXPECT_TRUE(queue.Submit("a", Clock::now() + hours(24), [] {}).ok());
  EXPECT_TRUE(queue.Submit("a", Clock::now() + hours(24), [] {}).ok());
  // A fourth job of "a" waits behind its three: it would finish in about
  // five hours.
  EXPECT_EQ(queue.Submit("a", Clock::now() + hours(4), [] {}).refusal,
            FairWorkQueue::Refusal::kDeadline);
  // Another caller is behind only one job of "a" (round-robin): about three.
  EXPECT_TRUE(queue.Submit("b", Clock::now() + hours(4), [] {}).ok());
  blocker.Release();
}

// A refusal is answered at once, unless the same caller was refused before
// and calls again inside that refusal's RetryInfo delay: then the answer is
// held for the new delay, within max_hold and half the time to the
// deadline. Other callers are not held for it.
TEST(FairWorkQueueTest, ACallerThatIgnoresRetryInfoHasItsRefusalsHeld) {
  FairWorkQueueOptions options = OneThread();
  options.initial_job_estimate = hours(1);
  options.max_hold = std::chrono::minutes(5);
  FairWorkQueue queue(options);
  Blocker blocker(queue);
  const auto refuse = [&](const std::string& key, Clock::duration time_left) {
    FairWorkQueue::Admission admission = queue.Submit(key, Clock::now() + time_left, [] {});
    EXPECT_EQ(admission.refusal, FairWorkQueue::Refusal::kDeadline);
    return admission.hold;
  };
  EXPECT_EQ(refuse("a", std::chrono::minutes(90)), std::chrono::nanoseconds::zero());
  // "a" was told to come back in an hour, and comes back at once.
  EXPECT_EQ(refuse("a", std::chrono::minutes(90)), std::chrono::minutes(5));
  // Never past half the time left to the deadline.
  const std::chrono::nanoseconds short_deadline = refuse("a", std::chrono::minutes(4));
  EXPECT_GT(short_deadline, std::chrono::minutes(1));
  EXPECT_LE(short_deadline, std::chrono::minutes(2));
  // Another caller's first refusal is answered at once.
  EXPECT_EQ(refuse("b", std::chrono::minutes(90)), std::chrono::nanoseconds::zero());
  blocker.Release();
}

TEST(FairWorkQueueTest, ACallerThatWaitsOutItsRetryInfoIsNotHeld) {
  FairWorkQueueOptions options = OneThread();  // a job takes 1 ms, as far as it knows
  FairWorkQueue queue(options);
  Blocker blocker(queue);
  // A deadline already past: refused, with a RetryInfo delay of about 1 ms.
  FairWorkQueue::Admission first = queue.Submit("a", Clock::now(), [] {});
  ASSERT_EQ(first.refusal, FairWorkQueue::Refusal::kDeadline);
  ASSERT_TRUE(RetryDelayOf(first.status).has_value());
  std::this_thread::sleep_for(*RetryDelayOf(first.status) + std::chrono::milliseconds(50));
  // Refused again (its deadline has passed too), but it waited as told:
  // answered at once.
  FairWorkQueue::Admission second = queue.Submit("a", Clock::now(), [] {});
  ASSERT_EQ(second.refusal, FairWorkQueue::Refusal::kDeadline);
  EXPECT_EQ(second.hold, std::chrono::nanoseconds::zero());
  blocker.Release();
}

TEST(FairWorkQueueTest, AZeroMaxHoldNeverHolds) {
  FairWorkQueueOptions options = OneThread();
  options.initial_job_estimate = hours(1);
  options.max_hold = std::chrono::nanoseconds::zero();
  FairWorkQueue queue(options);
  Blocker blocker(queue);
  for (int i = 0; i < 3; ++i) {
    FairWorkQueue::Admission admission =
        queue.Submit("a", Clock::now() + std::chrono::minutes(90), [] {});
    EXPECT_EQ(admission.refusal, FairWorkQueue::Refusal::kDeadline);
    EXPECT_EQ(admission.hold, std::chrono::nanoseconds::zero());
  }
  blocker.Release();
}

TEST(FairWorkQueueTest, EstimateFollowsMeasuredRunTimes) {
  FairWorkQueueOptions options = OneThread();
  options.initial_job_estimate = hours(1);
  {
    FairWorkQueue queue(options);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(queue.Submit("a", Far() + hours(100), [] {}).ok());
    // Wait for them: the destructor runs every queued job.
    std::promise<void> done;
    ASSERT_TRUE(queue.Submit("a", Far() + hours(200), [&] { done.set_value(); }).ok());
    done.get_future().wait();
    EXPECT_LT(queue.JobEstimate(), std::chrono::minutes(1));
  }
}

TEST(CallerKeyTest, PeersBecomeAddressesWithoutPorts) {
  EXPECT_EQ(CallerKeyFromPeer("ipv4:192.0.2.7:5000"), "ip:192.0.2.7");
  EXPECT_EQ(CallerKeyFromPeer("ipv4:127.0.0.2:40000"), "ip:127.0.0.2");
  EXPECT_EQ(CallerKeyFromPeer("ipv6:[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:443"),
            "ip:2001:db8:1:2::/64");
  EXPECT_EQ(CallerKeyFromPeer("ipv6:[2001:db8:1:2::5]:1"),
            CallerKeyFromPeer("ipv6:[2001:db8:1:2::6]:2"));
  EXPECT_NE(CallerKeyFromPeer("ipv6:[2001:db8:1:2::5]:1"),
            CallerKeyFromPeer("ipv6:[2001:db8:1:3::5]:1"));
  EXPECT_EQ(CallerKeyFromPeer("ipv6:[::ffff:192.0.2.7]:80"), "ip:192.0.2.7");
  EXPECT_EQ(CallerKeyFromPeer("ipv6:[fe80::1%25eth0]:80"), "ip:fe80::/64");
  EXPECT_EQ(CallerKeyFromPeer("unix:/run/a.sock"), "unix");
  EXPECT_EQ(CallerKeyFromPeer("something"), "something");
}

}  // namespace
}  // namespace microblog
