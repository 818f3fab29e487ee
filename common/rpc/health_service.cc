#include "common/rpc/health_service.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace microblog {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream. Created by Watch() and registered with the service;
// deletes itself in OnDone(), after unregistering, so that it never gets a
// notification once freed. Lock order: the service's mu_, then this mu_.
// gRPC runs OnDone() on its own thread after the reaction that ends the
// stream has returned, never inside StartWrite()/Finish(), so calling those
// with mu_ held cannot deadlock (gRPC's own health service does the same).
class HealthService::Watcher final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService* service, std::string name) : service_(service), name_(std::move(name)) {}

  const std::string& name() const { return name_; }

  // The watched name's status is now `status`; with `last`, the stream ends
  // once it has been sent. Requires service_->mu_ (which keeps this object
  // alive: OnDone() unregisters under it).
  void Update(ServingStatus status, bool last) {
    absl::MutexLock lock(&mu_);
    latest_ = status;
    finishing_ = finishing_ || last;
    WriteLatestLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    // The client is gone or the call broke: nothing more can be sent.
    if (!ok) return FinishLocked(grpc::Status::CANCELLED);
    WriteLatestLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    service_->Unregister(this);
    delete this;
  }

 private:
  // Sends latest_ if it differs from what was last sent and no write is in
  // flight (OnWriteDone() calls this again), or ends the stream when asked
  // to and everything has been sent.
  void WriteLatestLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || write_in_flight_) return;
    if (sent_ == latest_) {
      if (finishing_) FinishLocked(grpc::Status::OK);
      return;
    }
    sent_ = latest_;
    response_.set_status(latest_);
    if (finishing_) {
      // No OnWriteDone() follows a StartWriteAndFinish().
      finished_ = true;
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
    } else {
      write_in_flight_ = true;
      StartWrite(&response_);
    }
  }

  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  HealthService* const service_;
  const std::string name_;
  absl::Mutex mu_;
  ServingStatus latest_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  std::optional<ServingStatus> sent_ ABSL_GUARDED_BY(mu_);
  HealthCheckResponse response_ ABSL_GUARDED_BY(mu_);  // the message being written
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;  // end after sending latest_
  bool finished_ ABSL_GUARDED_BY(mu_) = false;   // Finish() called
};

HealthService::HealthService(std::vector<std::string> service_names)
    : service_names_(std::move(service_names)) {}

void HealthService::SetReady(bool ready) {
  absl::MutexLock lock(&mu_);
  if (draining_ || ready_ == ready) return;
  ready_ = ready;
  NotifyWatchersLocked();
}

void HealthService::StartDraining() {
  absl::MutexLock lock(&mu_);
  if (draining_) return;
  draining_ = true;
  NotifyWatchersLocked();
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return;
  draining_ = true;
  shutting_down_ = true;
  NotifyWatchersLocked();
}

HealthService::ServingStatus HealthService::StatusOf(const std::string& name) const {
  if (shutting_down_) return HealthCheckResponse::NOT_SERVING;
  if (name == kLivenessName) return HealthCheckResponse::SERVING;
  const bool known = name.empty() || std::find(service_names_.begin(), service_names_.end(),
                                               name) != service_names_.end();
  if (!known) return HealthCheckResponse::SERVICE_UNKNOWN;
  return ready_ && !draining_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

void HealthService::NotifyWatchersLocked() {
  for (Watcher* watcher : watchers_) watcher->Update(StatusOf(watcher->name()), shutting_down_);
}

void HealthService::Unregister(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context,
                                               const HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::ReleasableMutexLock lock(&mu_);
  const ServingStatus status = StatusOf(request->service());
  lock.Release();
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service"));
  } else {
    response->set_status(status);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext*, const HealthCheckRequest* request) {
  auto* watcher = new Watcher(this, request->service());
  absl::MutexLock lock(&mu_);
  watchers_.insert(watcher);
  // Writes made before gRPC binds the reactor are queued by gRPC.
  watcher->Update(StatusOf(watcher->name()), shutting_down_);
  return watcher;
}

}  // namespace microblog
