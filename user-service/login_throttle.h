// The brute-force defence of VerifyPassword (issue #21): throttles repeated
// failed password checks of one login without letting an attacker lock its
// owner out from elsewhere.
//
// Policy (ARCHITECTURE.md, "Passwords"), following OWASP ASVS 4.0.3 V2.2.1 (soft
// lockouts, ever-increasing delays, at most 100 failed attempts per hour on
// one account) and NIST SP 800-63B §5.2.2 (at most 100 consecutive failed
// attempts on one account; accept only from addresses the subscriber has
// authenticated from before, rather than lock the account):
//  - per (login, source) — the source being the caller's key
//    (common/rpc/caller_key.h) — the first kFreeFailures consecutive failures
//    cost nothing; after the n-th one (n ≥ kFreeFailures) the next attempt
//    from that source waits kFirstDelay × 2^(n − kFreeFailures), at most
//    kMaxDelay. A success resets the count. Other sources are unaffected:
//    an attacker slows down only itself.
//  - per login, all sources together: once kMaxFailuresPerWindow attempts
//    failed within kWindow (counted from the window's first failure, not
//    reset by successes), further attempts are refused until the window
//    ends — except from sources that authenticated as that login within
//    kKnownSourceLifetime, so that the owner still logs in.
//  - The login is folded to lower case (lookups ignore case) and keyed as
//    typed: unknown and existing logins are throttled alike, so a refusal
//    tells nothing about whether an account exists. A refused attempt is
//    not hashed and does not count.
//  - Memory: each table keeps at most kMaxEntries entries, dropping the
//    least recently used; entries also expire (a pair kWindow after its
//    last failure, a login's window when it ends).
// The tables live in the process: each replica counts on its own, and a
// restart forgets them (documented limitation).
//
//   LoginThrottle throttle;
//   absl::StatusOr<LoginThrottle::Attempt> attempt = throttle.Begin(login, source);
//   if (!attempt.ok()) return attempt.status();  // RESOURCE_EXHAUSTED + RetryInfo
//   ... verify ...
//   match ? attempt->Succeeded() : attempt->Failed();
//
// An Attempt counts as a failure from Begin() on, so that concurrent
// attempts cannot slip past the limits together; Succeeded() takes that
// back, and so does dropping it without an outcome (the check itself
// failed, e.g. at its deadline).
//
// Thread-safety: all methods are thread-safe. Not copyable.
#ifndef MICROBLOG_USER_SERVICE_LOGIN_THROTTLE_H_
#define MICROBLOG_USER_SERVICE_LOGIN_THROTTLE_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "common/base/metrics.h"

namespace microblog {
namespace user {

class LoginThrottle {
 public:
  static constexpr int kFreeFailures = 5;
  static constexpr std::chrono::seconds kFirstDelay{1};
  static constexpr std::chrono::minutes kMaxDelay{15};
  static constexpr int kMaxFailuresPerWindow = 100;
  static constexpr std::chrono::hours kWindow{1};
  static constexpr std::chrono::hours kKnownSourceLifetime{24 * 30};
  static constexpr std::size_t kMaxEntries = 100000;

  // `metrics`, if not null, gets refusals counted in
  // microblog_password_checks_refused_total{reason="login_throttled"}.
  // `now` is the clock (tests pass a fake one).
  explicit LoginThrottle(Registry* metrics = nullptr,
                         std::function<MonotonicClock::time_point()> now = &MonotonicClock::now,
                         std::size_t max_entries = kMaxEntries);

  LoginThrottle(const LoginThrottle&) = delete;
  LoginThrottle& operator=(const LoginThrottle&) = delete;

  // One password check in progress; see above. Movable, not copyable.
  class Attempt {
   public:
    Attempt(Attempt&& other) noexcept;
    Attempt& operator=(Attempt&&) = delete;
    Attempt(const Attempt&) = delete;
    Attempt& operator=(const Attempt&) = delete;
    ~Attempt();
    void Succeeded();
    void Failed();

   private:
    friend class LoginThrottle;
    Attempt(LoginThrottle* throttle, std::string login, std::string source)
        : throttle_(throttle), login_(std::move(login)), source_(std::move(source)) {}
    LoginThrottle* throttle_;  // null once the outcome is known
    std::string login_;
    std::string source_;
  };

  // Whether `source` may check a password of `login` now: an Attempt, or
  // RESOURCE_EXHAUSTED with a google.rpc.RetryInfo of when it may.
  absl::StatusOr<Attempt> Begin(std::string_view login, std::string_view source);
  // The same check without starting an attempt (nothing is counted): for
  // refusing a throttled call before it queues for a hashing thread.
  absl::Status Check(std::string_view login, std::string_view source);

  // The login as the tables key it: its comparison form (identity_forms.h),
  // so that every spelling of one account shares its limits.
  static std::string Fold(std::string_view login);

 private:
  struct Pair {        // one (login, source)
    int failures = 0;  // consecutive, including attempts in progress
    MonotonicClock::time_point last_failure;
  };
  struct Window {  // one login, every source
    int failures = 0;
    MonotonicClock::time_point start;
  };
  // A map with least-recently-used eviction at `max` entries.
  template <typename Value>
  class Lru {
   public:
    explicit Lru(std::size_t max) : max_(max) {}
    Value* Find(const std::string& key);
    Value& FindOrAdd(const std::string& key);
    void Erase(const std::string& key);

   private:
    using Order = std::list<std::string>;
    const std::size_t max_;
    Order order_;  // most recent first
    std::unordered_map<std::string, std::pair<Value, Order::iterator>> entries_;
  };

  // Refused (or OK). `now` is the clock's reading.
  absl::Status CheckLocked(const std::string& login, const std::string& pair_key,
                           MonotonicClock::time_point now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Finish(const std::string& login, const std::string& source, bool succeeded, bool counted);
  absl::Status Throttled(MonotonicClock::duration retry_delay);

  const std::function<MonotonicClock::time_point()> now_;
  Counter* refused_ = nullptr;
  absl::Mutex mu_;
  Lru<Pair> pairs_ ABSL_GUARDED_BY(mu_);      // key: login '\0' source
  Lru<Window> windows_ ABSL_GUARDED_BY(mu_);  // key: login
  // Last success of login '\0' source.
  Lru<MonotonicClock::time_point> known_sources_ ABSL_GUARDED_BY(mu_);
};

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_LOGIN_THROTTLE_H_
