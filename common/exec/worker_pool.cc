#include "common/exec/worker_pool.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

namespace microblog {

WorkerPool::WorkerPool(std::string name, std::size_t threads, std::function<void()> on_thread_start)
    : name_(std::move(name)), on_thread_start_(std::move(on_thread_start)) {
  threads = std::max<std::size_t>(threads, 1);
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

WorkerPool::~WorkerPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

void WorkerPool::Submit(Job job) {
  absl::MutexLock lock(&mu_);
  jobs_.push_back(std::move(job));
}

void WorkerPool::Work() {
  // Named threads make profiles (perf, top -H) readable; Linux allows 15 chars.
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  if (on_thread_start_) on_thread_start_();
  for (;;) {
    Job job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &WorkerPool::HasJobOrStopping));
      if (jobs_.empty()) return;  // stopping, and nothing left to run
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    std::move(job)();
  }
}

}  // namespace microblog
