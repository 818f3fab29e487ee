// Checks every string field of a request, whatever its message type, for
// what no string of ours may hold: a NUL byte.
//
// PostgreSQL `text` cannot store U+0000, libpq passes parameters as C
// strings (a NUL would silently cut "ada\0anything" to "ada"), and an array
// literal with a NUL in one element fails the whole batched statement that
// carries it. So both services refuse such a request at the gRPC edge
// (common/rpc/call_forwarder.h), before any validation, query or batch, with
// INVALID_ARGUMENT naming each offending field: proto3 accepts U+0000 as
// valid UTF-8, so protobuf's own parsing lets it through.
//
//   if (absl::Status clean = RejectNulBytes(*request); !clean.ok()) {
//     return RespondNow(context, clean);
//   }
//
// Field paths follow the BadRequest convention of common/base/status.h:
// "body", "user.email", "paths[2]". `bytes` fields are not checked: they
// are binary by contract.
//
// Thread-safety: a free function without shared state.
#ifndef MICROBLOG_COMMON_BASE_STRING_FIELDS_H_
#define MICROBLOG_COMMON_BASE_STRING_FIELDS_H_

#include <google/protobuf/message.h>

#include "absl/status/status.h"

namespace microblog {

// OK, or INVALID_ARGUMENT with one field violation per string field of
// `message` (nested messages and repeated fields included) that holds a NUL
// byte.
absl::Status RejectNulBytes(const google::protobuf::Message& message);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_STRING_FIELDS_H_
