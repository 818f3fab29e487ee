// The deadline of a call's own work: what a handler passes to the logic,
// which passes it on to its queries and outgoing calls.
//
//   const Clock::time_point deadline = EffectiveDeadline(*context, max_deadline);
//
// Deadlines are Clock::time_points (common/base/clock.h), gRPC's clock.
//
// Thread-safety: a free function without shared state.
#ifndef MICROBLOG_COMMON_RPC_DEADLINE_H_
#define MICROBLOG_COMMON_RPC_DEADLINE_H_

#include <chrono>

#include <grpcpp/server_context.h>

#include "common/base/clock.h"

namespace microblog {

// The deadline a handler should use for its own work and outgoing calls:
// the client's deadline, capped at now + max_deadline.
Clock::time_point EffectiveDeadline(const grpc::ServerContextBase& context,
                                    std::chrono::milliseconds max_deadline);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_DEADLINE_H_
