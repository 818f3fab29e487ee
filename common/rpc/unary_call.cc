#include "common/rpc/unary_call.h"

#include <utility>

#include <grpcpp/alarm.h>

#include "common/base/trace_context.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/trace_metadata.h"

namespace microblog {

UnaryCall StartUnaryCall(grpc::CallbackServerContext* context) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::shared_ptr<const LogTrace> trace = SharedLogTraceOf(TraceContextFrom(*context));
  return {reactor,
          [reactor, trace](const absl::Status& status) {
            // ToGrpcStatus logs internal errors' causes: with the trace.
            ScopedLogTrace log_trace(trace);
            reactor->Finish(ToGrpcStatus(status));
          },
          trace};
}

grpc::ServerUnaryReactor* RespondOn(WorkerPool& pool, grpc::CallbackServerContext* context,
                                    absl::AnyInvocable<absl::Status() &&> work) {
  UnaryCall call = StartUnaryCall(context);
  pool.Submit([context, reply = std::move(call.reply), work = std::move(work),
               trace = std::move(call.trace)]() mutable {
    ScopedLogTrace log_trace(std::move(trace));
    // Nobody waits for the answer any more: spare the database the work.
    if (context->IsCancelled()) return std::move(reply)(absl::CancelledError("call cancelled"));
    std::move(reply)(std::move(work)());
  });
  return call.reactor;
}

grpc::ServerUnaryReactor* RespondOn(FairWorkQueue& queue, const std::string& key,
                                    Clock::time_point deadline,
                                    grpc::CallbackServerContext* context,
                                    absl::AnyInvocable<absl::Status() &&> work) {
  UnaryCall call = StartUnaryCall(context);
  // The reply moves into the job only when the queue takes it: a refused
  // job is dropped, and the call is answered here.
  auto reply = std::make_shared<Reply>(std::move(call.reply));
  FairWorkQueue::Admission admission = queue.Submit(
      key, deadline, [context, reply, work = std::move(work), trace = call.trace]() mutable {
        ScopedLogTrace log_trace(std::move(trace));
        // Nobody waits for the answer any more: spare the hashing threads.
        if (context->IsCancelled())
          return std::move(*reply)(absl::CancelledError("call cancelled"));
        std::move (*reply)(std::move(work)());
      });
  if (admission.ok()) return call.reactor;
  if (admission.hold <= std::chrono::nanoseconds::zero()) {
    std::move (*reply)(admission.status);
    return call.reactor;
  }
  // A caller that ignored its last RetryInfo: the refusal waits out the
  // hold on a gRPC timer, holding no thread. The alarm deletes itself when
  // it fires (gRPC keeps its own reference while the callback runs).
  auto* alarm = new grpc::Alarm();
  alarm->Set(std::chrono::system_clock::now() + admission.hold,
             [alarm, reply, status = std::move(admission.status)](bool) {
               std::move (*reply)(status);
               delete alarm;
             });
  return call.reactor;
}

grpc::ServerUnaryReactor* RespondNow(grpc::CallbackServerContext* context,
                                     const absl::Status& status) {
  UnaryCall call = StartUnaryCall(context);
  std::move(call.reply)(status);
  return call.reactor;
}

}  // namespace microblog
