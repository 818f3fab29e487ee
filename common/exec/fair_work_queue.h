// A fixed set of threads running jobs that callers queue under a key (the
// caller's identity, common/rpc/caller_key.h), round-robin across keys, with
// admission control: a job that cannot finish before its deadline, or that
// would exceed the caller's or the total queue cap, is refused at once
// instead of waiting in vain. For expensive work that hostile or runaway
// callers can flood (Argon2id password checks, issue #21).
//
//   FairWorkQueue queue({"hash-worker", 4, /*max_queued_per_key=*/64, /*max_queued=*/1024});
//   FairWorkQueue::Admission admitted =
//       queue.Submit(CallerKeyOf(*context), deadline, [=] { ... });
//   if (!admitted.ok()) return RespondNow(context, admitted.status);  // RESOURCE_EXHAUSTED
//
// Fairness: keys with waiting jobs form a ring; each free thread takes the
// oldest job of the next key in the ring. A key alone may use every thread
// (the queue never idles while work waits), but as soon as others wait each
// gets an equal share of the dispatches, and a newcomer (a key with nothing
// waiting) is dispatched before the busy keys: it waits for a running job to
// end, not for the whole backlog of a flood, nor for one more job of each
// busy key. A flood's key is never idle, so it cannot use this.
//
// Admission: a job costs `job_cost()` of one of `capacity` parallel units
// of the resource its jobs contend for (e.g. an Argon2id hash on one of the
// hashing threads; by default, a moving average of the jobs' own run
// times, seeded with `initial_job_estimate`, on `threads` units). A new job
// of key k whose key already has p jobs waiting runs after the jobs that
// round-robin dispatches before it ("ahead": none when p = 0, else its own p
// and up to p of every other waiting key) and those running: it is expected to start
// after (running + ahead) × cost / capacity and to finish one cost later. If that is past its
// deadline it is refused at once (kDeadline): it could not be served in
// time, and waiting would only hold memory and end in DEADLINE_EXCEEDED.
// The RetryInfo delay is the time the work ahead needs, (running + ahead)
// × cost / capacity, at least one job's cost. Jobs queued by calls that
// were abandoned meanwhile still count until a thread skips them (the job
// itself checks; RespondOn does).
//
// Callers that ignore RetryInfo: a key refused once and calling again
// before that refusal's RetryInfo delay has passed is refused again, but
// the answer is held (Admission::hold) for the new delay, at most
// `max_hold` and at most half the time left to the call's deadline. A
// client that honours RetryInfo never sees a hold; one that retries at
// once gets its refusals at the pace it was asked to keep, so that a
// refusal loop cannot take the CPU from the calls being served (issue #21:
// 128 hostile callers made 13,000 refusals a second). The refusal times of
// at most `max_remembered_keys` keys are kept (expired ones are dropped
// first; beyond that, new keys are not remembered: no hold).
//
// Memory: at most `max_queued` jobs wait (and `max_queued_per_key` per key),
// plus one per thread running, and `max_remembered_keys` refusal times:
// the queue's memory is bounded whatever callers send.
//
// Metrics (optional): `queued` counts the jobs waiting for a thread (added
// and subtracted, so several components may share one gauge); `refused`
// (label "reason": caller_queue_full, queue_full, deadline) counts refusals.
//
// Thread-safety: Submit() may be called from any thread, jobs included.
// Not copyable or movable. The destructor runs every job still queued, then
// joins the threads.
#ifndef MICROBLOG_COMMON_EXEC_FAIR_WORK_QUEUE_H_
#define MICROBLOG_COMMON_EXEC_FAIR_WORK_QUEUE_H_

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "common/base/metrics.h"

namespace microblog {

struct FairWorkQueueOptions {
  std::string name;         // thread names, in logs and profiles
  std::size_t threads = 1;  // at least 1
  std::size_t max_queued_per_key = 64;
  std::size_t max_queued = 1024;  // all keys together
  // Holding the refusals of callers that ignore RetryInfo (see above); a
  // zero max_hold turns it off.
  std::chrono::nanoseconds max_hold = std::chrono::seconds(1);
  std::size_t max_remembered_keys = 4096;
  // A job's cost, and the units serving them in parallel (0: `threads`).
  // Without job_cost, the moving average of the jobs' run times, which is
  // `initial_job_estimate` until jobs have been measured.
  std::function<std::chrono::nanoseconds()> job_cost;
  std::size_t capacity = 0;
  std::chrono::nanoseconds initial_job_estimate = std::chrono::milliseconds(100);
  Gauge* queued = nullptr;           // optional, see above
  CounterFamily* refused = nullptr;  // optional, label "reason"
  // Called once on each thread before it runs jobs (e.g. to lower its CPU
  // priority); optional.
  std::function<void()> on_thread_start;
};

class FairWorkQueue {
 public:
  using Job = absl::AnyInvocable<void() &&>;

  // Why a job was refused.
  enum class Refusal { kNone, kCallerQueueFull, kQueueFull, kDeadline };
  struct Admission {
    Refusal refusal = Refusal::kNone;
    // RESOURCE_EXHAUSTED with a google.rpc.RetryInfo when refused.
    absl::Status status;
    // When refused: how long to hold the answer before sending it (zero:
    // at once; see "Callers that ignore RetryInfo" above).
    std::chrono::nanoseconds hold{0};
    bool ok() const { return refusal == Refusal::kNone; }
  };

  explicit FairWorkQueue(FairWorkQueueOptions options);
  ~FairWorkQueue();

  FairWorkQueue(const FairWorkQueue&) = delete;
  FairWorkQueue& operator=(const FairWorkQueue&) = delete;

  // Queues `job` under `key` unless it is refused (see above); a refused
  // job is dropped without running. `job` must not throw.
  Admission Submit(const std::string& key, Clock::time_point deadline, Job job)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The current estimate of one job's cost (see above).
  std::chrono::nanoseconds JobEstimate() const;

  // Jobs waiting for a thread, all keys together.
  std::size_t queued() const;

 private:
  void Work();
  // What a thread waits for: a job, or the end.
  bool HasJobOrStopping() const ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || queued_ > 0; }
  // Counts the refusal, and works out its hold from the key's last one.
  Admission Refuse(const std::string& key, Refusal refusal, Clock::time_point now,
                   Clock::time_point deadline, std::chrono::nanoseconds retry_delay)
      ABSL_LOCKS_EXCLUDED(mu_);

  const FairWorkQueueOptions options_;
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, std::deque<Job>> waiting_ ABSL_GUARDED_BY(mu_);  // no empty deque
  // The keys of waiting_, next first: those that had nothing waiting when
  // their job came (fresh_, in arrival order), then the busy ones,
  // round-robin (ring_).
  std::deque<std::string> fresh_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> ring_ ABSL_GUARDED_BY(mu_);
  std::size_t queued_ ABSL_GUARDED_BY(mu_) = 0;  // jobs in waiting_
  std::size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  double average_seconds_ ABSL_GUARDED_BY(mu_);  // the EWMA of job run times
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Per key refused lately: when its RetryInfo delay ends.
  std::unordered_map<std::string, Clock::time_point> retry_not_before_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_EXEC_FAIR_WORK_QUEUE_H_
