// A flag a background thread's owner raises to make it stop, and the
// interruptible sleep that thread waits in: the one piece of shutdown
// logic of PeriodicTask, PgListener and post-service's UserEventConsumer.
//
//   StopSignal stop;
//   std::thread worker([&] {
//     while (stop.SleepFor(std::chrono::seconds(1))) DoWork();
//   });
//   ...
//   stop.Stop();      // wakes the sleeper at once
//   worker.join();
//
// Thread-safety: every method may be called from any thread.
#ifndef MICROBLOG_COMMON_EXEC_STOP_SIGNAL_H_
#define MICROBLOG_COMMON_EXEC_STOP_SIGNAL_H_

#include <chrono>
#include <condition_variable>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace microblog {

class StopSignal {
 public:
  // Raises the flag and wakes every SleepFor(). Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      stopped_ = true;
    }
    wake_.notify_all();
  }

  bool stopped() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return stopped_;
  }

  // Sleeps `how_long`, measured on the steady clock, unless Stop() comes
  // first; returns whether to go on (false once stopped).
  template <typename Rep, typename Period>
  bool SleepFor(std::chrono::duration<Rep, Period> how_long) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    // Not mu_.AwaitWithTimeout(): Abseil 20220623 times it on the system
    // clock, and a step of that clock (NTP, a VM resumed) would stretch the
    // sleep of every periodic task. std::condition_variable_any waits on
    // the steady clock, with mu_ as its lock.
    Locked locked{mu_};
    return !wake_.wait_for(locked, how_long,
                           [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopped_; });
  }

 private:
  // mu_, held, as the BasicLockable std::condition_variable_any unlocks
  // while it waits and locks again before it returns.
  struct Locked {
    absl::Mutex& mu;
    void lock() ABSL_NO_THREAD_SAFETY_ANALYSIS { mu.Lock(); }
    void unlock() ABSL_NO_THREAD_SAFETY_ANALYSIS { mu.Unlock(); }
  };

  mutable absl::Mutex mu_;
  std::condition_variable_any wake_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_EXEC_STOP_SIGNAL_H_
