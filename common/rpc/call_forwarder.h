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
// Every call is then authenticated (common/rpc/call_authentication.h): a call with
// a bad `authorization: Bearer` token is refused with UNAUTHENTICATED before
// the logic sees it; a method that decides by its caller takes a
// `const Caller&` right after the request (the `...As` method types below),
// anonymous when the call carries no token.
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
// Thread-safety: const methods, safe from any thread. The logic object and
// what CallAuthentication points to are borrowed and must outlive the forwarder and every
// call it forwarded.
#ifndef MICROBLOG_COMMON_RPC_CALL_FORWARDER_H_
#define MICROBLOG_COMMON_RPC_CALL_FORWARDER_H_

#include <chrono>
#include <utility>

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/caller.h"
#include "common/base/clock.h"
#include "common/base/string_fields.h"
#include "common/base/trace_context.h"
#include "common/exec/fair_work_queue.h"
#include "common/exec/reply.h"
#include "common/exec/worker_pool.h"
#include "common/rpc/call_authentication.h"
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
  // The same, for methods that decide by who calls.
  template <typename Request, typename Response>
  using AsyncMethodAs = void (Logic::*)(const Request&, const Caller&, Clock::time_point, Response&,
                                        Reply);
  template <typename Request, typename Response>
  using TracedAsyncMethodAs = void (Logic::*)(const Request&, const Caller&, Clock::time_point,
                                              const TraceContext&, Response&, Reply);
  template <typename Request, typename Response>
  using BlockingMethodAs = absl::Status (Logic::*)(const Request&, const Caller&, Clock::time_point,
                                                   Response&);

  // `auth` (its pointees borrowed) proves who calls: the calls' access
  // tokens and the privileged service identities.
  CallForwarder(Logic& logic, std::chrono::milliseconds max_deadline, CallAuthentication auth)
      : logic_(logic), max_deadline_(max_deadline), auth_(auth) {}

  // The logic calls are forwarded to, for a handler that needs more than
  // Forward/RunOn pass (e.g. the caller's trace context).
  Logic& logic() const { return logic_; }

  // The deadline of `context`'s call for our own work: the client's,
  // capped at now + max_deadline.
  Clock::time_point Deadline(const grpc::CallbackServerContext& context) const {
    return EffectiveDeadline(context, max_deadline_);
  }

  // Who calls `context`'s call (common/rpc/call_authentication.h): for a handler
  // that passes the caller on itself (RunQueued's work).
  absl::StatusOr<Caller> CallerOf(const grpc::CallbackServerContext& context) const {
    return AuthenticateCall(context, auth_);
  }

  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Forward(grpc::CallbackServerContext* context,
                                    AsyncMethod<Request, Response> method, const Request* request,
                                    Response* response) const {
    return ForwardAs(context, request, [&](const Caller&, UnaryCall& call) {
      (logic_.*method)(*request, Deadline(*context), *response, std::move(call.reply));
    });
  }
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Forward(grpc::CallbackServerContext* context,
                                    AsyncMethodAs<Request, Response> method, const Request* request,
                                    Response* response) const {
    return ForwardAs(context, request, [&](const Caller& caller, UnaryCall& call) {
      (logic_.*method)(*request, caller, Deadline(*context), *response, std::move(call.reply));
    });
  }

  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* ForwardTraced(grpc::CallbackServerContext* context,
                                          TracedAsyncMethod<Request, Response> method,
                                          const Request* request, Response* response) const {
    return ForwardAs(context, request, [&](const Caller&, UnaryCall& call) {
      (logic_.*method)(*request, Deadline(*context), TraceContextFrom(*context), *response,
                       std::move(call.reply));
    });
  }
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* ForwardTraced(grpc::CallbackServerContext* context,
                                          TracedAsyncMethodAs<Request, Response> method,
                                          const Request* request, Response* response) const {
    return ForwardAs(context, request, [&](const Caller& caller, UnaryCall& call) {
      (logic_.*method)(*request, caller, Deadline(*context), TraceContextFrom(*context), *response,
                       std::move(call.reply));
    });
  }

  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* RunOn(WorkerPool& workers, grpc::CallbackServerContext* context,
                                  BlockingMethod<Request, Response> method, const Request* request,
                                  Response* response) const {
    absl::StatusOr<Caller> caller = Admit(*request, *context);
    if (!caller.ok()) return RespondNow(context, caller.status());
    return RespondOn(workers, context,
                     [&logic = logic_, method, request, response, deadline = Deadline(*context)] {
                       return (logic.*method)(*request, deadline, *response);
                     });
  }
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* RunOn(WorkerPool& workers, grpc::CallbackServerContext* context,
                                  BlockingMethodAs<Request, Response> method,
                                  const Request* request, Response* response) const {
    absl::StatusOr<Caller> caller = Admit(*request, *context);
    if (!caller.ok()) return RespondNow(context, caller.status());
    return RespondOn(workers, context,
                     [&logic = logic_, method, request, response, caller = *std::move(caller),
                      deadline = Deadline(*context)] {
                       return (logic.*method)(*request, caller, deadline, *response);
                     });
  }

  // `work(caller, deadline)` on `queue` under the caller's `key`, after
  // `precheck()` (run on this thread: e.g. a throttle that refuses without
  // taking a place in the queue) passed.
  template <typename Request>
  grpc::ServerUnaryReactor* RunQueued(
      FairWorkQueue& queue, const std::string& key, grpc::CallbackServerContext* context,
      const Request* request, absl::FunctionRef<absl::Status()> precheck,
      absl::AnyInvocable<absl::Status(const Caller& caller, Clock::time_point deadline) &&> work)
      const {
    absl::StatusOr<Caller> caller = Admit(*request, *context);
    if (!caller.ok()) return RespondNow(context, caller.status());
    if (absl::Status allowed = precheck(); !allowed.ok()) return RespondNow(context, allowed);
    const Clock::time_point deadline = Deadline(*context);
    return RespondOn(queue, key, deadline, context,
                     [work = std::move(work), caller = *std::move(caller), deadline]() mutable {
                       return std::move(work)(caller, deadline);
                     });
  }

 private:
  // The checks every call passes before the logic sees it: no NUL byte in
  // a string field, and a good token if any.
  template <typename Request>
  absl::StatusOr<Caller> Admit(const Request& request,
                               const grpc::CallbackServerContext& context) const {
    if (absl::Status clean = RejectNulBytes(request); !clean.ok()) return clean;
    return CallerOf(context);
  }

  // Admits the call, then `forward(caller, call)` on this thread.
  template <typename Request, typename ForwardFn>
  grpc::ServerUnaryReactor* ForwardAs(grpc::CallbackServerContext* context, const Request* request,
                                      ForwardFn forward) const {
    absl::StatusOr<Caller> caller = Admit(*request, *context);
    if (!caller.ok()) return RespondNow(context, caller.status());
    UnaryCall call = StartUnaryCall(context);
    ScopedLogTrace log_trace(std::move(call.trace));
    forward(*caller, call);
    return call.reactor;
  }

  Logic& logic_;
  const std::chrono::milliseconds max_deadline_;
  const CallAuthentication auth_;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_CALL_FORWARDER_H_
