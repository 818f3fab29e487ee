// A gRFC A43 authorization policy (the JSON of gRPC's
// FileWatcherAuthorizationPolicyProvider) and its evaluation: which
// callers may call which methods. Debian's gRPC 1.51 ships the header of
// that provider but not its implementation (libgrpc has the engine and
// filter, not the JSON translator or the providers: `nm -D` shows no
// grpc_authorization_policy_provider_file_watcher_create), so the policy
// is parsed and evaluated here, with A43's semantics, and enforced by
// AuthorizationEnforcer (authorization_enforcer.h) before any handler runs.
//
//   {"name": "user-service",
//    "deny_rules": [...],                       // optional
//    "allow_rules": [
//      {"name": "internal",
//       "source": {"principals": ["spiffe://microblog/ns/prod/sa/post-service"]},
//       "request": {"paths": ["/microblog.user.v1.UserService/BatchGetUsers"]}},
//      {"name": "privileged-operators",
//       "source": {"principals": ["spiffe://microblog/ns/prod/sa/microblog-admin"]}}]}
//
// Semantics (A43): a call matching any deny rule is denied; else one
// matching any allow rule is allowed; else denied. A rule matches when its
// source matches (no source, or one of `principals` matches one of the
// caller's identities) and its request matches (no paths, or one of
// `paths` matches the method's path). A pattern is an exact string, "*"
// (anything non-empty: for principals, any authenticated caller),
// "prefix*" or "*suffix". The caller's identities are its certificate's
// URI SANs (SPIFFE ids), DNS SANs and subject, as A43 compares them.
// Allow rules whose name starts with "privileged" name the principals that
// may act for any user (Caller::privileged, common/base/caller.h).
// Not supported (refused when the file names them): `request.headers`.
//
// Thread-safety: an immutable value once parsed.
#ifndef MICROBLOG_COMMON_RPC_AUTHORIZATION_POLICY_H_
#define MICROBLOG_COMMON_RPC_AUTHORIZATION_POLICY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace microblog {

// Whether A43 pattern `pattern` matches `value` (see above).
bool PolicyPatternMatches(std::string_view pattern, std::string_view value);

class AuthorizationPolicy {
 public:
  struct Rule {
    std::string name;
    std::vector<std::string> principals;  // empty: any caller
    std::vector<std::string> paths;       // empty: any method
  };
  struct Decision {
    bool allowed = false;
    std::string rule;  // the rule that decided; empty for the default deny
  };

  // INVALID_ARGUMENT saying what is wrong when `json` is not such a policy.
  static absl::StatusOr<AuthorizationPolicy> Parse(std::string_view json);

  const std::string& name() const { return name_; }

  // The decision for a call of `path` ("/package.Service/Method") by a
  // caller with `identities` (none: no certificate).
  Decision Evaluate(std::string_view path, const std::vector<std::string>& identities) const;

  // Whether `identities` include a principal of a privileged* allow rule.
  bool IsPrivileged(const std::vector<std::string>& identities) const;

 private:
  std::string name_;
  std::vector<Rule> deny_rules_;
  std::vector<Rule> allow_rules_;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_AUTHORIZATION_POLICY_H_
