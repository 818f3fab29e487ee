#include "common/exec/wait_list.h"

#include <utility>

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
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

bool WaitList::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

void WaitList::Wait(uint64_t seen, Clock::time_point deadline, Waiter waiter) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_ && seen == generation_ && deadline > Clock::now()) {
      const bool earliest = waiters_.empty() || deadline < waiters_.begin()->first;
      waiters_.emplace(deadline, std::move(waiter));
      if (earliest) timer_wake_.notify_one();
      return;
    }
  }
  std::move(waiter)();
}

void WaitList::NotifyAll() {
  std::vector<Waiter> woken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;
    woken = TakeLocked(/*everyone=*/true);
  }
  RunAll(std::move(woken));
}

void WaitList::Close() {
  std::vector<Waiter> woken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    woken = TakeLocked(/*everyone=*/true);
  }
  timer_wake_.notify_one();
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
  std::unique_lock<std::mutex> lock(mu_);
  while (!closed_) {
    if (waiters_.empty()) {
      timer_wake_.wait(lock);
    } else {
      // A copy: wait_until reads it after waking, when NotifyAll() may
      // have erased the waiter.
      const Clock::time_point earliest = waiters_.begin()->first;
      timer_wake_.wait_until(lock, earliest);
    }
    std::vector<Waiter> expired = TakeLocked(/*everyone=*/false);
    if (expired.empty()) continue;
    lock.unlock();
    RunAll(std::move(expired));
    lock.lock();
  }
}

}  // namespace microblog
