// Argon2id password hashing (libsodium crypto_pwhash_str, interactive
// limits: 2 passes over 64 MiB) on a small thread pool of its own.
//
// Hashing is deliberately slow (tens of milliseconds of CPU and 64 MiB of
// memory per hash), so it must not run on the gRPC threads that serve cheap
// reads: a burst of logins would starve them. Instead the handler submits the
// work here and waits for the result until its deadline; at most `threads`
// hashes run at once, which also bounds the memory they take.
//
//   PasswordHasher hasher(2);
//   absl::StatusOr<std::string> hash = hasher.Hash(password, deadline);
//   absl::StatusOr<bool> match = hasher.Verify(*hash, password, deadline);
//
// Errors: DEADLINE_EXCEEDED when the result is not ready by the deadline
// (work that is still queued when its deadline passes is skipped);
// INTERNAL when libsodium fails (e.g. out of memory).
//
// Metrics (with a Registry): microblog_password_hash_queue_depth, the jobs
// waiting for a hashing thread (user-service's FairWorkQueue adds the calls
// waiting in front of it to the same gauge), and microblog_password_hash_seconds
// {operation="hash"|"verify"}, the time of the Argon2id work itself.
//
// Thread-safety: all methods are thread-safe. Not copyable.
#ifndef MICROBLOG_USER_SERVICE_PASSWORD_HASHER_H_
#define MICROBLOG_USER_SERVICE_PASSWORD_HASHER_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "common/base/metrics.h"
#include "common/exec/worker_pool.h"

namespace microblog {
namespace user {

class PasswordHasher {
 public:
  // Initializes libsodium, computes the dummy hash (see VerifyDummy) and
  // starts `threads` (>= 1) worker threads. Aborts if libsodium cannot be
  // initialized: the service cannot work without it. `metrics`, if not
  // null, gets the metrics above and must outlive the hasher.
  // `nice` (0-19), if positive, lowers the hashing threads' CPU priority
  // (Linux per-thread nice value): under a flood of checks, the quick
  // queries on the same cores keep their share of the CPU.
  explicit PasswordHasher(std::size_t threads, Registry* metrics = nullptr, int nice = 0);
  // Finishes the queued jobs (those past their deadline are skipped at
  // once), then stops the workers.
  ~PasswordHasher() = default;

  PasswordHasher(const PasswordHasher&) = delete;
  PasswordHasher& operator=(const PasswordHasher&) = delete;

  // The encoded hash ("$argon2id$v=19$m=65536,t=2,p=1$salt$hash", with a
  // fresh random salt), at most 127 characters.
  absl::StatusOr<std::string> Hash(std::string_view password, Clock::time_point deadline);

  // Whether `password` matches `encoded_hash` (as returned by Hash()).
  // A malformed hash never matches.
  absl::StatusOr<bool> Verify(std::string_view encoded_hash, std::string_view password,
                              Clock::time_point deadline);

  // How long computing the dummy hash took at construction: a first
  // estimate of one hash on this machine, before any was measured under load.
  std::chrono::nanoseconds startup_hash_time() const { return startup_hash_time_; }

  // A moving average of how long one hash or verification has taken lately
  // (the Argon2id work itself, queueing excluded), starting from
  // startup_hash_time(): what admission control (FairWorkQueue) needs.
  std::chrono::nanoseconds HashTimeEstimate() const;

  // Does the work of Verify() against a hash no password matches and returns
  // false: used for unknown logins, so that they take as long as wrong
  // passwords and callers cannot tell them apart by timing.
  absl::StatusOr<bool> VerifyDummy(std::string_view password, Clock::time_point deadline);

 private:
  // Runs `work` on a worker and waits for its result until `deadline`;
  // `seconds` (if metered) observes how long `work` ran.
  template <typename T, typename Work>
  absl::StatusOr<T> RunOnPool(Work work, Clock::time_point deadline, Histogram* seconds);

  std::string dummy_hash_;
  std::chrono::nanoseconds startup_hash_time_{0};
  std::atomic<double> average_seconds_{0};
  // Null without metrics.
  Gauge* queue_depth_ = nullptr;
  Histogram* hash_seconds_ = nullptr;
  Histogram* verify_seconds_ = nullptr;
  WorkerPool workers_;
};

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_PASSWORD_HASHER_H_
