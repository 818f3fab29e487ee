// Reading the rich error details (google.rpc.Status) of a failed call, and
// small text helpers, shared by the end-to-end tests of both services.
//
//   EXPECT_EQ(ViolatedFields(status), (std::vector<std::string>{"body"}));
//   std::optional<google::rpc::ResourceInfo> info = ResourceInfoOf(status);
#ifndef MICROBLOG_TESTS_SUPPORT_RPC_DETAILS_H_
#define MICROBLOG_TESTS_SUPPORT_RPC_DETAILS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/support/status.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace microblog {
namespace test_support {

// The google.rpc.Status carried by `status`. Adds a test failure when there
// is none (an empty string would parse as an empty status).
google::rpc::Status RichStatusOf(const grpc::Status& status);

// The google.rpc.BadRequest field violations of `status`, in order, as
// (field, description) pairs.
std::vector<std::pair<std::string, std::string>> FieldViolations(const grpc::Status& status);

// Just the fields of FieldViolations(), in order.
std::vector<std::string> ViolatedFields(const grpc::Status& status);

// The google.rpc.ResourceInfo detail of `status`, if any.
std::optional<google::rpc::ResourceInfo> ResourceInfoOf(const grpc::Status& status);

// `piece` repeated `times` times.
std::string Repeat(const std::string& piece, int times);

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_RPC_DETAILS_H_
