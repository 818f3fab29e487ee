// The Authenticator (common/base/authenticator.h) of a running service:
// verifies access tokens (access_token.h) against the JWKS file of
// TOKEN_JWKS_FILE (a ConfigMap in Kubernetes), reloaded when it changes.
//
//   absl::StatusOr<std::unique_ptr<TokenVerifier>> verifier =
//       TokenVerifier::Open("/etc/microblog/jwks/jwks.json", settings, &metrics);
//   absl::StatusOr<Caller> caller = verifier.value()->Authenticate(token);
//
// Rotation: publish the new key in the file beside the old one, wait for
// every verifier to reload it (one check per second), switch the signer,
// and drop the old key once its last token has expired (TOKEN_LIFETIME):
// no valid token fails on the way. A file that no longer parses, or holds
// no usable key, is logged and ignored: the last good key set stays.
//
// Verified tokens are remembered (by the SHA-256 of the token, up to
// kCacheEntries, the whole cache dropped when full and on every reload), so
// that a client's repeated calls cost one signature check; a remembered
// token is still refused once expired.
//
// Metrics (when `metrics` is given): microblog_access_tokens_total{outcome=
// "accepted"|"refused"} and microblog_access_token_cache_hits_total,
// microblog_jwks_reloads_total{outcome="ok"|"error"}.
//
// Thread-safety: Authenticate is safe from any thread. The destructor
// stops the reload thread.
#ifndef MICROBLOG_COMMON_AUTH_TOKEN_VERIFIER_H_
#define MICROBLOG_COMMON_AUTH_TOKEN_VERIFIER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/auth/access_token.h"
#include "common/base/authenticator.h"
#include "common/base/file_stamp.h"
#include "common/base/metrics.h"
#include "common/exec/periodic_task.h"

namespace microblog {

class TokenVerifier final : public Authenticator {
 public:
  static constexpr size_t kCacheEntries = 100000;

  // Reads `jwks_path` once (INVALID_ARGUMENT naming the file when it cannot
  // be read or holds no usable key), then checks it for changes every
  // second.
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> Open(std::string jwks_path,
                                                             TokenSettings settings,
                                                             Registry* metrics = nullptr);
  ~TokenVerifier() override;

  absl::StatusOr<Caller> Authenticate(std::string_view token) const override;

  // Re-reads the file now if it changed since the last read (what the
  // reload thread does every second).
  void ReloadIfChanged();

  // The kids of the key set in use.
  std::vector<std::string> kids() const { return keys()->kids(); }

 private:
  struct Metrics {
    Counter* accepted = nullptr;
    Counter* refused = nullptr;
    Counter* cache_hits = nullptr;
    Counter* reloads_ok = nullptr;
    Counter* reloads_error = nullptr;
  };

  TokenVerifier(std::string jwks_path, TokenSettings settings, std::shared_ptr<const KeySet> keys,
                FileStamp stamp, Registry* metrics);
  static absl::StatusOr<std::shared_ptr<const KeySet>> Load(const std::string& path,
                                                            FileStamp* stamp);
  std::shared_ptr<const KeySet> keys() const;

  const std::string jwks_path_;
  const TokenSettings settings_;
  const Metrics metrics_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const KeySet> keys_ ABSL_GUARDED_BY(mu_);
  FileStamp stamp_ ABSL_GUARDED_BY(mu_);
  // SHA-256 of a verified token -> its claims.
  mutable absl::flat_hash_map<std::string, TokenClaims> cache_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<PeriodicTask> reload_;  // last: stops first
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_AUTH_TOKEN_VERIFIER_H_
