// `user-service probe [--service=NAME]`, `post-service probe ...`: the
// Kubernetes exec probe of a service that speaks mTLS, which the kubelet's
// own gRPC probe (plaintext only) cannot reach. Run in the container with
// the service's own environment, it calls grpc.health.v1.Health/Check for
// NAME ("" by default: readiness; "liveness": the process serves) on
// 127.0.0.1 at LISTEN_ADDRESS's port, with the transport the service uses
// (its own certificate in mtls: the policy must allow Health to it), and
// exits 0 when SERVING, 1 otherwise, with one line saying why.
//
//   if (std::optional<std::string> probed = TakeProbeCommand(argc, argv)) {
//     ... parse the configuration from the rest ...
//     return RunProbe(config.settings, *probed);
//   }
#ifndef MICROBLOG_COMMON_SERVICE_PROBE_H_
#define MICROBLOG_COMMON_SERVICE_PROBE_H_

#include <chrono>
#include <optional>
#include <string>

#include "common/service/config.h"

namespace microblog {

// When argv[1] is "probe": removes it, and a following --service=NAME,
// from argv and returns NAME ("" without it); else nullopt, argv as it was.
std::optional<std::string> TakeProbeCommand(int& argc, char**& argv);

// The probe itself: 0 when `service` is SERVING, else 1.
int RunProbe(const ServerSettings& settings, const std::string& service,
             std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace microblog

#endif  // MICROBLOG_COMMON_SERVICE_PROBE_H_
