// WorkerPool (common/worker_pool.h): every job runs, the queue drains on
// destruction, and jobs may submit jobs.
#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "common/worker_pool.h"

namespace microblog {
namespace {

using namespace std::chrono_literals;

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
  std::promise<int> result;
  WorkerPool pool("test", 1);
  pool.Submit([&] { pool.Submit([&] { result.set_value(42); }); });
  EXPECT_EQ(result.get_future().get(), 42);
}

}  // namespace
}  // namespace microblog
