#include "user-service/login_throttle.h"

#include <algorithm>
#include <utility>

#include "common/base/status.h"
#include "user-service/identity_forms.h"
#include "user-service/user_validation.h"

namespace microblog {
namespace user {
namespace {

constexpr char kThrottledMessage[] = "too many failed password checks for this login; retry later";

std::string PairKey(const std::string& login, std::string_view source) {
  std::string key = login;
  key.push_back('\0');
  key.append(source);
  return key;
}

// The delay before the next attempt after `failures` consecutive ones.
MonotonicClock::duration DelayAfter(int failures) {
  if (failures < LoginThrottle::kFreeFailures) return MonotonicClock::duration::zero();
  const int doublings = std::min(failures - LoginThrottle::kFreeFailures, 20);
  const auto delay = LoginThrottle::kFirstDelay * (int64_t{1} << doublings);
  return std::min<MonotonicClock::duration>(delay, LoginThrottle::kMaxDelay);
}

}  // namespace

// --- Lru ---

template <typename Value>
Value* LoginThrottle::Lru<Value>::Find(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second.second);
  return &it->second.first;
}

template <typename Value>
Value& LoginThrottle::Lru<Value>::FindOrAdd(const std::string& key) {
  if (Value* found = Find(key)) return *found;
  if (entries_.size() >= max_ && !order_.empty()) {
    entries_.erase(order_.back());
    order_.pop_back();
  }
  order_.push_front(key);
  return entries_.emplace(key, std::make_pair(Value{}, order_.begin())).first->second.first;
}

template <typename Value>
void LoginThrottle::Lru<Value>::Erase(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  order_.erase(it->second.second);
  entries_.erase(it);
}

// --- Attempt ---

LoginThrottle::Attempt::Attempt(Attempt&& other) noexcept
    : throttle_(std::exchange(other.throttle_, nullptr)),
      login_(std::move(other.login_)),
      source_(std::move(other.source_)) {}

LoginThrottle::Attempt::~Attempt() {
  if (throttle_ != nullptr) throttle_->Finish(login_, source_, /*succeeded=*/false, false);
}

void LoginThrottle::Attempt::Succeeded() {
  if (throttle_ != nullptr) std::exchange(throttle_, nullptr)->Finish(login_, source_, true, true);
}

void LoginThrottle::Attempt::Failed() {
  if (throttle_ != nullptr) std::exchange(throttle_, nullptr)->Finish(login_, source_, false, true);
}

// --- LoginThrottle ---

LoginThrottle::LoginThrottle(Registry* metrics, std::function<MonotonicClock::time_point()> now,
                             std::size_t max_entries)
    : now_(std::move(now)),
      pairs_(max_entries),
      windows_(max_entries),
      known_sources_(max_entries) {
  if (metrics != nullptr) {
    refused_ = &metrics
                    ->AddCounter("microblog_password_checks_refused_total",
                                 "Password checks (CreateUser, UpdateUser, VerifyPassword) "
                                 "refused with RESOURCE_EXHAUSTED before any hashing, by reason.",
                                 {"reason"})
                    .WithLabels({"login_throttled"});
  }
}

std::string LoginThrottle::Fold(std::string_view login) {
  // The form the account is found by (identity_forms.h): "ÉMILE" and
  // "émile" are one login. A login the profile refuses matches only an
  // account written before the forms existed, by lower(): as typed.
  std::string key =
      login.find('@') != std::string_view::npos ? EmailLookupKey(login) : UsernameLookupKey(login);
  return key.empty() ? std::string(login) : key;
}

absl::Status LoginThrottle::Throttled(MonotonicClock::duration retry_delay) {
  if (refused_ != nullptr) refused_->Increment();
  return ResourceExhaustedRetryAfter(kThrottledMessage, retry_delay);
}

absl::Status LoginThrottle::CheckLocked(const std::string& login, const std::string& pair_key,
                                        MonotonicClock::time_point now) {
  if (Pair* pair = pairs_.Find(pair_key)) {
    if (now - pair->last_failure >= kWindow) {
      pairs_.Erase(pair_key);
    } else {
      const MonotonicClock::time_point next = pair->last_failure + DelayAfter(pair->failures);
      if (now < next) return Throttled(next - now);
    }
  }
  if (Window* window = windows_.Find(login)) {
    if (now - window->start >= kWindow) {
      windows_.Erase(login);
    } else if (window->failures >= kMaxFailuresPerWindow) {
      const MonotonicClock::time_point* known = known_sources_.Find(pair_key);
      if (known == nullptr || now - *known >= kKnownSourceLifetime) {
        return Throttled(window->start + kWindow - now);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status LoginThrottle::Check(std::string_view login, std::string_view source) {
  const std::string folded = Fold(login);
  const std::string pair_key = PairKey(folded, source);
  absl::MutexLock lock(&mu_);
  return CheckLocked(folded, pair_key, now_());
}

absl::StatusOr<LoginThrottle::Attempt> LoginThrottle::Begin(std::string_view login,
                                                            std::string_view source) {
  std::string folded = Fold(login);
  const std::string pair_key = PairKey(folded, source);
  const MonotonicClock::time_point now = now_();
  absl::MutexLock lock(&mu_);
  if (absl::Status allowed = CheckLocked(folded, pair_key, now); !allowed.ok()) return allowed;
  // Counted as failed until it says otherwise.
  Pair& pair = pairs_.FindOrAdd(pair_key);
  ++pair.failures;
  pair.last_failure = now;
  Window& window = windows_.FindOrAdd(folded);
  if (window.failures == 0) window.start = now;
  ++window.failures;
  return Attempt(this, std::move(folded), std::string(source));
}

void LoginThrottle::Finish(const std::string& login, const std::string& source, bool succeeded,
                           bool counted) {
  const std::string pair_key = PairKey(login, source);
  const MonotonicClock::time_point now = now_();
  absl::MutexLock lock(&mu_);
  Pair* pair = pairs_.Find(pair_key);
  Window* window = windows_.Find(login);
  if (succeeded || !counted) {
    // Take back the failure Begin() counted.
    if (window != nullptr && window->failures > 0) --window->failures;
    if (pair != nullptr && pair->failures > 0) --pair->failures;
  }
  if (succeeded) {
    pairs_.Erase(pair_key);
    known_sources_.FindOrAdd(pair_key) = now;
  } else if (counted && pair != nullptr) {
    // The delay runs from the failure's answer, not from its start.
    pair->last_failure = now;
  }
}

}  // namespace user
}  // namespace microblog
