// Batcher and InKeyOrder (common/exec/batcher.h): how requests queued while a
// batch runs share the next one, deadlines, whole-batch failures split
// until only the guilty items fail, blocking and asynchronous batches.
// Their subject is the queueing itself, so the "database" here is a
// function that records what it was asked and can be held; the services'
// own tests exercise the same code through gRPC and PostgreSQL.
#include "common/exec/batcher.h"

#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/exec/worker_pool.h"

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

using Loader = Batcher<int, int>;

// A blocking batch on `workers` that forwards to `load`.
Loader::OnWorkerPool Forward(WorkerPool& workers, RecordingLoad& load) {
  return Loader::OnWorkers(
      workers, [&load](const std::vector<int>& keys, system_clock::time_point deadline) {
        return load(keys, deadline);
      });
}

// Collects the answers of many Load() calls.
class Answers {
 public:
  Loader::Done For(int caller) {
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

TEST(Batcher, RequestsQueuedWhileBusyShareTheNextBatch) {
  RecordingLoad load;
  Answers answers;
  WorkerPool workers("test", 2);
  Loader loader(Forward(workers, load), 100, 1);
  load.Hold();
  loader.Add(1, kLater, answers.For(1));
  load.AwaitBatches(1);  // the only batch slot is now busy with {1}
  for (int key = 2; key <= 6; ++key) loader.Add(key, kLater, answers.For(key));
  load.Release();
  std::map<int, absl::StatusOr<int>> got = answers.AwaitAll(6);
  for (int key = 1; key <= 6; ++key) {
    ASSERT_TRUE(got.at(key).ok()) << key;
    EXPECT_EQ(*got.at(key), key * 10);
  }
  EXPECT_EQ(load.batches(), (std::vector<std::vector<int>>{{1}, {2, 3, 4, 5, 6}}));
}

TEST(Batcher, EachCallerGetsItsOwnResultAndEqualItemsAreSeparateRequests) {
  RecordingLoad load;
  Answers answers;
  WorkerPool workers("test", 2);
  Loader loader(Forward(workers, load), 100, 1);
  load.Hold();
  loader.Add(0, kLater, answers.For(0));
  load.AwaitBatches(1);
  loader.Add(5, kLater, answers.For(1));
  loader.Add(-3, kLater, answers.For(2));
  loader.Add(5, kLater, answers.For(3));
  load.Release();
  std::map<int, absl::StatusOr<int>> got = answers.AwaitAll(4);
  EXPECT_EQ(*got.at(1), 50);
  EXPECT_EQ(got.at(2).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*got.at(3), 50);
  // Equal items are two requests (two equal CreatePost calls are two posts).
  EXPECT_EQ(load.batches().back(), (std::vector<int>{5, -3, 5}));
}

TEST(Batcher, BatchesNeverExceedMaxBatch) {
  RecordingLoad load;
  Answers answers;
  WorkerPool workers("test", 2);
  Loader loader(Forward(workers, load), 3, 1);
  load.Hold();
  loader.Add(100, kLater, answers.For(100));
  load.AwaitBatches(1);
  for (int key = 1; key <= 7; ++key) loader.Add(key, kLater, answers.For(key));
  load.Release();
  answers.AwaitAll(8);
  EXPECT_EQ(load.batches(), (std::vector<std::vector<int>>{{100}, {1, 2, 3}, {4, 5, 6}, {7}}));
}

TEST(Batcher, RequestsWhoseDeadlinePassedWhileQueuedAreNotRun) {
  RecordingLoad load;
  Answers answers;
  WorkerPool workers("test", 2);
  Loader loader(Forward(workers, load), 100, 1);
  load.Hold();
  loader.Add(1, kLater, answers.For(1));
  load.AwaitBatches(1);
  loader.Add(2, system_clock::now() + 1ms, answers.For(2));
  loader.Add(3, kLater, answers.For(3));
  std::this_thread::sleep_for(20ms);  // lets key 2's deadline pass while it is queued
  load.Release();
  std::map<int, absl::StatusOr<int>> got = answers.AwaitAll(3);
  EXPECT_EQ(got.at(2).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(*got.at(3), 30);
  EXPECT_EQ(load.batches().back(), std::vector<int>{3});
}

TEST(Batcher, AWrongResultCountFailsTheBatchInsteadOfMisattributing) {
  RecordingLoad load;
  Answers answers;
  WorkerPool workers("test", 2);
  Loader loader(
      Loader::OnWorkers(workers,
                        [&load](const std::vector<int>& keys, system_clock::time_point deadline) {
                          std::vector<absl::StatusOr<int>> results = load(keys, deadline);
                          results.resize(1);  // a buggy batch: one result, whatever the keys
                          return results;
                        }),
      100, 1);
  load.Hold();
  loader.Add(1, kLater, answers.For(1));
  load.AwaitBatches(1);
  loader.Add(2, kLater, answers.For(2));
  loader.Add(3, kLater, answers.For(3));
  load.Release();
  std::map<int, absl::StatusOr<int>> got = answers.AwaitAll(3);
  EXPECT_EQ(*got.at(1), 10);  // a batch of one: the count is right
  EXPECT_EQ(got.at(2).status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(got.at(3).status().code(), absl::StatusCode::kInternal);
}

TEST(Batcher, DestructionWaitsUntilEveryQueuedRequestIsAnswered) {
  RecordingLoad load;
  Answers answers;
  {
    WorkerPool workers("test", 2);
    Loader loader(Forward(workers, load), 2, 1);
    load.Hold();
    loader.Add(1, kLater, answers.For(1));
    load.AwaitBatches(1);
    for (int key = 2; key <= 5; ++key) loader.Add(key, kLater, answers.For(key));
    load.Release();
  }  // the Batcher's destructor waits, then the pool's
  EXPECT_EQ(answers.AwaitAll(5).size(), 5u);
}

// An asynchronous batch (as a call on gRPC's callback API): StartBatch returns
// at once and the batch finishes later, from another thread.
class PendingBatches {
 public:
  void Start(std::vector<int> items, system_clock::time_point /*deadline*/,
             Loader::Finished finished) {
    std::lock_guard<std::mutex> lock(mu_);
    started_.push_back(std::move(items));
    finished_.push_back(std::move(finished));
    changed_.notify_all();
  }
  // Finishes batch `i` with item * 10 for each item, from a new thread.
  void FinishFromAnotherThread(std::size_t i) {
    std::vector<int> items;
    Loader::Finished finished;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ASSERT_TRUE(changed_.wait_for(lock, 10s, [&] { return started_.size() > i; }));
      items = started_[i];
      finished = std::move(finished_[i]);
    }
    std::thread([items, finished = std::move(finished)]() mutable {
      std::vector<absl::StatusOr<int>> results;
      for (int item : items) results.push_back(item * 10);
      std::move(finished)(std::move(results));
    }).join();
  }
  std::vector<std::vector<int>> started() {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::vector<int>> started_;
  std::vector<Loader::Finished> finished_;
};

TEST(Batcher, AsynchronousBatchesHoldNoThreadAndQueueBehindTheirSlot) {
  PendingBatches pending;
  Answers answers;
  Loader loader(
      [&pending](const std::vector<int>& items, system_clock::time_point deadline,
                 Loader::Finished finished) {
        pending.Start(items, deadline, std::move(finished));
      },
      100, 1);
  // Add() returns although the batch has not finished: nothing waits.
  loader.Add(1, kLater, answers.For(1));
  loader.Add(2, kLater, answers.For(2));
  loader.Add(3, kLater, answers.For(3));
  EXPECT_EQ(pending.started(), (std::vector<std::vector<int>>{{1}}));
  pending.FinishFromAnotherThread(0);  // its thread then starts the queued batch
  pending.FinishFromAnotherThread(1);
  std::map<int, absl::StatusOr<int>> got = answers.AwaitAll(3);
  EXPECT_EQ(*got.at(1), 10);
  EXPECT_EQ(*got.at(2), 20);
  EXPECT_EQ(*got.at(3), 30);
  EXPECT_EQ(pending.started(), (std::vector<std::vector<int>>{{1}, {2, 3}}));
}

// A batch statement that fails as a whole when it holds a "poison" key
// (like PostgreSQL refusing one row), with the mark that lets the Batcher
// split it; `other` is a code to fail with instead for key 0.
std::vector<absl::StatusOr<int>> PoisonedLoad(const std::vector<int>& keys,
                                              std::vector<std::vector<int>>* runs) {
  runs->push_back(keys);
  for (int key : keys) {
    if (key == 13) {
      return std::vector<absl::StatusOr<int>>(
          keys.size(), WholeBatchFailure(absl::InternalError("sql error 23514")));
    }
    if (key == 0) {
      return std::vector<absl::StatusOr<int>>(
          keys.size(), WholeBatchFailure(absl::UnavailableError("database unavailable")));
    }
  }
  std::vector<absl::StatusOr<int>> results;
  for (int key : keys) results.push_back(key * 10);
  return results;
}

// PoisonedLoad as a blocking batch on `workers`, recording into `runs`.
Loader::OnWorkerPool PoisonedOnWorkers(WorkerPool& workers, std::vector<std::vector<int>>& runs) {
  return Loader::OnWorkers(workers,
                           [&runs](const std::vector<int>& keys, system_clock::time_point) {
                             return PoisonedLoad(keys, &runs);
                           });
}

// Keeps the only thread of `workers` busy until the returned promise is
// set, so that the calls made meanwhile queue up and share one batch.
std::promise<void> OccupyTheWorker(WorkerPool& workers) {
  std::promise<void> release;
  workers.Submit([released = release.get_future().share()] { released.wait(); });
  return release;
}

TEST(Batcher, ABatchThatFailsAsAWholeIsSplitUntilOnlyTheGuiltyItemsFail) {
  WorkerPool workers("test", 1);
  std::vector<std::vector<int>> runs;  // only the one worker touches it
  Answers answers;
  {
    Loader loader(PoisonedOnWorkers(workers, runs), 100, 1);
    // The first batch holds the worker while the next eight calls queue, so
    // that they share one batch: 1..8 with the poison 13 among them.
    std::promise<void> release = OccupyTheWorker(workers);
    for (int key : {1, 2, 13, 4, 5, 6, 7, 8}) loader.Add(key, kLater, answers.For(key));
    release.set_value();
    std::map<int, absl::StatusOr<int>> got = answers.AwaitAll(8);
    for (int key : {1, 2, 4, 5, 6, 7, 8}) {
      ASSERT_TRUE(got.at(key).ok()) << key << ": " << got.at(key).status();
      EXPECT_EQ(*got.at(key), key * 10);
    }
    EXPECT_EQ(got.at(13).status().code(), absl::StatusCode::kInternal);
    EXPECT_EQ(got.at(13).status().message(), "sql error 23514");
    // The mark never leaves the Batcher.
    EXPECT_FALSE(IsWholeBatchFailure(got.at(13).status()));
  }
  // {1} ran alone (the worker was free when it came); the seven queued
  // behind it: 7 -> 3 + 4 -> (1 + 2) -> (1 + 1): the guilty item is found
  // in 2·log2(n) runs, and the half without it runs once.
  EXPECT_EQ(runs,
            (std::vector<std::vector<int>>{
                {1}, {2, 13, 4, 5, 6, 7, 8}, {2, 13, 4}, {2}, {13, 4}, {13}, {4}, {5, 6, 7, 8}}));
}

TEST(Batcher, FailuresNoItemCanCauseAreNotSplit) {
  WorkerPool workers("test", 1);
  std::vector<std::vector<int>> runs;
  Answers answers;
  Loader loader(PoisonedOnWorkers(workers, runs), 100, 1);
  std::promise<void> release = OccupyTheWorker(workers);
  for (int key : {100, 0, 1, 2, 3}) loader.Add(key, kLater, answers.For(key));
  release.set_value();
  std::map<int, absl::StatusOr<int>> got = answers.AwaitAll(5);
  EXPECT_EQ(*got.at(100), 1000);
  for (int key : {0, 1, 2, 3}) {
    EXPECT_EQ(got.at(key).status().code(), absl::StatusCode::kUnavailable);
  }
  // UNAVAILABLE: retrying halves cannot help, so they are not tried.
  EXPECT_EQ(runs, (std::vector<std::vector<int>>{{100}, {0, 1, 2, 3}}));
}

TEST(Batcher, AsynchronousBatchesAreSplitTheSameWay) {
  std::vector<std::vector<int>> runs;
  std::mutex mu;
  Answers answers;
  PendingBatches pending;
  bool hold = true;
  Loader loader(
      [&](const std::vector<int>& items, system_clock::time_point deadline,
          Loader::Finished finished) {
        std::unique_lock<std::mutex> lock(mu);
        if (hold) {  // the first batch waits, so that the rest queue up
          hold = false;
          lock.unlock();
          pending.Start(items, deadline, std::move(finished));
          return;
        }
        std::vector<absl::StatusOr<int>> results = PoisonedLoad(items, &runs);
        lock.unlock();
        // As a gRPC callback would: from another thread.
        std::thread([finished = std::move(finished), results = std::move(results)]() mutable {
          std::move(finished)(std::move(results));
        }).detach();
      },
      100, 1);
  loader.Add(100, kLater, answers.For(100));
  for (int key : {13, 2, 3, 4}) loader.Add(key, kLater, answers.For(key));
  pending.FinishFromAnotherThread(0);
  std::map<int, absl::StatusOr<int>> got = answers.AwaitAll(5);
  EXPECT_EQ(*got.at(100), 1000);
  for (int key : {2, 3, 4}) {
    ASSERT_TRUE(got.at(key).ok()) << key << ": " << got.at(key).status();
    EXPECT_EQ(*got.at(key), key * 10);
  }
  EXPECT_EQ(got.at(13).status().code(), absl::StatusCode::kInternal);
  EXPECT_FALSE(IsWholeBatchFailure(got.at(13).status()));
  std::lock_guard<std::mutex> lock(mu);
  // {13,2,3,4} -> {13,2} + {3,4} -> {13} + {2}
  EXPECT_EQ(runs, (std::vector<std::vector<int>>{{13, 2, 3, 4}, {13, 2}, {13}, {2}, {3, 4}}));
}

TEST(InKeyOrder, RepeatedKeysEachGetTheRecordAndMissingKeysTheirOwnError) {
  struct Row {
    int id;
    std::string name;
  };
  std::vector<absl::StatusOr<Row>> got = InKeyOrder(
      std::vector<int>{7, 3, 7, 9, 7},
      absl::StatusOr<std::vector<Row>>({{3, "three"}, {7, "seven"}}),
      [](const Row& row) { return row.id; },
      [](int id) { return absl::NotFoundError(std::to_string(id)); });
  ASSERT_EQ(got.size(), 5u);
  for (int i : {0, 2, 4}) {
    ASSERT_TRUE(got[i].ok()) << i;
    EXPECT_EQ(got[i]->name, "seven") << i;  // copies, and the record itself last
  }
  EXPECT_EQ(got[1]->name, "three");
  EXPECT_EQ(got[3].status(), absl::NotFoundError("9"));
}

}  // namespace
}  // namespace microblog
