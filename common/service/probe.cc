#include "common/service/probe.h"

#include <cstring>
#include <iostream>
#include <memory>

#include <grpc/grpc.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/support/channel_arguments.h>

#include "common/service/transport_security.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace microblog {

std::optional<std::string> TakeProbeCommand(int& argc, char**& argv) {
  if (argc < 2 || std::strcmp(argv[1], "probe") != 0) return std::nullopt;
  std::string service;
  int taken = 1;
  constexpr char kFlag[] = "--service=";
  if (argc > 2 && std::strncmp(argv[2], kFlag, sizeof(kFlag) - 1) == 0) {
    service = argv[2] + sizeof(kFlag) - 1;
    taken = 2;
  }
  // argv[0] stays first: the rest shifts over what was taken.
  for (int i = 1; i + taken < argc; ++i) argv[i] = argv[i + taken];
  argc -= taken;
  return service;
}

int RunProbe(const ServerSettings& settings, const std::string& service,
             std::chrono::milliseconds timeout) {
  const std::size_t colon = settings.listen_address.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "probe: LISTEN_ADDRESS has no port: " << settings.listen_address << "\n";
    return 1;
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      OwnChannelCredentials(settings);
  if (!credentials.ok()) {
    std::cerr << "probe: " << credentials.status().message() << "\n";
    return 1;
  }
  grpc::ChannelArguments args;
  // The certificate names localhost; the connection goes to 127.0.0.1
  // whatever localhost resolves to.
  args.SetSslTargetNameOverride("localhost");
  auto channel = grpc::CreateCustomChannel(
      "ipv4:127.0.0.1:" + settings.listen_address.substr(colon + 1), *credentials, args);
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "probe: health check failed: " << status.error_code() << " "
              << status.error_message() << "\n";
    return 1;
  }
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    std::cerr << "probe: " << (service.empty() ? "the server" : service) << " is "
              << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status())
              << "\n";
    return 1;
  }
  return 0;
}

}  // namespace microblog
