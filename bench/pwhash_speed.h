// How fast libsodium hashes passwords on this machine, with the limits
// user-service uses (crypto_pwhash_str, Argon2id, interactive limits): the
// ceiling for CreateUser and VerifyPassword, whose cost is one hash each.
//
//   PwhashSpeed s = MeasurePwhash(2, std::chrono::seconds(5));
//   // s.hashes_per_second: what `threads` threads manage together
#ifndef MICROBLOG_BENCH_PWHASH_SPEED_H_
#define MICROBLOG_BENCH_PWHASH_SPEED_H_

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"

namespace microblog {
namespace bench {

struct PwhashSpeed {
  int threads = 0;
  std::int64_t hashes = 0;
  double seconds = 0;
  double hashes_per_second = 0;
  unsigned long long opslimit = 0;
  std::size_t memlimit_bytes = 0;
};

// Hashes on `threads` threads until `duration` has passed (each thread
// finishes the hash it is on). INTERNAL when libsodium fails to initialize
// or to hash (e.g. out of memory: each hash takes 64 MiB).
absl::StatusOr<PwhashSpeed> MeasurePwhash(int threads, std::chrono::milliseconds duration);

}  // namespace bench
}  // namespace microblog

#endif  // MICROBLOG_BENCH_PWHASH_SPEED_H_
