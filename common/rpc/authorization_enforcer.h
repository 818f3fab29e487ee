// Enforces the authorization policy of AUTHZ_POLICY_FILE (gRFC A43,
// authorization_policy.h) on every call a TLS server receives, health
// checks and reflection included: as gRPC's AuthMetadataProcessor, it runs
// in gRPC's server-auth filter, inline (not blocking), after the TLS
// handshake and before any handler, interceptor or log line. A call the
// policy does not allow ends there, PERMISSION_DENIED "the authorization
// policy does not allow <path> to this caller", and is counted.
//
//   absl::StatusOr<std::shared_ptr<AuthorizationEnforcer>> enforcer =
//       AuthorizationEnforcer::Watch(settings.authz_policy_file, &metrics);
//   server_credentials->SetAuthMetadataProcessor(*enforcer);   // RunServer
//   caller.privileged = (*enforcer)->IsPrivileged(*context.auth_context());
//
// Reload: the file is checked every second and read again when it changed
// (a Kubernetes ConfigMap update, without a restart); a file that does not
// parse keeps the previous policy, as A43 asks, and is logged and counted.
//
// Metrics (with a Registry): microblog_authorization_denied_total,
// microblog_authorization_policy_reloads_total{outcome="ok"|"error"}.
//
// Thread-safety: every method may be called from any thread.
#ifndef MICROBLOG_COMMON_RPC_AUTHORIZATION_ENFORCER_H_
#define MICROBLOG_COMMON_RPC_AUTHORIZATION_ENFORCER_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/auth_metadata_processor.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/base/file_stamp.h"
#include "common/base/metrics.h"
#include "common/exec/periodic_task.h"
#include "common/rpc/authorization_policy.h"

namespace microblog {

// The identities A43 compares principals with: the peer certificate's URI
// SANs, DNS SANs and subject; none without a certificate.
std::vector<std::string> PeerIdentities(const grpc::AuthContext& auth);

class AuthorizationEnforcer final : public grpc::AuthMetadataProcessor {
 public:
  // Reads `policy_file` now (INVALID_ARGUMENT when it cannot be read or is
  // not a policy), then watches it. `metrics` (borrowed) may be null.
  static absl::StatusOr<std::shared_ptr<AuthorizationEnforcer>> Watch(std::string policy_file,
                                                                      Registry* metrics);
  ~AuthorizationEnforcer() override;

  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

  // Whether the peer `auth` describes is a privileged principal.
  bool IsPrivileged(const grpc::AuthContext& auth) const;

  // Re-reads the file now if it changed (what the watch thread does).
  void ReloadIfChanged();

 private:
  AuthorizationEnforcer(std::string policy_file, AuthorizationPolicy policy, FileStamp stamp,
                        Registry* metrics);
  std::shared_ptr<const AuthorizationPolicy> policy() const;

  const std::string policy_file_;
  Counter* denied_ = nullptr;
  Counter* reloads_ok_ = nullptr;
  Counter* reloads_error_ = nullptr;
  std::atomic<int64_t> last_denial_log_second_{-1};  // one log line a second at most
  mutable absl::Mutex mu_;
  std::shared_ptr<const AuthorizationPolicy> policy_ ABSL_GUARDED_BY(mu_);
  FileStamp stamp_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<PeriodicTask> reload_;  // last: stops first
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_AUTHORIZATION_ENFORCER_H_
