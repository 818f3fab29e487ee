// Callbacks waiting for "something changed" or their deadline, whichever
// comes first: the long poll of a feed (UserService.ListUserEvents) parks
// its call here instead of holding a thread, and a wake-up source
// (PgListener, common/db/pg_listener.h) calls NotifyAll().
//
//   WaitList waiters;
//   const uint64_t seen = waiters.generation();   // before reading
//   ... read; nothing new ...
//   waiters.Wait(seen, deadline, [=] { ReadAgain(); });
//
// A NotifyAll() between reading generation() and Wait() is not lost: Wait()
// then runs the waiter at once. Close() (at shutdown) runs every waiter and
// makes later Wait()s run theirs at once, so that long polls answer
// instead of holding the drain.
//
// Waiters run exactly once, on the thread of NotifyAll(), Close(), Wait()
// or the list's own timer thread: they must be quick and must not block
// (queue real work on a WorkerPool). They may call Wait() again.
//
// Thread-safety: every method may be called from any thread. The
// destructor closes the list and joins the timer thread.
#ifndef MICROBLOG_COMMON_EXEC_WAIT_LIST_H_
#define MICROBLOG_COMMON_EXEC_WAIT_LIST_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"

namespace microblog {

class WaitList {
 public:
  using Waiter = absl::AnyInvocable<void() &&>;

  WaitList();
  ~WaitList();

  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;

  // Counts NotifyAll() calls.
  uint64_t generation() const;

  // Runs `waiter` once, at the first of: a NotifyAll() after generation()
  // returned `seen` (at once if one already happened), `deadline`, Close().
  void Wait(uint64_t seen, Clock::time_point deadline, Waiter waiter) ABSL_LOCKS_EXCLUDED(mu_);

  // Runs every waiter now.
  void NotifyAll() ABSL_LOCKS_EXCLUDED(mu_);

  // Runs every waiter now, and every later one at once.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);
  bool closed() const;

 private:
  void RunTimer();
  // Takes the waiters whose deadline passed (all when `everyone`).
  std::vector<Waiter> TakeLocked(bool everyone) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::CondVar timer_wake_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::multimap<Clock::time_point, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  std::thread timer_;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_EXEC_WAIT_LIST_H_
