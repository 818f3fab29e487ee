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
#include <mutex>

namespace microblog {

class StopSignal {
 public:
  // Raises the flag and wakes every SleepFor(). Idempotent.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    wake_.notify_all();
  }

  bool stopped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }

  // Sleeps `how_long` unless Stop() comes first; returns whether to go on
  // (false once stopped).
  template <typename Rep, typename Period>
  bool SleepFor(std::chrono::duration<Rep, Period> how_long) {
    std::unique_lock<std::mutex> lock(mu_);
    return !wake_.wait_for(lock, how_long, [this] { return stopped_; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopped_ = false;  // guarded by mu_
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_EXEC_STOP_SIGNAL_H_
