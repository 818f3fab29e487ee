#include "user-service/password_hasher.h"

#include <sodium.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <future>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "common/base/log.h"

namespace microblog {
namespace user {
namespace {

constexpr unsigned long long kOpsLimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
constexpr std::size_t kMemLimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;

// The users.password_hash column is varchar(128); crypto_pwhash_STRBYTES
// counts the terminating NUL.
static_assert(crypto_pwhash_STRBYTES - 1 <= 128, "encoded hash must fit users.password_hash");

// A copy of a password that is wiped when it goes away, so that it does not
// linger in freed memory after the job that needed it.
class SecretCopy {
 public:
  explicit SecretCopy(std::string_view text) : text_(text) {}
  ~SecretCopy() { sodium_memzero(text_.data(), text_.size()); }
  SecretCopy(SecretCopy&& other) noexcept : text_(std::move(other.text_)) {}
  SecretCopy(const SecretCopy&) = delete;
  SecretCopy& operator=(const SecretCopy&) = delete;
  SecretCopy& operator=(SecretCopy&&) = delete;

  const char* data() const { return text_.data(); }
  unsigned long long size() const { return text_.size(); }

 private:
  std::string text_;
};

absl::Status QueueTimeout() {
  return absl::DeadlineExceededError("deadline exceeded while waiting for password hashing");
}

bool VerifyNow(const std::string& encoded_hash, const SecretCopy& password) {
  return crypto_pwhash_str_verify(encoded_hash.c_str(), password.data(), password.size()) == 0;
}

}  // namespace

PasswordHasher::PasswordHasher(std::size_t threads, Registry* metrics, int nice)
    : workers_("argon2", threads, [nice] {
        // On Linux the nice value is per thread (setpriority of a tid).
        if (nice > 0 && setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice) != 0) {
          Log(LogLevel::kWarn, "cannot lower the hashing thread's priority",
              {{"nice", static_cast<int64_t>(nice)}});
        }
      }) {
  if (metrics != nullptr) {
    queue_depth_ =
        &metrics
             ->AddGauge("microblog_password_hash_queue_depth",
                        "Password checks and hashes (CreateUser, UpdateUser, VerifyPassword) "
                        "admitted and waiting for a hashing thread, wherever they wait.",
                        {})
             .WithLabels({});
    HistogramFamily& seconds = metrics->AddHistogram(
        "microblog_password_hash_seconds",
        "Time of one Argon2id hash or verification, queueing excluded.", {"operation"},
        {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5});
    hash_seconds_ = &seconds.WithLabels({"hash"});
    verify_seconds_ = &seconds.WithLabels({"verify"});
  }
  if (sodium_init() < 0) {
    Log(LogLevel::kError, "libsodium initialization failed");
    std::abort();
  }
  // A hash of random bytes: no password the client can send matches it
  // (except with negligible probability).
  unsigned char random[32];
  randombytes_buf(random, sizeof(random));
  char encoded[crypto_pwhash_STRBYTES];
  const auto start = std::chrono::steady_clock::now();
  if (crypto_pwhash_str(encoded, reinterpret_cast<const char*>(random), sizeof(random), kOpsLimit,
                        kMemLimit) != 0) {
    Log(LogLevel::kError, "cannot compute the dummy password hash (out of memory?)");
    std::abort();
  }
  startup_hash_time_ = std::chrono::steady_clock::now() - start;
  average_seconds_ = std::chrono::duration<double>(startup_hash_time_).count();
  dummy_hash_ = encoded;
}

template <typename T, typename Work>
absl::StatusOr<T> PasswordHasher::RunOnPool(Work work, Clock::time_point deadline,
                                            Histogram* seconds) {
  auto task = std::make_shared<std::packaged_task<absl::StatusOr<T>()>>(
      [this, work = std::move(work), deadline, seconds]() mutable -> absl::StatusOr<T> {
        if (queue_depth_ != nullptr) queue_depth_->Add(-1);
        // Nobody waits for a result past its deadline: skip the work.
        if (Clock::now() >= deadline) return QueueTimeout();
        const auto start = std::chrono::steady_clock::now();
        absl::StatusOr<T> result = work();
        const double took =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (seconds != nullptr) seconds->Observe(took);
        // About the last ten hashes count; a lost update between two
        // threads only delays the average by one sample.
        const double average = average_seconds_.load(std::memory_order_relaxed);
        average_seconds_.store(average + 0.1 * (took - average), std::memory_order_relaxed);
        return result;
      });
  std::future<absl::StatusOr<T>> result = task->get_future();
  if (queue_depth_ != nullptr) queue_depth_->Add(1);
  workers_.Submit([task] { (*task)(); });
  if (result.wait_until(deadline) != std::future_status::ready) return QueueTimeout();
  return result.get();
}

std::chrono::nanoseconds PasswordHasher::HashTimeEstimate() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(average_seconds_.load(std::memory_order_relaxed)));
}

absl::StatusOr<std::string> PasswordHasher::Hash(std::string_view password,
                                                 Clock::time_point deadline) {
  return RunOnPool<std::string>(
      [secret = SecretCopy(password)]() -> absl::StatusOr<std::string> {
        char encoded[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str(encoded, secret.data(), secret.size(), kOpsLimit, kMemLimit) != 0) {
          return absl::InternalError("crypto_pwhash_str failed (out of memory?)");
        }
        return std::string(encoded);
      },
      deadline, hash_seconds_);
}

absl::StatusOr<bool> PasswordHasher::Verify(std::string_view encoded_hash,
                                            std::string_view password, Clock::time_point deadline) {
  return RunOnPool<bool>(
      [hash = std::string(encoded_hash), secret = SecretCopy(password)]() -> absl::StatusOr<bool> {
        return VerifyNow(hash, secret);
      },
      deadline, verify_seconds_);
}

absl::StatusOr<bool> PasswordHasher::VerifyDummy(std::string_view password,
                                                 Clock::time_point deadline) {
  absl::StatusOr<bool> ignored = Verify(dummy_hash_, password, deadline);
  if (!ignored.ok()) return ignored.status();
  return false;
}

}  // namespace user
}  // namespace microblog
