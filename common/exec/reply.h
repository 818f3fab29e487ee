// The callback that finishes a call: what the logic of a service answers
// through, without knowing it is a gRPC call (common/rpc/unary_call.h makes
// one per call, CallForwarder hands it to the logic).
//
//   void Posts::GetPost(const GetPostRequest& request, Clock::time_point deadline,
//                       GetPostResponse& response, Reply done) {
//     ...
//     std::move(done)(absl::OkStatus());   // exactly once
//   }
#ifndef MICROBLOG_COMMON_EXEC_REPLY_H_
#define MICROBLOG_COMMON_EXEC_REPLY_H_

#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace microblog {

// Finishes a call with an absl::Status. Move-only and callable once
// (`std::move(reply)(status)`): a call is finished exactly once.
using Reply = absl::AnyInvocable<void(const absl::Status&) &&>;

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

// As FillThenReply, for a `fill` that may still refuse the value: it
// returns the status the call finishes with.
template <typename T, typename Fill>
absl::AnyInvocable<void(absl::StatusOr<T>) &&> CheckThenReply(Reply done, Fill fill) {
  return [done = std::move(done), fill = std::move(fill)](absl::StatusOr<T> result) mutable {
    if (!result.ok()) return std::move(done)(result.status());
    std::move(done)(fill(*std::move(result)));
  };
}

}  // namespace microblog

#endif  // MICROBLOG_COMMON_EXEC_REPLY_H_
