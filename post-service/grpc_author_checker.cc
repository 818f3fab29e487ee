#include "post-service/grpc_author_checker.h"

#include <algorithm>
#include <memory>
#include <unordered_set>
#include <utility>

#include <grpcpp/client_context.h>

#include "common/base/log.h"
#include "common/base/status.h"
#include "common/rpc/trace_metadata.h"

namespace microblog {
namespace post {
namespace {

// One BatchGetUsers call in flight: what gRPC needs alive until it calls back.
struct BatchGetUsersCall {
  grpc::ClientContext context;
  microblog::user::v1::BatchGetUsersRequest request;
  microblog::user::v1::BatchGetUsersResponse response;
  std::vector<int64_t> asked;  // one user id per check, in check order
  TraceContext trace;          // sent with the call (a child span), if any
};

// One result per check of `call`, from user-service's answer `status`.
std::vector<absl::StatusOr<bool>> AuthorsOf(const BatchGetUsersCall& call,
                                            const grpc::Status& status) {
  if (!status.ok()) {
    // Whatever went wrong (down, slow, failing), the authors could not be
    // checked: the callers may retry later, so say UNAVAILABLE, never store.
    // The channel's message names internal addresses: it goes to our log,
    // not to the clients.
    const LogTrace trace = TraceLogFieldsOf(call.trace);
    Log(LogLevel::kWarn, "author check failed",
        {{"users", static_cast<int64_t>(call.request.ids_size())},
         {"code", absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))},
         {"cause", status.error_message()},
         {"trace_id", trace.trace_id},
         {"span_id", trace.span_id}});
    // When user-service refused the batch for what one of its ids may have
    // caused (INTERNAL for a row it cannot read, say), the Batcher splits
    // it, so that only that id's callers get UNAVAILABLE.
    return std::vector<absl::StatusOr<bool>>(
        call.asked.size(),
        WholeBatchFailure(absl::UnavailableError("user-service unavailable; retry later"),
                          static_cast<absl::StatusCode>(status.error_code())));
  }
  std::unordered_set<int64_t> found;
  for (const microblog::user::v1::User& user : call.response.users()) found.insert(user.id());
  std::vector<absl::StatusOr<bool>> results;
  results.reserve(call.asked.size());
  for (int64_t user_id : call.asked) {
    if (found.count(user_id) != 0) {
      results.push_back(true);
    } else {
      results.push_back(NotFoundResource("user", user_id));
    }
  }
  return results;
}

}  // namespace

std::unique_ptr<GrpcAuthorChecker> GrpcAuthorChecker::Create(std::shared_ptr<grpc::Channel> channel,
                                                             std::chrono::milliseconds timeout,
                                                             Registry* metrics) {
  return std::unique_ptr<GrpcAuthorChecker>(
      new GrpcAuthorChecker(std::move(channel), timeout, metrics));
}

GrpcAuthorChecker::Outcomes GrpcAuthorChecker::AddOutcomes(Registry* metrics) {
  if (metrics == nullptr) return {};
  CounterFamily& checks = metrics->AddCounter(
      "microblog_author_checks_total",
      "CreatePost's author checks by outcome; unavailable: user-service could not answer.",
      {"outcome"});
  return {&checks.WithLabels({"ok"}), &checks.WithLabels({"not_found"}),
          &checks.WithLabels({"unavailable"}), &checks.WithLabels({"deadline_exceeded"})};
}

void GrpcAuthorChecker::Outcomes::Count(const absl::Status& author) const {
  if (ok == nullptr) return;
  switch (author.code()) {
    case absl::StatusCode::kOk:
      return ok->Increment();
    case absl::StatusCode::kNotFound:
      return not_found->Increment();
    case absl::StatusCode::kDeadlineExceeded:
      return deadline_exceeded->Increment();
    default:
      return unavailable->Increment();  // the contract's only other outcome
  }
}

GrpcAuthorChecker::GrpcAuthorChecker(std::shared_ptr<grpc::Channel> channel,
                                     std::chrono::milliseconds timeout, Registry* metrics)
    : channel_(std::move(channel)),
      stub_(microblog::user::v1::UserService::NewStub(channel_)),
      timeout_(timeout),
      outcomes_(AddOutcomes(metrics)),
      checks_(
          [this](const std::vector<Check>& checks, Clock::time_point deadline,
                 CheckBatcher::Finished finished) {
            AskUserService(checks, deadline, std::move(finished));
          },
          kMaxBatch, kBatchesInFlight, BatchSizeHistogram(metrics, "check_author")) {}

void GrpcAuthorChecker::CheckAuthor(int64_t user_id, Clock::time_point deadline,
                                    const TraceContext& trace, Answer done) {
  checks_.Add({user_id, trace}, deadline,
              [this, done = std::move(done)](absl::StatusOr<bool> exists) mutable {
                outcomes_.Count(exists.status());
                std::move(done)(exists.status());
              });
}

void GrpcAuthorChecker::AskUserService(const std::vector<Check>& checks, Clock::time_point deadline,
                                       CheckBatcher::Finished finished) {
  // Shared with gRPC's callback, which must be copyable.
  auto call = std::make_shared<BatchGetUsersCall>();
  call->context.set_deadline(std::min(deadline, Clock::now() + timeout_));
  std::unordered_set<int64_t> distinct;
  bool traced = false;
  for (const Check& check : checks) {
    call->asked.push_back(check.user_id);
    if (distinct.insert(check.user_id).second) call->request.add_ids(check.user_id);
    if (!traced && !check.trace.traceparent.empty()) {
      // The call to user-service is a span of its own in the caller's trace.
      call->trace = ChildSpan(check.trace);
      AddTo(call->trace, call->context);
      traced = true;
    }
  }
  auto answer = std::make_shared<CheckBatcher::Finished>(std::move(finished));
  stub_->async()->BatchGetUsers(
      &call->context, &call->request, &call->response,
      [call, answer](grpc::Status status) { std::move (*answer)(AuthorsOf(*call, status)); });
}

}  // namespace post
}  // namespace microblog
