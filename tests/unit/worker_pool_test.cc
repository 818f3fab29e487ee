// WorkerPool (common/exec/worker_pool.h): every job runs, the queue drains on
// destruction, and jobs may submit jobs.
#include "common/exec/worker_pool.h"

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

namespace microblog {
namespace {

using namespace std::chrono_literals;

// Bound of the waits below: a hang fails the test instead of running into
// the CTest timeout.
constexpr std::chrono::seconds kTimeout(30);

TEST(WorkerPool, RunsEveryJobAndDrainsTheQueueOnDestruction) {
  std::atomic<int> done{0};
  {
    WorkerPool pool("test", 2);
    for (int i = 0; i < 100; ++i) {
      pool.Submit([&done] {
        std::this_thread::sleep_for(100us);
        ++done;
      });
    }
  }
  EXPECT_EQ(done.load(), 100);
}

TEST(WorkerPool, JobsMaySubmitJobs) {
  // On the heap, and left there if the test times out: a pool stuck in a
  // Submit() from a job could be neither destroyed (its destructor would
  // wait for the stuck job) nor outlived by what its jobs use.
  auto pool = std::make_unique<WorkerPool>("test", 1);
  auto result = std::make_shared<std::promise<int>>();
  std::future<int> answer = result->get_future();
  WorkerPool* workers = pool.get();
  workers->Submit([workers, result] { workers->Submit([result] { result->set_value(42); }); });
  if (answer.wait_for(kTimeout) != std::future_status::ready) {
    static_cast<void>(pool.release());  // deliberately leaked, see above
    FAIL() << "the job a job submitted did not run within " << kTimeout.count() << " s";
  }
  EXPECT_EQ(answer.get(), 42);
}

}  // namespace
}  // namespace microblog
