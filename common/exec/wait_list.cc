#include "common/exec/wait_list.h"

#include <utility>

#include "absl/time/time.h"

namespace microblog {
namespace {

void RunAll(std::vector<WaitList::Waiter> waiters) {
  for (WaitList::Waiter& waiter : waiters) std::move(waiter)();
}

}  // namespace

WaitList::WaitList() : timer_([this] { RunTimer(); }) {}

WaitList::~WaitList() {
  Close();
  timer_.join();
}

uint64_t WaitList::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

bool WaitList::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

void WaitList::Wait(uint64_t seen, Clock::time_point deadline, Waiter waiter) {
  {
    absl::MutexLock lock(&mu_);
    if (!closed_ && seen == generation_ && deadline > Clock::now()) {
      const bool earliest = waiters_.empty() || deadline < waiters_.begin()->first;
      waiters_.emplace(deadline, std::move(waiter));
      if (earliest) timer_wake_.Signal();
      return;
    }
  }
  std::move(waiter)();
}

void WaitList::NotifyAll() {
  std::vector<Waiter> woken;
  {
    absl::MutexLock lock(&mu_);
    ++generation_;
    woken = TakeLocked(/*everyone=*/true);
  }
  RunAll(std::move(woken));
}

void WaitList::Close() {
  std::vector<Waiter> woken;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    woken = TakeLocked(/*everyone=*/true);
  }
  timer_wake_.Signal();
  RunAll(std::move(woken));
}

std::vector<WaitList::Waiter> WaitList::TakeLocked(bool everyone) {
  std::vector<Waiter> taken;
  const Clock::time_point now = Clock::now();
  auto it = waiters_.begin();
  while (it != waiters_.end() && (everyone || it->first <= now)) {
    taken.push_back(std::move(it->second));
    it = waiters_.erase(it);
  }
  return taken;
}

void WaitList::RunTimer() {
  absl::MutexLock lock(&mu_);
  while (!closed_) {
    if (waiters_.empty()) {
      timer_wake_.Wait(&mu_);
    } else {
      // A copy: NotifyAll() may erase the waiter during the wait.
      const Clock::time_point earliest = waiters_.begin()->first;
      timer_wake_.WaitWithDeadline(&mu_, absl::FromChrono(earliest));
    }
    std::vector<Waiter> expired = TakeLocked(/*everyone=*/false);
    if (expired.empty()) continue;
    mu_.Unlock();
    RunAll(std::move(expired));
    mu_.Lock();
  }
}

}  // namespace microblog
