// Runs a function every `interval` on a thread of its own, until destroyed:
// housekeeping such as pruning user-service's outbox.
//
//   PeriodicTask pruning("prune-user-events", std::chrono::minutes(1),
//                        [&] { feed.PruneExpired(); });
//
// The first run starts one interval after construction; a run that takes
// longer than the interval delays the next one (runs never overlap).
//
// Thread-safety: `task` runs on the task's thread only. The destructor
// waits for a run in progress, then stops.
#ifndef MICROBLOG_COMMON_EXEC_PERIODIC_TASK_H_
#define MICROBLOG_COMMON_EXEC_PERIODIC_TASK_H_

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "common/exec/stop_signal.h"

namespace microblog {

class PeriodicTask {
 public:
  // `task` must not throw.
  PeriodicTask(std::string name, std::chrono::milliseconds interval, std::function<void()> task);
  ~PeriodicTask();

  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

 private:
  void Run();

  const std::string name_;
  const std::chrono::milliseconds interval_;
  const std::function<void()> task_;
  StopSignal stop_;
  std::thread thread_;  // last: starts once the rest is set
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_EXEC_PERIODIC_TASK_H_
