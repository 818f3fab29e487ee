// Shared by the fuzz targets of tests/fuzz: checking a property of the code
// under test, and turning the fuzzer's bytes into a request message. A failed
// check prints what failed and aborts, which libFuzzer reports like a crash
// and saves the input that caused it.
//
//   FUZZ_CHECK(Decode(Encode(x)) == x);
//   WithRequest<CreateUserRequest>(data, size, [](const CreateUserRequest& r) {
//     CheckRequestVerdict(ValidateCreateUser(r));
//   });
//
// Unlike assert(), FUZZ_CHECK stays on in RelWithDebInfo builds (the `fuzz`
// preset).
#ifndef MICROBLOG_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define MICROBLOG_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <google/protobuf/stubs/logging.h>

#include "absl/status/status.h"
#include "common/base/status.h"
#include "common/rpc/grpc_status.h"

#define FUZZ_CHECK(condition)                                                               \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)

namespace microblog {
namespace fuzz {

// Parses a `Request` from the bytes, as the gRPC server would, and passes it
// to `check`; does nothing when they are not such a message (the server
// would refuse the call before any handler ran).
template <typename Request, typename Check>
void WithRequest(const uint8_t* data, size_t size, Check check) {
  // Invalid UTF-8 in a string field is logged by protobuf at every parse:
  // noise that would slow the fuzzer down.
  static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
  static_cast<void>(quiet);
  Request request;
  if (request.ParseFromArray(data, static_cast<int>(size))) check(request);
}

// Checks what a request check answered: OK, or INVALID_ARGUMENT that names
// at least one bad field (never another code, never an empty BadRequest),
// and that it survives the conversion the gRPC edge applies.
inline void CheckRequestVerdict(const absl::Status& verdict) {
  const grpc::Status sent = ToGrpcStatus(verdict);
  if (verdict.ok()) {
    FUZZ_CHECK(sent.ok());
    return;
  }
  FUZZ_CHECK(verdict.code() == absl::StatusCode::kInvalidArgument);
  FUZZ_CHECK(!FieldViolationsOf(verdict).empty());
  FUZZ_CHECK(sent.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  FUZZ_CHECK(!sent.error_details().empty());
}

}  // namespace fuzz
}  // namespace microblog

#endif  // MICROBLOG_TESTS_FUZZ_FUZZ_SUPPORT_H_
