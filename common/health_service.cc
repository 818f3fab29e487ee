#include "common/health_service.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace microblog {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

HealthService::HealthService(std::vector<std::string> service_names)
    : service_names_(std::move(service_names)) {}

void HealthService::SetReady(bool ready) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_ || ready_ == ready) return;
    ready_ = ready;
  }
  changed_.notify_all();
}

void HealthService::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
  }
  changed_.notify_all();
}

HealthService::ServingStatus HealthService::StatusOf(const std::string& name) const {
  if (shutting_down_) return HealthCheckResponse::NOT_SERVING;
  if (name == kLivenessName) return HealthCheckResponse::SERVING;
  const bool known = name.empty() ||
                     std::find(service_names_.begin(), service_names_.end(), name) != service_names_.end();
  if (!known) return HealthCheckResponse::SERVICE_UNKNOWN;
  return ready_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

grpc::Status HealthService::Check(grpc::ServerContext*, const HealthCheckRequest* request,
                                  HealthCheckResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  const ServingStatus status = StatusOf(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
  }
  response->set_status(status);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* context, const HealthCheckRequest* request,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  std::unique_lock<std::mutex> lock(mu_);
  ServingStatus current = StatusOf(request->service());
  for (;;) {
    const bool ending = shutting_down_;
    HealthCheckResponse response;
    response.set_status(current);
    lock.unlock();
    if (!writer->Write(response) || ending) return grpc::Status::OK;
    lock.lock();
    // Wake up now and then to notice a client that went away.
    ServingStatus next = current;
    while (next == current && !shutting_down_ && !context->IsCancelled()) {
      changed_.wait_for(lock, std::chrono::milliseconds(200));
      next = StatusOf(request->service());
    }
    if (context->IsCancelled()) return grpc::Status::CANCELLED;
    current = StatusOf(request->service());
  }
}

}  // namespace microblog
