// Gives a request that does not parse as its message type the status it
// deserves: INVALID_ARGUMENT "request is not a valid <message type>".
//
// gRPC 1.51's callback API never lets a handler see such a request: when
// deserialization fails (a truncated message, a varint longer than 10
// bytes, invalid UTF-8 in a proto3 `string` field, which protobuf refuses),
// CallbackUnaryHandler answers it itself with UNIMPLEMENTED and an empty
// message, as if the method did not exist. This server interceptor sees the
// failure (the message it is handed at POST_RECV_MESSAGE is null) and
// rewrites that status before it is sent: the client learns the method
// exists and its request was at fault, and the access log and metrics
// (which run after it) count INVALID_ARGUMENT.
//
// Install it first among the server's interceptors (common/service/server.cc).
//
// Thread-safety: gRPC creates one interceptor per call.
#ifndef MICROBLOG_COMMON_RPC_MALFORMED_REQUEST_H_
#define MICROBLOG_COMMON_RPC_MALFORMED_REQUEST_H_

#include <memory>

#include <grpcpp/support/server_interceptor.h>

namespace microblog {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MalformedRequestInterceptorFactory();

}  // namespace microblog

#endif  // MICROBLOG_COMMON_RPC_MALFORMED_REQUEST_H_
