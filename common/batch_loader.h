// Coalesces concurrent single-key lookups into batched lookups, the way
// Facebook's DataLoader does: under load, the 64 GetUser calls in flight
// become a few `WHERE id = ANY($1)` queries instead of 64 round trips, and
// PostgreSQL and libpq pay per batch instead of per call.
//
// No call waits to be batched: a lookup that finds a loader thread idle is
// loaded at once, alone. Lookups arriving while every loader thread is busy
// queue up, and the next free thread loads all of them (up to max_batch) in
// one go. So batches grow only when the load does, and latency at low load
// is that of a single query.
//
//   BatchLoader<int64_t, UserRecord> users(
//       "user-loader",
//       [&](const std::vector<int64_t>& ids, Clock::time_point deadline) {
//         return LoadUsers(ids, deadline);  // one result per id, same order
//       },
//       /*max_batch=*/100, /*threads=*/2);
//   users.Load(42, deadline, [](absl::StatusOr<UserRecord> user) { ... });
//
// The callback runs on a loader thread and must be quick (answer the call,
// or hand further work to a WorkerPool). A lookup whose deadline passed
// while it was queued gets DEADLINE_EXCEEDED without being loaded.
//
// Thread-safety: Load() may be called from any thread. Not copyable.
#ifndef MICROBLOG_COMMON_BATCH_LOADER_H_
#define MICROBLOG_COMMON_BATCH_LOADER_H_

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace microblog {

// `Key` needs == and `Hash`.
template <typename Key, typename Value, typename Hash = std::hash<Key>>
class BatchLoader {
 public:
  using Clock = std::chrono::system_clock;
  using Result = absl::StatusOr<Value>;
  using Callback = std::function<void(Result)>;
  // Loads distinct `keys` (at most max_batch of them) together, and returns
  // exactly one result per key, in the order of `keys`: the value, or the
  // key's own error (e.g. NOT_FOUND), or the batch's error repeated. Must
  // not throw. `deadline` is the latest deadline among the batch's callers.
  using LoadFn = std::function<std::vector<Result>(const std::vector<Key>& keys,
                                                   Clock::time_point deadline)>;

  // Starts `threads` (at least 1) loader threads; each runs one batch at a
  // time, so `threads` bounds the batches in progress (and the connections
  // they hold).
  BatchLoader(std::string name, LoadFn load, std::size_t max_batch, std::size_t threads)
      : name_(std::move(name)), load_(std::move(load)), max_batch_(std::max<std::size_t>(max_batch, 1)) {
    threads = std::max<std::size_t>(threads, 1);
    for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }

  // Loads every lookup still queued, then joins the threads: every Load()
  // gets its callback.
  ~BatchLoader() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& thread : threads_) thread.join();
  }

  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Looks `key` up; `done` gets the result exactly once, on a loader thread.
  void Load(Key key, Clock::time_point deadline, Callback done) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.push_back({std::move(key), deadline, std::move(done)});
    }
    ready_.notify_one();
  }

 private:
  struct Lookup {
    Key key;
    Clock::time_point deadline;
    Callback done;
  };

  void Run() {
    pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
    for (;;) {
      std::vector<Lookup> batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
        if (pending_.empty()) return;  // stopping, and nothing left to load
        const std::size_t n = std::min(pending_.size(), max_batch_);
        batch.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
          batch.push_back(std::move(pending_.front()));
          pending_.pop_front();
        }
      }
      LoadBatch(batch);
    }
  }

  void LoadBatch(std::vector<Lookup>& batch) {
    const Clock::time_point now = Clock::now();
    std::vector<Key> keys;
    std::unordered_map<Key, std::size_t, Hash> index;  // key -> position in keys
    std::vector<std::size_t> slot(batch.size(), kExpired);
    Clock::time_point deadline = now;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (batch[i].deadline <= now) continue;
      deadline = std::max(deadline, batch[i].deadline);
      auto [it, inserted] = index.emplace(batch[i].key, keys.size());
      if (inserted) keys.push_back(batch[i].key);
      slot[i] = it->second;
    }
    std::vector<Result> results;
    if (!keys.empty()) results = load_(keys, deadline);
    if (results.size() != keys.size()) {
      results.assign(keys.size(), absl::InternalError(name_ + ": loader returned a wrong count"));
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (slot[i] == kExpired) {
        batch[i].done(absl::DeadlineExceededError("deadline exceeded while queued"));
      } else {
        batch[i].done(results[slot[i]]);
      }
    }
  }

  static constexpr std::size_t kExpired = static_cast<std::size_t>(-1);

  const std::string name_;
  const LoadFn load_;
  const std::size_t max_batch_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<Lookup> pending_;  // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  std::vector<std::thread> threads_;
};

// Shapes the answer of a batched query into what a LoadFn returns: one
// result per key of `keys`, in their order: the record whose key_of() is
// that key, or missing(key) (e.g. NOT_FOUND) when `found` has none; every
// result is found.status() when the query failed.
//
//   return InKeyOrder(ids, store.GetByIds(ids, deadline),
//                     [](const UserRecord& u) { return u.id; }, UserNotFound);
template <typename Key, typename Record, typename KeyOf, typename Missing>
std::vector<absl::StatusOr<Record>> InKeyOrder(const std::vector<Key>& keys,
                                               absl::StatusOr<std::vector<Record>> found,
                                               KeyOf key_of, Missing missing) {
  if (!found.ok()) return std::vector<absl::StatusOr<Record>>(keys.size(), found.status());
  std::unordered_map<Key, Record*> by_key;
  for (Record& record : *found) by_key[key_of(record)] = &record;
  std::vector<absl::StatusOr<Record>> results;
  results.reserve(keys.size());
  for (const Key& key : keys) {
    auto it = by_key.find(key);
    if (it == by_key.end()) {
      results.push_back(missing(key));
    } else {
      results.push_back(std::move(*it->second));
    }
  }
  return results;
}

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BATCH_LOADER_H_
