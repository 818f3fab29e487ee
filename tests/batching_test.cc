// Unit tests of the threads behind the callback handlers: WorkerPool and
// BatchLoader (common/). Their subject is the queueing itself, so the
// "database" here is a function that records what it was asked and can be
// held; the services' own tests exercise the same code through gRPC and
// PostgreSQL.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/batch_loader.h"
#include "common/worker_pool.h"

namespace microblog {
namespace {

using std::chrono::system_clock;
using namespace std::chrono_literals;

// A batch function that records every batch, answers key * 10 (NOT_FOUND
// for negative keys), and can be made to wait until released.
class RecordingLoad {
 public:
  std::vector<absl::StatusOr<int>> operator()(const std::vector<int>& keys,
                                              system_clock::time_point /*deadline*/) {
    std::unique_lock<std::mutex> lock(mu_);
    batches_.push_back(keys);
    changed_.notify_all();
    changed_.wait(lock, [this] { return !held_; });
    std::vector<absl::StatusOr<int>> results;
    for (int key : keys) {
      if (key < 0) {
        results.push_back(absl::NotFoundError("no such key"));
      } else {
        results.push_back(key * 10);
      }
    }
    return results;
  }

  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
    changed_.notify_all();
  }
  // Waits until `n` batches have started.
  void AwaitBatches(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(changed_.wait_for(lock, 10s, [&] { return batches_.size() >= n; }));
  }
  std::vector<std::vector<int>> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool held_ = false;
  std::vector<std::vector<int>> batches_;
};

using Loader = BatchLoader<int, int>;

Loader::LoadFn Forward(RecordingLoad& load) {
  return [&load](const std::vector<int>& keys, system_clock::time_point deadline) {
    return load(keys, deadline);
  };
}

// Collects the answers of many Load() calls.
class Answers {
 public:
  Loader::Callback For(int caller) {
    return [this, caller](absl::StatusOr<int> result) {
      std::lock_guard<std::mutex> lock(mu_);
      answers_.emplace(caller, std::move(result));
      changed_.notify_all();
    };
  }
  std::map<int, absl::StatusOr<int>> AwaitAll(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    EXPECT_TRUE(changed_.wait_for(lock, 10s, [&] { return answers_.size() >= n; }));
    return answers_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::map<int, absl::StatusOr<int>> answers_;
};

const system_clock::time_point kLater = system_clock::now() + 1h;

TEST(BatchLoader, LookupsQueuedWhileBusyShareTheNextBatch) {
  RecordingLoad load;
  Answers answers;
  Loader loader("test", Forward(load), 100, 1);
  load.Hold();
  loader.Load(1, kLater, answers.For(1));
  load.AwaitBatches(1);  // the only loader thread is now busy with {1}
  for (int key = 2; key <= 6; ++key) loader.Load(key, kLater, answers.For(key));
  load.Release();
  std::map<int, absl::StatusOr<int>> got = answers.AwaitAll(6);
  for (int key = 1; key <= 6; ++key) {
    ASSERT_TRUE(got.at(key).ok()) << key;
    EXPECT_EQ(*got.at(key), key * 10);
  }
  EXPECT_EQ(load.batches(), (std::vector<std::vector<int>>{{1}, {2, 3, 4, 5, 6}}));
}

TEST(BatchLoader, EachCallerGetsItsOwnKeysResultAndDuplicatesAreLoadedOnce) {
  RecordingLoad load;
  Answers answers;
  Loader loader("test", Forward(load), 100, 1);
  load.Hold();
  loader.Load(0, kLater, answers.For(0));
  load.AwaitBatches(1);
  loader.Load(5, kLater, answers.For(1));
  loader.Load(-3, kLater, answers.For(2));
  loader.Load(5, kLater, answers.For(3));
  load.Release();
  std::map<int, absl::StatusOr<int>> got = answers.AwaitAll(4);
  EXPECT_EQ(*got.at(1), 50);
  EXPECT_EQ(got.at(2).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*got.at(3), 50);
  EXPECT_EQ(load.batches().back(), (std::vector<int>{5, -3}));
}

TEST(BatchLoader, BatchesNeverExceedMaxBatch) {
  RecordingLoad load;
  Answers answers;
  Loader loader("test", Forward(load), 3, 1);
  load.Hold();
  loader.Load(100, kLater, answers.For(100));
  load.AwaitBatches(1);
  for (int key = 1; key <= 7; ++key) loader.Load(key, kLater, answers.For(key));
  load.Release();
  answers.AwaitAll(8);
  EXPECT_EQ(load.batches(),
            (std::vector<std::vector<int>>{{100}, {1, 2, 3}, {4, 5, 6}, {7}}));
}

TEST(BatchLoader, LookupsWhoseDeadlinePassedWhileQueuedAreNotLoaded) {
  RecordingLoad load;
  Answers answers;
  Loader loader("test", Forward(load), 100, 1);
  load.Hold();
  loader.Load(1, kLater, answers.For(1));
  load.AwaitBatches(1);
  loader.Load(2, system_clock::now() + 1ms, answers.For(2));
  loader.Load(3, kLater, answers.For(3));
  std::this_thread::sleep_for(20ms);  // lets key 2's deadline pass while it is queued
  load.Release();
  std::map<int, absl::StatusOr<int>> got = answers.AwaitAll(3);
  EXPECT_EQ(got.at(2).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(*got.at(3), 30);
  EXPECT_EQ(load.batches().back(), std::vector<int>{3});
}

TEST(BatchLoader, AWrongResultCountFailsTheBatchInsteadOfMisattributing) {
  RecordingLoad load;
  Answers answers;
  Loader loader(
      "test",
      [&load](const std::vector<int>& keys, system_clock::time_point deadline) {
        std::vector<absl::StatusOr<int>> results = load(keys, deadline);
        results.resize(1);  // a buggy batch function: one result, whatever the keys
        return results;
      },
      100, 1);
  load.Hold();
  loader.Load(1, kLater, answers.For(1));
  load.AwaitBatches(1);
  loader.Load(2, kLater, answers.For(2));
  loader.Load(3, kLater, answers.For(3));
  load.Release();
  std::map<int, absl::StatusOr<int>> got = answers.AwaitAll(3);
  EXPECT_EQ(*got.at(1), 10);  // a batch of one: the count is right
  EXPECT_EQ(got.at(2).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(got.at(3).status().code(), absl::StatusCode::kInternal);
}

TEST(BatchLoader, DestructionAnswersEveryQueuedLookup) {
  RecordingLoad load;
  Answers answers;
  {
    Loader loader("test", Forward(load), 2, 1);
    load.Hold();
    loader.Load(1, kLater, answers.For(1));
    load.AwaitBatches(1);
    for (int key = 2; key <= 5; ++key) loader.Load(key, kLater, answers.For(key));
    load.Release();
  }  // joins here
  EXPECT_EQ(answers.AwaitAll(5).size(), 5u);
}

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
