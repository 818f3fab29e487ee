#include "common/exec/periodic_task.h"

#include <pthread.h>

#include <string>
#include <utility>

namespace microblog {

PeriodicTask::PeriodicTask(std::string name, std::chrono::milliseconds interval,
                           std::function<void()> task)
    : name_(std::move(name)),
      interval_(interval),
      task_(std::move(task)),
      thread_([this] { Run(); }) {}

PeriodicTask::~PeriodicTask() {
  stop_.Stop();
  thread_.join();
}

void PeriodicTask::Run() {
  // Named for ps/top and debuggers (at most 15 characters).
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  while (stop_.SleepFor(interval_)) task_();
}

}  // namespace microblog
