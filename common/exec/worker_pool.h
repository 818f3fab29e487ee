// A fixed set of threads running queued jobs in FIFO order: where blocking
// work (a libpqxx query, an Argon2id hash) runs so that it never holds one
// of gRPC's own threads.
//
//   WorkerPool db_workers("db", 8);
//   db_workers.Submit([=] { reactor->Finish(Query(...)); });
//
// Sizing: a pool whose jobs each hold a database connection should have as
// many threads as the connection pool has connections, so that no job waits
// for a connection while holding a thread.
//
// Thread-safety: Submit() may be called from any thread, jobs included.
// Not copyable or movable.
#ifndef MICROBLOG_COMMON_EXEC_WORKER_POOL_H_
#define MICROBLOG_COMMON_EXEC_WORKER_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"

namespace microblog {

class WorkerPool {
 public:
  // Starts `threads` (at least 1) threads. `name` labels them in logs.
  // `on_thread_start`, if set, runs first on each thread (e.g. to lower
  // its CPU priority).
  WorkerPool(std::string name, std::size_t threads, std::function<void()> on_thread_start = {});
  // Runs every job already queued, then joins the threads: a call accepted
  // by the server is always answered, also during shutdown.
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job`, which runs once. It must not throw (an escaping exception
  // ends the process).
  using Job = absl::AnyInvocable<void() &&>;
  void Submit(Job job) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Work();
  // What a thread waits for: a job, or the end.
  bool HasJobOrStopping() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return stopping_ || !jobs_.empty();
  }

  const std::string name_;
  const std::function<void()> on_thread_start_;
  absl::Mutex mu_;
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_EXEC_WORKER_POOL_H_
