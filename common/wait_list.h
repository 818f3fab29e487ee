// Callbacks waiting for "something changed" or their deadline, whichever
// comes first: the long poll of a feed (UserService.ListUserEvents) parks
// its call here instead of holding a thread, and a wake-up source
// (PgListener, common/pg_listener.h) calls NotifyAll().
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
#ifndef MICROBLOG_COMMON_WAIT_LIST_H_
#define MICROBLOG_COMMON_WAIT_LIST_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "common/clock.h"

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
  void Wait(uint64_t seen, Clock::time_point deadline, Waiter waiter);

  // Runs every waiter now.
  void NotifyAll();

  // Runs every waiter now, and every later one at once.
  void Close();
  bool closed() const;

 private:
  void RunTimer();
  // Takes the waiters whose deadline passed (all when `everyone`).
  std::vector<Waiter> TakeLocked(bool everyone);

  mutable std::mutex mu_;
  std::condition_variable timer_wake_;
  uint64_t generation_ = 0;                       // guarded by mu_
  bool closed_ = false;                           // guarded by mu_
  std::multimap<Clock::time_point, Waiter> waiters_;  // guarded by mu_
  std::thread timer_;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_WAIT_LIST_H_
