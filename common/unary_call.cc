#include "common/unary_call.h"

#include <utility>

#include "common/status.h"

namespace microblog {

UnaryCall StartUnaryCall(grpc::CallbackServerContext* context) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  return {reactor, [reactor](const absl::Status& status) { reactor->Finish(ToGrpcStatus(status)); }};
}

grpc::ServerUnaryReactor* RespondOn(WorkerPool& pool, grpc::CallbackServerContext* context,
                                    absl::AnyInvocable<absl::Status() &&> work) {
  UnaryCall call = StartUnaryCall(context);
  pool.Submit([context, reply = std::move(call.reply), work = std::move(work)]() mutable {
    // Nobody waits for the answer any more: spare the database the work.
    if (context->IsCancelled()) return std::move(reply)(absl::CancelledError("call cancelled"));
    std::move(reply)(std::move(work)());
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
