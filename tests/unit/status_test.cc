// The status builders of common/base/status.h and ToGrpcStatus (rpc/), the one mapping
// of absl::Status to grpc::Status at the edge: the google.rpc details a
// client gets, and internal errors that never leak their cause.
#include "common/base/status.h"

#include <string>

#include <gtest/gtest.h>

#include "common/rpc/grpc_status.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace microblog {
namespace {

TEST(Status, InvalidArgumentCarriesBadRequestDetails) {
  const grpc::Status status =
      ToGrpcStatus(InvalidArgument({{"username", "too long"}, {"email", "missing @"}}));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("username: too long"), std::string::npos);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details(0).UnpackTo(&bad_request));
  ASSERT_EQ(bad_request.field_violations_size(), 2);
  EXPECT_EQ(bad_request.field_violations(1).field(), "email");
  EXPECT_EQ(bad_request.field_violations(1).description(), "missing @");
}

TEST(Status, NotFoundResourceCarriesResourceInfo) {
  const grpc::Status status =
      ToGrpcStatus(NotFoundResource("user", "42", "user 42 does not exist"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  google::rpc::ResourceInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.resource_type(), "user");
  EXPECT_EQ(info.resource_name(), "42");
}

TEST(Status, InternalErrorsNeverLeakTheirCause) {
  const grpc::Status status =
      ToGrpcStatus(absl::InternalError("ERROR: relation \"users\" ... host=db password=x"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(status.error_message(), "internal error");
  EXPECT_TRUE(status.error_details().empty());
}

}  // namespace
}  // namespace microblog
