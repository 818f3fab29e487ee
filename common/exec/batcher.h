// Coalesces concurrent single-item requests into batches, the way Facebook's
// DataLoader does: under load, the 64 GetUser calls in flight become a few
// `WHERE id = ANY($1)` queries instead of 64 round trips, 30 CreatePost
// inserts share one commit, and 50 author checks share one BatchGetUsers
// call. PostgreSQL, libpq and gRPC then pay per batch instead of per call.
//
// No request waits to be batched: one that arrives while fewer than
// `max_batches_in_flight` batches run starts a batch at once, alone. Requests
// arriving while every batch slot is busy queue up, and the next batch takes
// all of them (up to `max_batch`) in one go. So batches grow only when the
// load does, and latency at low load is that of a single query.
//
// How a batch runs is the owner's choice, given at construction:
//  - blocking work (a query) on a WorkerPool: Batcher::OnWorkers(pool, fn),
//    where fn returns one result per item; a worker that finished a batch
//    runs the next one queued for its slot itself;
//  - asynchronous work (a gRPC call on the callback API): a StartBatch that
//    returns at once and calls its `finished` later, from any thread.
//
//   Batcher<int64_t, UserRecord> users_by_id(
//       Batcher<int64_t, UserRecord>::OnWorkers(
//           db_workers, [&](const std::vector<int64_t>& ids, Clock::time_point deadline) {
//             return LoadUsers(ids, deadline);  // one result per id, same order
//           }),
//       /*max_batch=*/100, /*max_batches_in_flight=*/2);
//   users_by_id.Add(42, deadline, [](absl::StatusOr<UserRecord> user) { ... });
//
// Items are not deduplicated: two equal items are two requests, each with its
// own answer (two equal CreatePost calls are two posts), and the batch's work
// must accept repeated items. An item whose deadline passed while it was
// queued gets DEADLINE_EXCEEDED without being run. Each `done` runs on the
// thread that finished the batch and must be quick (answer the call, or hand
// further work to a WorkerPool or another Batcher).
//
// No shared fate: a request fails only for its own content. When a batch of
// several items fails as a whole for a reason one item may have caused (a
// statement PostgreSQL refused for one row's value, a peer that answered
// INTERNAL), the batch's work says so by answering every item
// WholeBatchFailure(status); the Batcher then splits the batch in two halves
// and runs each again, recursively, until the items that fail alone are
// found. Only they get the error; every other item gets its real answer.
// A guilty item among n costs about 2·log2(n) extra runs; a failure shared
// by every item (e.g. a broken table) at most 2n - 1 runs in all. This
// requires a batch that failed as a whole to have had no effect (one
// transaction, or a read), which every batch of ours is. Failures no item
// can cause (UNAVAILABLE, DEADLINE_EXCEEDED, ...) are not split: they are
// answered to every item at once, as they would be alone.
//
// Logs: a batch's work runs with the log trace (common/base/log.h) of its first
// traced request, the one current when Add() was called.
//
// Metrics: given a Histogram (BatchSizeHistogram()), each batch started
// observes its size there (microblog_batch_size{loader}), which tells how
// much batching the load produces.
//
// Thread-safety: Add() may be called from any thread, `done` callbacks
// included. Not copyable. The destructor waits for the batches in flight;
// the WorkerPool of OnWorkers() must outlive the Batcher.
#ifndef MICROBLOG_COMMON_EXEC_BATCHER_H_
#define MICROBLOG_COMMON_EXEC_BATCHER_H_

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/base/batch_failure.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/exec/worker_pool.h"

