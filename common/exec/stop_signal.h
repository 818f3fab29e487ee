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

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace microblog {

class StopSignal {
 public:
  // Raises the flag and wakes every SleepFor(). Idempotent.
  void Stop() {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
  }

  bool stopped() const {
    absl::MutexLock lock(&mu_);
    return stopped_;
  }

  // Sleeps `how_long` unless Stop() comes first; returns whether to go on
  // (false once stopped). Abseil 20220623 times the sleep on the system
  // clock: a step of that clock lengthens or shortens it.
  template <typename Rep, typename Period>
  bool SleepFor(std::chrono::duration<Rep, Period> how_long) {
    absl::MutexLock lock(&mu_);
    return !mu_.AwaitWithTimeout(
        absl::Condition(&stopped_),
        absl::FromChrono(std::chrono::duration_cast<std::chrono::nanoseconds>(how_long)));
  }

 private:
  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_EXEC_STOP_SIGNAL_H_
