// The standard gRPC health service (grpc.health.v1.Health), our own
// implementation instead of gRPC's built-in one, because we need two things
// the built-in one (gRPC 1.51) lacks:
//  - Watch streams end when shutdown starts (after sending NOT_SERVING):
//    the built-in service keeps them open, so one watching client would hold
//    a graceful shutdown for the whole grace period;
//  - a "liveness" name that answers SERVING as long as the process runs,
//    for Kubernetes liveness probes, while "" and the served services'
//    names follow readiness (the database answering).
// Being generated from health.proto, it also puts the health service's
// descriptors in the binary, so reflection can describe it.
//
// Check answers NOT_FOUND for names it does not know, as the health
// protocol asks.
//
// Thread-safety: all methods are thread-safe.
#ifndef MICROBLOG_COMMON_HEALTH_SERVICE_H_
#define MICROBLOG_COMMON_HEALTH_SERVICE_H_

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"

namespace microblog {

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  // The name that stays SERVING until shutdown, whatever readiness says.
  static constexpr char kLivenessName[] = "liveness";

  // `service_names`: full names of the served services; they, and "", start
  // NOT_SERVING and follow SetReady().
  explicit HealthService(std::vector<std::string> service_names);
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;

  // Readiness of "" and the served services.
  void SetReady(bool ready);
  // Everything NOT_SERVING from now on; open Watch streams get that status
  // and end. Later SetReady() calls are ignored.
  void Shutdown();

  grpc::Status Check(grpc::ServerContext* context, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;
  // Status of `name`, or SERVICE_UNKNOWN. Requires mu_.
  ServingStatus StatusOf(const std::string& name) const;

  const std::vector<std::string> service_names_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  bool ready_ = false;          // guarded by mu_
  bool shutting_down_ = false;  // guarded by mu_
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_HEALTH_SERVICE_H_