namespace microblog {

// The series microblog_batch_size{loader=`loader`} of `registry`, for a
// Batcher's `sizes`; null when `registry` is null.
Histogram* BatchSizeHistogram(Registry* registry, const std::string& loader);

// The batch limits of every Batcher of both services: at most kMaxBatch
// requests per batch (one SQL array, or one BatchGetUsers call: user-service
// accepts that many ids), and kBatchesInFlight batches of one kind at once
// (each on a connection of the pool, or a call to user-service).
inline constexpr std::size_t kMaxBatch = 100;
inline constexpr std::size_t kBatchesInFlight = 2;

template <typename Item, typename Result>
class Batcher {
 public:
  using Results = std::vector<absl::StatusOr<Result>>;
  // Receives one request's result, once.
  using Done = absl::AnyInvocable<void(absl::StatusOr<Result>) &&>;
  // Receives a batch's results, once: exactly one per item, in item order
  // (an item's own error, e.g. NOT_FOUND, or the batch's error repeated).
  using Finished = absl::AnyInvocable<void(Results) &&>;
  // Starts one batch of 1..max_batch items; `deadline` is the latest
  // deadline among them. `items` is valid only during the call (copy what
  // the work needs later). Must not throw; must call `finished` exactly
  // once.
  using StartBatch = std::function<void(const std::vector<Item>& items, Clock::time_point deadline,
                                        Finished finished)>;
  // A blocking batch: returns one result per item, in item order.
  using RunBatch =
      std::function<Results(const std::vector<Item>& items, Clock::time_point deadline)>;

  // Blocking batches on a WorkerPool: a worker runs `run` for a batch, then
  // the batches queued meanwhile for that slot, one after the other, before
  // it returns to the pool (no wake-up of another thread per batch).
  struct OnWorkerPool {
    WorkerPool* workers;
    RunBatch run;
  };
  static OnWorkerPool OnWorkers(WorkerPool& workers, RunBatch run) {
    return {&workers, std::move(run)};
  }

  // Asynchronous batches, started by `start`. `sizes`, if not null,
  // observes the size of each batch started and must outlive the Batcher.
  Batcher(StartBatch start, std::size_t max_batch, std::size_t max_batches_in_flight,
          Histogram* sizes = nullptr)
      : start_(std::move(start)),
        max_batch_(std::max<std::size_t>(max_batch, 1)),
        max_in_flight_(std::max<std::size_t>(max_batches_in_flight, 1)),
        sizes_(sizes) {}

  // Blocking batches on a WorkerPool (see OnWorkers).
  Batcher(OnWorkerPool blocking, std::size_t max_batch, std::size_t max_batches_in_flight,
          Histogram* sizes = nullptr)
      : workers_(blocking.workers),
        run_(std::move(blocking.run)),
        max_batch_(std::max<std::size_t>(max_batch, 1)),
        max_in_flight_(std::max<std::size_t>(max_batches_in_flight, 1)),
        sizes_(sizes) {}

  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Waits until the batches in flight have finished (their items answered).
  ~Batcher() {
    absl::MutexLock lock(&mu_);
    const auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
    mu_.Await(absl::Condition(&idle));
  }

  // Queues `item`; `done` gets its result exactly once, on the thread that
  // finishes its batch (or on this one, when the batch ends at once).
  void Add(Item item, Clock::time_point deadline, Done done) ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<Request> batch;
    {
      absl::MutexLock lock(&mu_);
      pending_.push_back({std::move(item), deadline, std::move(done), CurrentLogTrace()});
      if (in_flight_ == max_in_flight_) return;  // a running batch picks it up
      ++in_flight_;
      batch = TakeBatchLocked();
    }
    Run(std::move(batch));
  }

 private:
  struct Request {
    Item item;
    Clock::time_point deadline;
    Done done;
    std::shared_ptr<const LogTrace> trace;  // of the call that asked, if traced
  };

