#include "common/service/transport_security.h"

#include <string>
#include <tuple>
#include <utility>

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/str_cat.h"

namespace microblog {
namespace {

// Fails when a file cannot be read: gRPC's file watcher would only log it
// and fail every handshake, a service that starts and serves nobody.
absl::Status Readable(const std::string& path, const char* setting) {
  absl::StatusOr<std::string> contents = ReadSettingFile(path, setting);
  return contents.ok() ? absl::OkStatus() : contents.status();
}

std::shared_ptr<grpc::experimental::CertificateProviderInterface> WatchedFiles(
    const ServerSettings& settings, const std::string& roots) {
  const auto refresh = static_cast<unsigned int>(kCertificateRefresh.count());
  if (roots.empty()) {
    return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        settings.tls_key_file, settings.tls_cert_file, refresh);
  }
  return std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      settings.tls_key_file, settings.tls_cert_file, roots, refresh);
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const ServerSettings& settings) {
  if (settings.transport_security == TransportSecurity::kInsecure) {
    return grpc::InsecureServerCredentials();
  }
  for (const auto& [path, setting] : {std::pair{&settings.tls_cert_file, "TLS_CERT_FILE"},
                                      std::pair{&settings.tls_key_file, "TLS_KEY_FILE"}}) {
    if (absl::Status readable = Readable(*path, setting); !readable.ok()) return readable;
  }
  const bool mutual = settings.transport_security == TransportSecurity::kMutualTls;
  if (mutual) {
    if (absl::Status readable = Readable(settings.tls_client_ca_file, "TLS_CLIENT_CA_FILE");
        !readable.ok()) {
      return readable;
    }
  }
  grpc::experimental::TlsServerCredentialsOptions options(
      WatchedFiles(settings, mutual ? settings.tls_client_ca_file : ""));
  options.watch_identity_key_cert_pairs();
  if (mutual) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<AuthorizationEnforcer>> OpenAuthorization(
    const ServerSettings& settings, Registry* metrics) {
  if (settings.authz_policy_file.empty()) return nullptr;
  absl::StatusOr<std::shared_ptr<AuthorizationEnforcer>> enforcer =
      AuthorizationEnforcer::Watch(settings.authz_policy_file, metrics);
  if (!enforcer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("AUTHZ_POLICY_FILE: ", enforcer.status().message()));
  }
  return enforcer;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> OwnChannelCredentials(
    const ServerSettings& settings) {
  switch (settings.transport_security) {
    case TransportSecurity::kInsecure:
      return grpc::InsecureChannelCredentials();
    case TransportSecurity::kTls: {
      // The server's own certificate is the root the client trusts.
      absl::StatusOr<std::string> cert = ReadSettingFile(settings.tls_cert_file, "TLS_CERT_FILE");
      if (!cert.ok()) return cert.status();
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = *cert;
      return grpc::SslCredentials(ssl);
    }
    case TransportSecurity::kMutualTls:
      break;
  }
  grpc::SslCredentialsOptions ssl;
  for (const auto& [path, setting, out] :
       {std::tuple{&settings.tls_client_ca_file, "TLS_CLIENT_CA_FILE", &ssl.pem_root_certs},
        std::tuple{&settings.tls_cert_file, "TLS_CERT_FILE", &ssl.pem_cert_chain},
        std::tuple{&settings.tls_key_file, "TLS_KEY_FILE", &ssl.pem_private_key}}) {
    absl::StatusOr<std::string> contents = ReadSettingFile(*path, setting);
    if (!contents.ok()) return contents.status();
    *out = *std::move(contents);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace microblog
