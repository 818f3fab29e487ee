#include "bench/pwhash_speed.h"

#include <sodium.h>

#include <atomic>
#include <thread>
#include <vector>

#include "bench/dataset.h"

namespace microblog {
namespace bench {

absl::StatusOr<PwhashSpeed> MeasurePwhash(int threads, std::chrono::milliseconds duration) {
  if (threads < 1) return absl::InvalidArgumentError("threads must be at least 1");
  if (sodium_init() < 0) return absl::InternalError("sodium_init failed");

  PwhashSpeed speed;
  speed.threads = threads;
  speed.opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  speed.memlimit_bytes = crypto_pwhash_MEMLIMIT_INTERACTIVE;

  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const Clock::time_point stop = start + duration;
  std::atomic<std::int64_t> hashes{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&] {
      char hash[crypto_pwhash_STRBYTES];
      while (Clock::now() < stop && !failed.load()) {
        if (crypto_pwhash_str(hash, kBenchPassword, sizeof(kBenchPassword) - 1,
                              crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
          failed.store(true);
          return;
        }
        hashes.fetch_add(1);
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  if (failed.load()) return absl::InternalError("crypto_pwhash_str failed (out of memory?)");

  speed.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  speed.hashes = hashes.load();
  speed.hashes_per_second = static_cast<double>(speed.hashes) / speed.seconds;
  return speed;
}

}  // namespace bench
}  // namespace microblog
