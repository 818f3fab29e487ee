#include "common/exec/fair_work_queue.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "common/base/status.h"

namespace microblog {
namespace {

// Weight of the newest run time in the moving average: about the last ten
// jobs count, so that the estimate follows a change of load within a second
// or two of hashing without jumping on one slow job.
constexpr double kNewestWeight = 0.1;

const char* ReasonLabel(FairWorkQueue::Refusal refusal) {
  switch (refusal) {
    case FairWorkQueue::Refusal::kCallerQueueFull:
      return "caller_queue_full";
    case FairWorkQueue::Refusal::kQueueFull:
      return "queue_full";
    case FairWorkQueue::Refusal::kDeadline:
      return "deadline";
    case FairWorkQueue::Refusal::kNone:
      break;
  }
  return "none";
}

const char* MessageOf(FairWorkQueue::Refusal refusal) {
  switch (refusal) {
    case FairWorkQueue::Refusal::kCallerQueueFull:
      return "too many of this caller's requests are waiting; retry later";
    case FairWorkQueue::Refusal::kQueueFull:
      return "too many requests are waiting; retry later";
    case FairWorkQueue::Refusal::kDeadline:
      return "the request could not be served before its deadline; retry later";
    case FairWorkQueue::Refusal::kNone:
      break;
  }
  return "";
}

}  // namespace

FairWorkQueue::FairWorkQueue(FairWorkQueueOptions options)
    : options_(std::move(options)),
      average_seconds_(std::chrono::duration<double>(options_.initial_job_estimate).count()) {
  if (options_.refused != nullptr) {
    // The series exist at 0 from the start, so that rate() sees the first.
    for (Refusal r : {Refusal::kCallerQueueFull, Refusal::kQueueFull, Refusal::kDeadline}) {
      options_.refused->WithLabels({ReasonLabel(r)});
    }
  }
  const std::size_t threads = std::max<std::size_t>(options_.threads, 1);
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

FairWorkQueue::~FairWorkQueue() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

std::chrono::nanoseconds FairWorkQueue::JobEstimate() const {
  if (options_.job_cost) return options_.job_cost();
  absl::MutexLock lock(&mu_);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(average_seconds_));
}

std::size_t FairWorkQueue::queued() const {
  absl::MutexLock lock(&mu_);
  return queued_;
}

FairWorkQueue::Admission FairWorkQueue::Refuse(const std::string& key, Refusal refusal,
                                               Clock::time_point now, Clock::time_point deadline,
                                               std::chrono::nanoseconds retry_delay) {
  if (options_.refused != nullptr) options_.refused->WithLabels({ReasonLabel(refusal)}).Increment();
  Admission admission{refusal, ResourceExhaustedRetryAfter(MessageOf(refusal), retry_delay)};
  if (options_.max_hold <= std::chrono::nanoseconds::zero()) return admission;
  const Clock::time_point not_before =
      now + std::chrono::duration_cast<Clock::duration>(retry_delay);
  bool ignored_retry_info = false;
  {
    absl::MutexLock lock(&mu_);
    auto last = retry_not_before_.find(key);
    if (last != retry_not_before_.end()) {
      ignored_retry_info = now < last->second;
      last->second = not_before;
    } else {
      if (retry_not_before_.size() >= options_.max_remembered_keys) {
        for (auto it = retry_not_before_.begin(); it != retry_not_before_.end();) {
          it = it->second <= now ? retry_not_before_.erase(it) : std::next(it);
        }
      }
      if (retry_not_before_.size() < options_.max_remembered_keys) {
        retry_not_before_.emplace(key, not_before);
      }
    }
  }
  if (ignored_retry_info) {
    const auto half_left = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::max(deadline - now, Clock::duration::zero()) / 2);
    admission.hold = std::min({retry_delay, options_.max_hold, half_left});
  }
  return admission;
}

FairWorkQueue::Admission FairWorkQueue::Submit(const std::string& key, Clock::time_point deadline,
                                               Job job) {
  const Clock::time_point now = Clock::now();
  absl::ReleasableMutexLock lock(&mu_);
  const std::size_t threads = threads_.size();
  auto own = waiting_.find(key);
  const std::size_t own_waiting = own == waiting_.end() ? 0 : own->second.size();
  // The jobs round-robin runs before this one: none for a key with nothing
  // waiting (it joins fresh_, dispatched first, below; other fresh keys
  // ahead of it are ignored: one job each); else the key's own, and up to
  // as many of every other key.
  std::size_t ahead = own_waiting;
  if (own_waiting > 0) {
    for (const auto& [other, jobs] : waiting_) {
      if (other != key) ahead += std::min(jobs.size(), own_waiting);
    }
  }
  const std::chrono::duration<double> cost =
      options_.job_cost ? std::chrono::duration<double>(options_.job_cost())
                        : std::chrono::duration<double>(average_seconds_);
  const double capacity = static_cast<double>(options_.capacity > 0 ? options_.capacity : threads);
  const std::chrono::duration<double> before_it =
      cost * static_cast<double>(running_ + ahead) / capacity;
  const auto retry_delay =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::max(before_it, cost));
  if (own_waiting >= options_.max_queued_per_key) {
    lock.Release();
    return Refuse(key, Refusal::kCallerQueueFull, now, deadline, retry_delay);
  }
  if (queued_ >= options_.max_queued) {
    lock.Release();
    return Refuse(key, Refusal::kQueueFull, now, deadline, retry_delay);
  }
  if (now + std::chrono::duration_cast<Clock::duration>(before_it + cost) > deadline) {
    lock.Release();
    return Refuse(key, Refusal::kDeadline, now, deadline, retry_delay);
  }
  if (own == waiting_.end()) {
    // A key with nothing waiting goes before the busy ones (fresh_): it has
    // had no share lately, and a flood's key is never idle, so a flood
    // cannot use this to jump its own queue (a newcomer waits for the jobs
    // running, not also for one more of each busy caller).
    own = waiting_.emplace(key, std::deque<Job>()).first;
    fresh_.push_back(key);
  }
  own->second.push_back(std::move(job));
  ++queued_;
  if (options_.queued != nullptr) options_.queued->Add(1);
  return {};
}

void FairWorkQueue::Work() {
  // Named threads make profiles (perf, top -H) readable; Linux allows 15 chars.
  pthread_setname_np(pthread_self(), options_.name.substr(0, 15).c_str());
  if (options_.on_thread_start) options_.on_thread_start();
  absl::MutexLock lock(&mu_);
  for (;;) {
    mu_.Await(absl::Condition(this, &FairWorkQueue::HasJobOrStopping));
    if (queued_ == 0) return;  // stopping, and nothing left to run
    // The next key in the ring gives its oldest job, and goes to the back
    // if it has more.
    std::deque<std::string>& next = fresh_.empty() ? ring_ : fresh_;
    std::string key = std::move(next.front());
    next.pop_front();
    auto jobs = waiting_.find(key);
    Job job = std::move(jobs->second.front());
    jobs->second.pop_front();
    if (jobs->second.empty()) {
      waiting_.erase(jobs);
    } else {
      ring_.push_back(std::move(key));
    }
    --queued_;
    ++running_;
    if (options_.queued != nullptr) options_.queued->Add(-1);
    mu_.Unlock();
    const auto start = std::chrono::steady_clock::now();
    std::move(job)();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    mu_.Lock();
    --running_;
    average_seconds_ += kNewestWeight * (took.count() - average_seconds_);
  }
}

}  // namespace microblog