  // Up to max_batch_ requests from the front of the queue.
  std::vector<Request> TakeBatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::size_t n = std::min(pending_.size(), max_batch_);
    std::vector<Request> batch;
    batch.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    return batch;
  }

  // The next batch for a slot that just finished one, or an empty batch
  // when nothing is queued (the slot is then released: after that, this
  // thread must not touch `this`, which may be destroyed at once).
  std::vector<Request> NextBatchOrRelease() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (!pending_.empty()) return TakeBatchLocked();
    --in_flight_;  // at 0, the destructor's wait ends
    return {};
  }

  // The requests of `batch` whose deadline has not passed, their items and
  // their latest deadline; the others are answered DEADLINE_EXCEEDED here.
  // Observes the size of a batch that will run.
  struct LiveBatch {
    std::vector<Request> requests;
    std::vector<Item> items;
    Clock::time_point deadline;
    std::shared_ptr<const LogTrace> trace;  // the first traced request's
  };
  LiveBatch Live(std::vector<Request>& batch) {
    const Clock::time_point now = Clock::now();
    LiveBatch live{{}, {}, now, nullptr};
    for (Request& request : batch) {
      if (request.deadline <= now) {
        std::move(request.done)(absl::DeadlineExceededError("deadline exceeded while queued"));
        continue;
      }
      live.deadline = std::max(live.deadline, request.deadline);
      if (live.trace == nullptr) live.trace = request.trace;
      live.items.push_back(std::move(request.item));
      live.requests.push_back(std::move(request));
    }
    if (sizes_ != nullptr && !live.requests.empty()) {
      sizes_->Observe(static_cast<double>(live.requests.size()));
    }
    return live;
  }

  // Runs `batch` (not empty: it holds the slot) and the batches queued
  // behind it in this slot.
  void Run(std::vector<Request> batch) {
    if (workers_ != nullptr) {
      workers_->Submit(
          [this, batch = std::move(batch)]() mutable { RunOnThisWorker(std::move(batch)); });
      return;
    }
    while (!batch.empty()) {
      LiveBatch live = Live(batch);
      if (!live.requests.empty()) {
        ScopedLogTrace log_trace(std::move(live.trace));
        StartSplitting(std::move(live.items), live.deadline,
                       [this, requests = std::move(live.requests)](Results results) mutable {
                         Answer(requests, std::move(results));
                         // Once the slot is released, `this` may be gone:
                         // nothing of it is touched after an empty batch.
                         std::vector<Request> next = NextBatchOrRelease();
                         if (!next.empty()) Run(std::move(next));
                       });
        return;
      }
      batch = NextBatchOrRelease();
    }
  }

  // Whether `results` (of `size` items) say the batch failed as a whole in a
  // way worth splitting.
  static bool ShouldSplit(std::size_t size, const Results& results) {
    if (size < 2 || results.size() != size) return false;
    return std::all_of(results.begin(), results.end(), [](const absl::StatusOr<Result>& r) {
      return !r.ok() && IsWholeBatchFailure(r.status());
    });
  }

  // The halves of `items`: [0, n/2) and [n/2, n).
  static std::pair<std::vector<Item>, std::vector<Item>> Halves(const std::vector<Item>& items) {
    const auto middle = items.begin() + static_cast<std::ptrdiff_t>(items.size() / 2);
    return {std::vector<Item>(items.begin(), middle), std::vector<Item>(middle, items.end())};
  }

  // run_ on `items`, split while the batch fails as a whole (see the file
  // comment): one result per item, in item order.
  Results RunSplitting(const std::vector<Item>& items, Clock::time_point deadline) {
    Results results = run_(items, deadline);
    if (!ShouldSplit(items.size(), results)) return results;
    auto [first, second] = Halves(items);
    Results merged = RunSplitting(first, deadline);
    Results rest = RunSplitting(second, deadline);
    merged.insert(merged.end(), std::make_move_iterator(rest.begin()),
                  std::make_move_iterator(rest.end()));
    return merged;
  }

  // start_ on `items`, split the same way; the halves run one after the
  // other, and `finished` gets the merged results once. The items stay
  // here, for the split, while the batch runs.
  void StartSplitting(std::vector<Item> items, Clock::time_point deadline, Finished finished) {
    auto kept = std::make_shared<std::vector<Item>>(std::move(items));
    start_(*kept, deadline,
           [this, kept, deadline, finished = std::move(finished)](Results results) mutable {
             if (!ShouldSplit(kept->size(), results)) {
               return std::move(finished)(std::move(results));
             }
             auto [first, second] = Halves(*kept);
             StartSplitting(std::move(first), deadline,
                            [this, second = std::move(second), deadline,
                             finished = std::move(finished)](Results merged) mutable {
                              StartSplitting(
                                  std::move(second), deadline,
                                  [merged = std::move(merged),
                                   finished = std::move(finished)](Results rest) mutable {
                                    merged.insert(merged.end(),
                                                  std::make_move_iterator(rest.begin()),
                                                  std::make_move_iterator(rest.end()));
                                    std::move(finished)(std::move(merged));
                                  });
                            });
           });
  }

  // A blocking slot: runs batch after batch on this worker until none is
  // queued.
  void RunOnThisWorker(std::vector<Request> batch) {
    while (!batch.empty()) {
      LiveBatch live = Live(batch);
      if (!live.requests.empty()) {
        ScopedLogTrace log_trace(std::move(live.trace));
        Answer(live.requests, RunSplitting(live.items, live.deadline));
      }
      batch = NextBatchOrRelease();
    }
  }

  static void Answer(std::vector<Request>& requests, Results results) {
    if (results.size() != requests.size()) {
      results.assign(requests.size(),
                     absl::InternalError("batch returned a wrong number of results"));
    }
    for (std::size_t i = 0; i < requests.size(); ++i) {
      if (!results[i].ok()) results[i] = WithoutBatchMark(results[i].status());
      std::move(requests[i].done)(std::move(results[i]));
    }
  }

  const StartBatch start_;               // asynchronous batches, or
  WorkerPool* const workers_ = nullptr;  // blocking ones: run_ on workers_
  const RunBatch run_;
  const std::size_t max_batch_;
  const std::size_t max_in_flight_;
  Histogram* const sizes_;
  absl::Mutex mu_;
  std::deque<Request> pending_ ABSL_GUARDED_BY(mu_);
  std::size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;  // batch slots in use
};

