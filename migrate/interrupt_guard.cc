#include "migrate/interrupt_guard.h"

#include <pthread.h>

#include "migrate/errors.h"
#include "migrate/scratch_database.h"

namespace microblog {
namespace migrate {

InterruptGuard::InterruptGuard() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGINT);
  sigaddset(&set_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set_, &old_mask_);
  thread_ = std::thread([this] {
    while (true) {
      int signal = 0;
      if (sigwait(&set_, &signal) != 0) continue;
      if (stopping_.load()) return;
      int expected = 0;
      if (received_.compare_exchange_strong(expected, signal)) DropAllScratchDatabases();
    }
  });
}

InterruptGuard::~InterruptGuard() {
  stopping_.store(true);
  pthread_kill(thread_.native_handle(), SIGTERM);  // wakes sigwait
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

void InterruptGuard::RethrowIfInterrupted(const std::string& while_doing) const {
  const int signal = received();
  if (signal == 0) return;
  throw MigrateError(static_cast<ExitCode>(128 + signal),
                     std::string("interrupted by ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") +
                         " while " + while_doing + "; the scratch databases were dropped.");
}

}  // namespace migrate
}  // namespace microblog
