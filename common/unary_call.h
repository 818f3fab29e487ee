// Answering unary calls of gRPC's callback API from our own threads.
//
// Handlers of a `...::CallbackService` return at once; the work that blocks
// (PostgreSQL, Argon2id, a call to another service) runs on a WorkerPool or
// a Batcher's batch, which finishes the call when it is done. No gRPC
// thread ever waits for the database, and a call in progress costs a queue
// entry, not a thread.
//
//   grpc::ServerUnaryReactor* ListUsers(grpc::CallbackServerContext* context,
//                                       const ListUsersRequest* request,
//                                       ListUsersResponse* response) override {
//     const Clock::time_point deadline = EffectiveDeadline(*context, max_deadline_);
//     return RespondOn(db_workers_, context, [=] {
//       return accounts_.ListUsers(*request, deadline, *response);  // blocks
//     });
//   }
//
// Logic that answers asynchronously (GetUser, LookupUser: batches) gets
// the Reply of StartUnaryCall() instead and calls it when done. The
// services reach all of this through CallForwarder
// (common/call_forwarder.h), which checks each request for NUL bytes first.
//
// `request` and `response` stay valid until the call is finished, so the
// work may keep pointers to them. Every absl::Status is mapped with
// ToGrpcStatus() (common/status.h).
#ifndef MICROBLOG_COMMON_UNARY_CALL_H_
#define MICROBLOG_COMMON_UNARY_CALL_H_

#include <memory>
#include <string>
#include <utility>

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/fair_work_queue.h"
#include "common/log.h"
#include "common/worker_pool.h"

namespace microblog {

// Finishes a call with an absl::Status. Move-only and callable once
// (`std::move(reply)(status)`): a call is finished exactly once.
using Reply = absl::AnyInvocable<void(const absl::Status&) &&>;

// The reactor of `context`'s call (return it from the handler), the Reply
// that finishes it, and the call's trace for the log (null when untraced):
// install it (ScopedLogTrace, common/log.h) where the call's work runs. The
// Reply and RespondOn's jobs install it themselves.
struct UnaryCall {
  grpc::ServerUnaryReactor* reactor;
  Reply reply;
  std::shared_ptr<const LogTrace> trace;
};
UnaryCall StartUnaryCall(grpc::CallbackServerContext* context);

// Runs `work` on `pool` and finishes the call with its status. A call the
// client cancelled (or whose deadline passed) while it was queued is
// finished as CANCELLED without running `work`.
grpc::ServerUnaryReactor* RespondOn(WorkerPool& pool, grpc::CallbackServerContext* context,
                                    absl::AnyInvocable<absl::Status() &&> work);

// The same on a FairWorkQueue, under the caller's `key`: a call the queue
// refuses (it could not finish before `deadline`, or a queue cap is hit) is
// finished at once with the queue's RESOURCE_EXHAUSTED and RetryInfo, never
// left to wait for its deadline.
grpc::ServerUnaryReactor* RespondOn(FairWorkQueue& queue, const std::string& key,
                                    Clock::time_point deadline,
                                    grpc::CallbackServerContext* context,
                                    absl::AnyInvocable<absl::Status() &&> work);

// The callback of an operation that answers an absl::StatusOr<T> (a
// Batcher's Done, say): when OK, hands the value to `fill`, which writes it
// into the response; then finishes the call with the status.
//
//   reads_.Add(request.id(), deadline,
//              FillThenReply<PostRecord>(std::move(done), [&response](PostRecord post) {
//                ToProto(post, *response.mutable_post());
//              }));
template <typename T, typename Fill>
absl::AnyInvocable<void(absl::StatusOr<T>) &&> FillThenReply(Reply done, Fill fill) {
  return [done = std::move(done), fill = std::move(fill)](absl::StatusOr<T> result) mutable {
    if (result.ok()) fill(*std::move(result));
    std::move(done)(result.status());
  };
}

// Finishes the call with `status` right away (e.g. a request that failed
// validation).
grpc::ServerUnaryReactor* RespondNow(grpc::CallbackServerContext* context,
                                     const absl::Status& status);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_UNARY_CALL_H_
