// Ctrl-C and SIGTERM for the commands that make scratch databases (`check`,
// `new --autogenerate`): while an InterruptGuard exists, SIGINT and SIGTERM
// do not kill the process; a thread of its own receives the first one and
// drops every scratch database still alive (DropAllScratchDatabases(),
// WITH (FORCE), which also ends the main thread's work in them). The main
// thread then fails, and RethrowIfInterrupted() turns that failure into
// exit code 128 + the signal's number, like a shell (130, 143).
//
// Usage:
//   InterruptGuard guard;
//   try { ... } catch (...) { guard.RethrowIfInterrupted("checking database user"); throw; }
//
// Construct it on the main thread before starting other threads (they
// inherit the blocked signal mask). Not copyable; one at a time.
#ifndef MICROBLOG_MIGRATE_INTERRUPT_GUARD_H_
#define MICROBLOG_MIGRATE_INTERRUPT_GUARD_H_

#include <signal.h>

#include <atomic>
#include <string>
#include <thread>

namespace microblog {
namespace migrate {

class InterruptGuard {
 public:
  InterruptGuard();
  // Stops the watcher thread and restores the signal mask.
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

  // The signal received, 0 if none.
  int received() const { return received_.load(); }

  // Throws MigrateError(128 + signal) saying it was interrupted `while`
  // doing something, if a signal was received; returns otherwise.
  void RethrowIfInterrupted(const std::string& while_doing) const;

 private:
  sigset_t set_;
  sigset_t old_mask_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> received_{0};
  std::thread thread_;
};

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_INTERRUPT_GUARD_H_
