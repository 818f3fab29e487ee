// The access tokens of the load generator's users: one per user id, signed
// at first use with the signing key the benchmark gave the services (as if
// each user had logged in once), then reused as a real client reuses its
// token. Thread-safe.
#ifndef MICROBLOG_BENCH_TOKEN_BOOK_H_
#define MICROBLOG_BENCH_TOKEN_BOOK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/auth/access_token.h"

namespace microblog {
namespace bench {

class TokenBook {
 public:
  // The book of the Ed25519 private key in the PEM file `key_file`.
  static absl::StatusOr<std::unique_ptr<TokenBook>> Open(const std::string& key_file);

  // The token of `user_id` (credentials version 1: seeded accounts).
  std::string TokenFor(int64_t user_id);

 private:
  explicit TokenBook(std::unique_ptr<TokenSigner> signer) : signer_(std::move(signer)) {}

  const std::unique_ptr<TokenSigner> signer_;
  absl::Mutex mu_;
  absl::flat_hash_map<int64_t, std::string> tokens_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bench
}  // namespace microblog

#endif  // MICROBLOG_BENCH_TOKEN_BOOK_H_
