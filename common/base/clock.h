// The project's one deadline vocabulary: a deadline is a Clock::time_point.
//
// Clock is the system clock because gRPC's deadlines are:
// grpc::ServerContext::deadline() gives a system_clock::time_point, and
// grpc::ClientContext::set_deadline() and grpc::Server::Shutdown() take
// one. A call's deadline so passes from the edge (EffectiveDeadline,
// common/rpc/deadline.h) through the logic, the batches, the work queues
// and the stores down to the connection pool, and into the calls made to
// another service, without a conversion anywhere:
//
//   absl::Status DeletePost(const Request& request, Clock::time_point deadline, ...);
//   if (Clock::now() >= deadline) return absl::DeadlineExceededError("...");
//   pool.Run<Row>(Clock::now() + std::chrono::seconds(30), ...);  // a deadline of our own
//
// Intervals the process measures or schedules on its own (a replica's lag,
// the login throttle's windows, how long a hash took) are not deadlines:
// they use the steady clock (MonotonicClock), which never jumps when the
// wall clock is set.
// Never mix the two in one computation.
//
// Classes do not declare a `Clock` of their own: `Clock` is this one
// everywhere in namespace microblog.
//
// Thread-safety: type names only.
#ifndef MICROBLOG_COMMON_BASE_CLOCK_H_
#define MICROBLOG_COMMON_BASE_CLOCK_H_

#include <chrono>

namespace microblog {

// The clock of every deadline (gRPC's).
using Clock = std::chrono::system_clock;

// The clock of intervals measured inside the process; never a deadline.
using MonotonicClock = std::chrono::steady_clock;

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_CLOCK_H_
