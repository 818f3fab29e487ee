// Unary calls with raw request bytes, for tests that send what a typed stub
// cannot: requests that do not parse (truncated, invalid UTF-8, overlong
// varints) and fuzzed bytes. The bytes go to the real method through
// grpc::GenericStub, framed as gRPC frames any message.
//
//   grpc::GenericStub stub(service.NewChannel());
//   grpc::Status status = RawUnaryCall(stub, "/microblog.user.v1.UserService/GetUser",
//                                      std::string("\x08\x01", 2), std::chrono::seconds(5));
//
// Thread-safe as the stub is (a GenericStub may be shared by threads).
#ifndef MICROBLOG_TESTS_SUPPORT_RAW_RPC_H_
#define MICROBLOG_TESTS_SUPPORT_RAW_RPC_H_

#include <chrono>
#include <string>
#include <string_view>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/status.h>

namespace microblog {
namespace test_support {

// Sends `request` (the serialized request message) to `method`
// ("/<package>.<Service>/<Method>") with a deadline `timeout` from now and
// waits for the call to finish. When `response` is given, it receives the
// serialized response of an OK call. A non-empty `bearer` goes as
// `authorization: Bearer <bearer>`.
grpc::Status RawUnaryCall(grpc::GenericStub& stub, const std::string& method,
                          const std::string& request, std::chrono::milliseconds timeout,
                          std::string* response = nullptr, const std::string& bearer = "");

// `bytes` as lowercase hex, two digits a byte ("0801ff"), to print a
// request so that a failure can be reproduced.
std::string Hex(std::string_view bytes);

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_RAW_RPC_H_
