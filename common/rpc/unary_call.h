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
//     const Clock::time_point deadline = EffectiveDeadline(*context, max_deadline_);  // deadline.h
//     return RespondOn(db_workers_, context, [=] {
//       return accounts_.ListUsers(*request, deadline, *response);  // blocks
//     });
//   }
//
// Logic that answers asynchronously (GetUser, LookupUser: batches) gets
// the Reply of StartUnaryCall() instead and calls it when done. The
// services reach all of this through CallForwarder
// (common/rpc/call_forwarder.h), which checks each request for NUL bytes
// first.
//
// `request` and `response` stay valid until the call is finished, so the
// work may keep pointers to them. The Reply that finishes a call, and
// FillThenReply, are in common/exec/reply.h: the logic uses them without
// gRPC. Every absl::Status is mapped with
// ToGrpcStatus() (common/rpc/grpc_status.h).
#ifndef MICROBLOG_COMMON_RPC_UNARY_CALL_H_
#define MICROBLOG_COMMON_RPC_UNARY_CALL_H_

#include <memory>
#include <string>
#include <utility>

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/exec/fair_work_queue.h"
#include "common/exec/reply.h"
#include "common/exec/worker_pool.h"

namespace microblog {

// The reactor of `context`'s call (return it from the handler), the Reply
// that finishes it, and the call's trace for the log (null when untraced):
// install it (ScopedLogTrace, common/base/log.h) where the call's work runs. The
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
// finished with the queue's RESOURCE_EXHAUSTED and RetryInfo at once, or,
// for a caller that ignored its last RetryInfo, after the queue's hold
// (on a gRPC alarm, no thread waits; always well before the deadline),
// never left to wait for its deadline.
grpc::ServerUnaryReactor* RespondOn(FairWorkQueue& queue, const std::string& key,
                                    Clock::time_point deadline,
                                    grpc::CallbackServerContext* context,
                                    absl::AnyInvocable<absl::Status() &&> work);

// Finishes the call with `status` right away (e.g. a request that failed
// validation).
grpc::ServerUnaryReactor* RespondNow(grpc::CallbackServerContext* context,
                                     const absl::Status& status);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_UNARY_CALL_H_
