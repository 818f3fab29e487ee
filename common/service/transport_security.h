// What TRANSPORT_SECURITY (common/service/config.h) turns into: the
// server's credentials, the authorization policy's enforcer, and the
// credentials a process uses to call itself (the `probe` subcommand,
// probe.h).
//
//   auto enforcer = OpenAuthorization(settings, &metrics);     // main()
//   auto credentials = ServerCredentialsFor(settings);         // RunServer
//
// Standards: the caller's identity is its certificate's SAN (a SPIFFE id
// URI, spiffe://microblog/ns/<namespace>/sa/<serviceaccount>, or a DNS
// name); the per-method policy is gRFC A43's, enforced before any handler
// (common/rpc/authorization_enforcer.h: Debian's gRPC lacks the provider
// that would do it), deny by default (OWASP ASVS 4.0.3 V4.1.5: access
// control fails securely). Certificates, keys and the
// CA bundle are re-read by gRPC when they change on disk (cert-manager
// renewals), within kCertificateRefresh; the policy within a second
// (AuthorizationEnforcer).
//
// Errors: INVALID_ARGUMENT naming the setting when a file cannot be read
// or the policy does not parse (the service then refuses to start).
//
// Thread-safety: free functions; what they return is thread-safe.
#ifndef MICROBLOG_COMMON_SERVICE_TRANSPORT_SECURITY_H_
#define MICROBLOG_COMMON_SERVICE_TRANSPORT_SECURITY_H_

#include <chrono>
#include <memory>

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "common/base/metrics.h"
#include "common/rpc/authorization_enforcer.h"
#include "common/service/config.h"

namespace microblog {

inline constexpr std::chrono::seconds kCertificateRefresh{60};

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const ServerSettings& settings);

// The enforcer of AUTHZ_POLICY_FILE; null without one (only possible
// outside mtls). `metrics` (borrowed) may be null.
absl::StatusOr<std::shared_ptr<AuthorizationEnforcer>> OpenAuthorization(
    const ServerSettings& settings, Registry* metrics);

// Credentials to call this server from the same host, as `localhost`: in
// mtls its own certificate as the client's and TLS_CLIENT_CA_FILE as the
// roots (so the server's certificate must be signed by that CA and name
// localhost); in tls the server's own certificate as the root; plaintext
// when insecure.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> OwnChannelCredentials(
    const ServerSettings& settings);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_SERVICE_TRANSPORT_SECURITY_H_
