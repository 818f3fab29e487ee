// The AuthorChecker (author_checker.h) of a running post-service: asks
// microblog.user.v1.UserService over post-service's channel to it
// (user_service_channel.h):
//
//   std::unique_ptr<GrpcAuthorChecker> authors = GrpcAuthorChecker::Create(
//       *NewUserServiceChannel(options), options.timeout);
//   authors->CheckAuthor(user_id, deadline, trace,
//                        [](absl::Status author) { ... });
//
// Checks are batched (common/exec/batcher.h): the checks that arrive while the
// previous BatchGetUsers calls are in progress go together in the next one,
// so that under load one call to user-service answers dozens of CreatePost
// calls. The calls use gRPC's callback API: no thread waits for
// user-service. Nothing is cached: every answer comes from user-service
// after the check was asked, so a deleted user is refused at once.
#ifndef MICROBLOG_POST_SERVICE_GRPC_AUTHOR_CHECKER_H_
#define MICROBLOG_POST_SERVICE_GRPC_AUTHOR_CHECKER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/metrics.h"
#include "common/base/trace_context.h"
#include "common/exec/batcher.h"
#include "microblog/user/v1/user_service.grpc.pb.h"
#include "post-service/author_checker.h"

namespace microblog {
namespace post {

class GrpcAuthorChecker final : public AuthorChecker {
 public:
  // Checks authors over `channel` (user_service_channel.h), each check
  // bounded by `timeout` whatever the caller's deadline. With `metrics`
  // (which must outlive the checker), counts the checks by outcome,
  // microblog_author_checks_total{outcome="ok"|"not_found"|"unavailable"|
  // "deadline_exceeded"}, and observes the batch sizes
  // (microblog_batch_size{loader="check_author"}).
  static std::unique_ptr<GrpcAuthorChecker> Create(std::shared_ptr<grpc::Channel> channel,
                                                   std::chrono::milliseconds timeout,
                                                   Registry* metrics = nullptr);

  GrpcAuthorChecker(const GrpcAuthorChecker&) = delete;
  GrpcAuthorChecker& operator=(const GrpcAuthorChecker&) = delete;

  // Asks UserService.BatchGetUsers, together with the checks queued at the
  // same time, with deadline min(latest deadline of the batch, now +
  // timeout). A batched call belongs to the trace of its first traced check,
  // as a new span (ChildSpan). Thread-safe.
  void CheckAuthor(int64_t user_id, Clock::time_point deadline, const TraceContext& trace,
                   Answer done) override;

 private:
  struct Check {
    int64_t user_id;
    TraceContext trace;
  };
  using CheckBatcher = Batcher<Check, bool>;

  GrpcAuthorChecker(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout,
                    Registry* metrics);

  // The checks' outcome counters, by status code; all null without metrics.
  struct Outcomes {
    Counter* ok = nullptr;
    Counter* not_found = nullptr;
    Counter* unavailable = nullptr;
    Counter* deadline_exceeded = nullptr;
    void Count(const absl::Status& author) const;
  };
  static Outcomes AddOutcomes(Registry* metrics);

  // Starts one BatchGetUsers call for all `checks`; `finished` gets one
  // result per check when it completes.
  void AskUserService(const std::vector<Check>& checks, Clock::time_point deadline,
                      CheckBatcher::Finished finished);

  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<microblog::user::v1::UserService::Stub> stub_;
  const std::chrono::milliseconds timeout_;
  const Outcomes outcomes_;
  CheckBatcher checks_;  // last: its destructor waits for the calls in flight
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_GRPC_AUTHOR_CHECKER_H_