// Shapes the answer of a batched query into a batch's results: one result
// per key of `keys`, in their order: the record whose key_of() is that key,
// or missing(key) (e.g. NOT_FOUND) when `found` has none; every result is
// WholeBatchFailure(found.status()) when the query failed. Keys may repeat: a record is copied
// for all but the last of its keys, and moved to that one.
//
//   return InKeyOrder(ids, store.GetByIds(ids, deadline),
//                     [](const UserRecord& u) { return u.id; },
//                     [](int64_t id) { return NotFoundResource("user", id); });
template <typename Key, typename Record, typename KeyOf, typename Missing>
std::vector<absl::StatusOr<Record>> InKeyOrder(const std::vector<Key>& keys,
                                               absl::StatusOr<std::vector<Record>> found,
                                               KeyOf key_of, Missing missing) {
  if (!found.ok()) {
    return std::vector<absl::StatusOr<Record>>(keys.size(), WholeBatchFailure(found.status()));
  }
  // Each record, with how many of `keys` still ask for it.
  std::unordered_map<Key, std::pair<Record*, std::size_t>> by_key;
  for (Record& record : *found) by_key[key_of(record)] = {&record, 0};
  for (const Key& key : keys) {
    auto it = by_key.find(key);
    if (it != by_key.end()) ++it->second.second;
  }
  std::vector<absl::StatusOr<Record>> results;
  results.reserve(keys.size());
  for (const Key& key : keys) {
    auto it = by_key.find(key);
    if (it == by_key.end()) {
      results.push_back(missing(key));
    } else if (--it->second.second == 0) {
      results.push_back(std::move(*it->second.first));
    } else {
      results.push_back(*it->second.first);
    }
  }
  return results;
}

}  // namespace microblog

#endif  // MICROBLOG_COMMON_EXEC_BATCHER_H_
