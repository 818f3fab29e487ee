// The standard gRPC health service (grpc.health.v1.Health), our own
// implementation instead of gRPC's built-in one, because we need three things
// the built-in one (gRPC 1.51) lacks:
//  - a drain phase: StartDraining() turns readiness NOT_SERVING while
//    Watch streams stay open, so that health-checking clients (gRPC's
//    client-side health checking, healthCheckConfig) move their calls to
//    other replicas while this one still serves;
//  - Watch streams end when shutdown starts (after sending NOT_SERVING):
//    the built-in service keeps them open, so one watching client would hold
//    a graceful shutdown for the whole grace period;
//  - a "liveness" name that answers SERVING as long as the process runs,
//    for Kubernetes liveness probes, while "" and the served services'
//    names follow readiness (the database answering).
// Being generated from health.proto, it also puts the health service's
// descriptors in the binary, so reflection can describe it.
//
// It is a callback service: no call holds a server thread. Check answers at
// once. Watch sends the name's current status, then a new message only when
// that status changes (SetReady(), StartDraining() and Shutdown() push it to the open
// streams; nothing polls). A stream has at most one write in flight; changes
// that arrive meanwhile collapse into the latest status, sent when the write
// completes (a watcher may miss a short-lived status, never the last one).
// StartDraining() sends NOT_SERVING to every stream; Shutdown() makes every stream send
// NOT_SERVING, if it has not already, and end with OK; a client that cancels ends its stream with
// CANCELLED.
//
// Check answers NOT_FOUND for names it does not know, as the health
// protocol asks; Watch sends SERVICE_UNKNOWN for them and keeps watching.
//
// Ownership: the caller owns the service and registers it with a server
// (grpc::ServerBuilder::RegisterService); it must outlive that server, i.e.
// until grpc::Server::Wait() has returned (by then every Watch stream has
// ended and freed its state).
//
// Thread-safety: all methods are thread-safe.
#ifndef MICROBLOG_COMMON_RPC_HEALTH_SERVICE_H_
#define MICROBLOG_COMMON_RPC_HEALTH_SERVICE_H_

#include <string>
#include <unordered_set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace microblog {

class HealthService final : public grpc::health::v1::Health::CallbackService {
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
  // "" and the served services NOT_SERVING from now on ("liveness" stays
  // SERVING: the process still serves, and must not be restarted for
  // draining); open Watch streams get that status and stay open. Later
  // SetReady() calls are ignored.
  void StartDraining();
  // Everything NOT_SERVING, "liveness" included; open Watch streams end
  // (with OK) once they have sent it.
  void Shutdown();

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class Watcher;
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // Status of `name`, or SERVICE_UNKNOWN.
  ServingStatus StatusOf(const std::string& name) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tells every open Watch stream its name's current status.
  void NotifyWatchersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Called by a Watcher when its stream is done, just before it deletes
  // itself; from then on no notification reaches it.
  void Unregister(Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);

  const std::vector<std::string> service_names_;
  mutable absl::Mutex mu_;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;                  // NOT_SERVING for good
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;             // Watch streams end
  std::unordered_set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);  // open Watch streams
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_HEALTH_SERVICE_H_
