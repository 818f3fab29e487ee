// The thin gRPC edge of a service: hands each call of a `...::CallbackService`
// to the method of the logic object behind it (UserAccounts, Posts), with
// the call's deadline capped at `max_deadline`, and finishes the call with
// the method's absl::Status (mapped by ToGrpcStatus, common/rpc/grpc_status.h).
//
// Every request is first checked for NUL bytes in its string fields
// (common/base/string_fields.h) and refused with INVALID_ARGUMENT before the
// logic sees it: no string reaches validation, a query or a batch cut short
// or able to fail a statement it shares with other calls.
//
// Two kinds of logic methods:
//  - asynchronous ones, which answer through a Reply, from their own
//    batches or calls: `void GetPost(const Req&, time_point, Resp&, Reply)`;
//    Forward() calls them on gRPC's thread, and they must not block;
//    ForwardTraced() also passes the caller's W3C trace context, for logic
//    that calls another service
//    (`void CreatePost(const Req&, time_point, const TraceContext&, Resp&, Reply)`);
//  - blocking ones, which return the status:
//    `absl::Status ListUsers(const Req&, time_point, Resp&)`; RunOn() queues
//    them on a WorkerPool (common/rpc/unary_call.h, RespondOn), or
//    RunQueued() on a FairWorkQueue under the caller's key (user-service's
//    password hashing: refused at once when the queue says so).
//
//   class PostServiceImpl final : public v1::PostService::CallbackService {
//     grpc::ServerUnaryReactor* GetPost(grpc::CallbackServerContext* context,
//                                       const v1::GetPostRequest* request,
//                                       v1::GetPostResponse* response) override {
//       return calls_.Forward(context, &Posts::GetPost, request, response);
//     }
//     CallForwarder<Posts> calls_{posts, max_deadline};
//   };
//
// Thread-safety: const methods, safe from any thread. The logic object is
// borrowed and must outlive the forwarder and every call it forwarded.
#ifndef MICROBLOG_COMMON_RPC_CALL_FORWARDER_H_
#define MICROBLOG_COMMON_RPC_CALL_FORWARDER_H_

#include <chrono>
#include <utility>

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "common/base/clock.h"
#include "common/base/string_fields.h"
#include "common/base/trace_context.h"
#include "common/exec/fair_work_queue.h"
#include "common/exec/reply.h"
#include "common/exec/worker_pool.h"
#include "common/rpc/deadline.h"
#include "common/rpc/trace_metadata.h"
#include "common/rpc/unary_call.h"

namespace microblog {

template <typename Logic>
class CallForwarder {
 public:
  template <typename Request, typename Response>
  using AsyncMethod = void (Logic::*)(const Request&, Clock::time_point, Response&, Reply);
  template <typename Request, typename Response>
  using TracedAsyncMethod = void (Logic::*)(const Request&, Clock::time_point, const TraceContext&,
                                            Response&, Reply);
  template <typename Request, typename Response>
  using BlockingMethod = absl::Status (Logic::*)(const Request&, Clock::time_point, Response&);

  CallForwarder(Logic& logic, std::chrono::milliseconds max_deadline)
      : logic_(logic), max_deadline_(max_deadline) {}

  // The logic calls are forwarded to, for a handler that needs more than
  // Forward/RunOn pass (e.g. the caller's trace context).
  Logic& logic() const { return logic_; }

  // The deadline of `context`'s call for our own work: the client's,
  // capped at now + max_deadline.
  Clock::time_point Deadline(const grpc::CallbackServerContext& context) const {
    return EffectiveDeadline(context, max_deadline_);
  }

  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Forward(grpc::CallbackServerContext* context,
                                    AsyncMethod<Request, Response> method, const Request* request,
                                    Response* response) const {
    if (absl::Status clean = RejectNulBytes(*request); !clean.ok()) {
      return RespondNow(context, clean);
    }
    UnaryCall call = StartUnaryCall(context);
    ScopedLogTrace log_trace(std::move(call.trace));
    (logic_.*method)(*request, Deadline(*context), *response, std::move(call.reply));
    return call.reactor;
  }

  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* ForwardTraced(grpc::CallbackServerContext* context,
                                          TracedAsyncMethod<Request, Response> method,
                                          const Request* request, Response* response) const {
    if (absl::Status clean = RejectNulBytes(*request); !clean.ok()) {
      return RespondNow(context, clean);
    }
    UnaryCall call = StartUnaryCall(context);
    ScopedLogTrace log_trace(std::move(call.trace));
    (logic_.*method)(*request, Deadline(*context), TraceContextFrom(*context), *response,
                     std::move(call.reply));
    return call.reactor;
  }

  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* RunOn(WorkerPool& workers, grpc::CallbackServerContext* context,
                                  BlockingMethod<Request, Response> method, const Request* request,
                                  Response* response) const {
    if (absl::Status clean = RejectNulBytes(*request); !clean.ok()) {
      return RespondNow(context, clean);
    }
    return RespondOn(workers, context,
                     [&logic = logic_, method, request, response, deadline = Deadline(*context)] {
                       return (logic.*method)(*request, deadline, *response);
                     });
  }

  // `work(deadline)` on `queue` under the caller's `key`, after
  // `precheck()` (run on this thread: e.g. a throttle that refuses without
  // taking a place in the queue) passed.
  template <typename Request>
  grpc::ServerUnaryReactor* RunQueued(
      FairWorkQueue& queue, const std::string& key, grpc::CallbackServerContext* context,
      const Request* request, absl::FunctionRef<absl::Status()> precheck,
      absl::AnyInvocable<absl::Status(Clock::time_point deadline) &&> work) const {
    if (absl::Status clean = RejectNulBytes(*request); !clean.ok()) {
      return RespondNow(context, clean);
    }
    if (absl::Status allowed = precheck(); !allowed.ok()) return RespondNow(context, allowed);
    const Clock::time_point deadline = Deadline(*context);
    return RespondOn(queue, key, deadline, context, [work = std::move(work), deadline]() mutable {
      return std::move(work)(deadline);
    });
  }

 private:
  Logic& logic_;
  const std::chrono::milliseconds max_deadline_;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_CALL_FORWARDER_H_
