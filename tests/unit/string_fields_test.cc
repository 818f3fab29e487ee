// RejectNulBytes (common/base/string_fields.h): every string field of any
// request, nested and repeated ones included, checked for NUL bytes.
#include "common/base/string_fields.h"

#include <string>

#include <gtest/gtest.h>

#include "common/base/status.h"
#include "microblog/post/v1/post_service.pb.h"
#include "microblog/user/v1/user_service.pb.h"

namespace microblog {
namespace {

using namespace std::string_literals;

TEST(RejectNulBytes, RequestsWithoutNulBytesPass) {
  microblog::post::v1::CreatePostRequest request;
  request.set_user_id(1);
  request.set_body("héllo, wörld ✓");
  request.set_request_id("abc");
  EXPECT_TRUE(RejectNulBytes(request).ok());
  EXPECT_TRUE(RejectNulBytes(microblog::user::v1::GetUserRequest()).ok());
}

TEST(RejectNulBytes, EachOffendingFieldIsNamedAnywhereInTheMessage) {
  microblog::user::v1::UpdateUserRequest request;
  request.set_id(1);
  request.set_username("ada\0anything"s);
  request.set_email("ada@example.com");
  request.set_password("\0"s);
  request.mutable_update_mask()->add_paths("email");
  request.mutable_update_mask()->add_paths("pass\0word"s);
  const absl::Status status = RejectNulBytes(request);
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  const std::vector<FieldViolation> violations = FieldViolationsOf(status);
  ASSERT_EQ(violations.size(), 3u);
  EXPECT_EQ(violations[0].field, "username");
  EXPECT_EQ(violations[1].field, "password");
  EXPECT_EQ(violations[2].field, "update_mask.paths[1]");
  EXPECT_EQ(violations[0].description, "must not contain a NUL byte (U+0000)");
  // The message names fields, never their values (a password here).
  EXPECT_EQ(status.message().find("anything"), std::string::npos);
}

TEST(RejectNulBytes, ANulAtEitherEndCounts) {
  microblog::post::v1::CreatePostRequest request;
  request.set_body("\0hello"s);
  request.set_request_id("key\0"s);
  const std::vector<FieldViolation> violations = FieldViolationsOf(RejectNulBytes(request));
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_EQ(violations[0].field, "body");
  EXPECT_EQ(violations[1].field, "request_id");
}

}  // namespace
}  // namespace microblog
