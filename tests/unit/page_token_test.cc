// Page tokens and page sizes (common/base/page_token.h): tokens round-trip, a
// token of another listing or a damaged one is INVALID_ARGUMENT naming
// page_token.
#include "common/base/page_token.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/base/status.h"

namespace microblog {
namespace {

TEST(PageToken, RoundTrips) {
  const std::string token = EncodePageToken("posts", {7, 1700000000123456, -3});
  auto values = DecodePageToken("posts", token, 3);
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(*values, (std::vector<int64_t>{7, 1700000000123456, -3}));
}

TEST(PageToken, RejectsForeignOrDamagedTokens) {
  const std::string token = EncodePageToken("posts", {1, 2, 3});
  EXPECT_EQ(DecodePageToken("users", token, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("posts", token, 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("posts", "not a token!", 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("posts", token.substr(1), 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  const auto violations = FieldViolationsOf(DecodePageToken("posts", "x", 3).status());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "page_token");
}

TEST(PageToken, ResolvesPageSizes) {
  EXPECT_EQ(*ResolvePageSize(0, 20, 100), 20);
  EXPECT_EQ(*ResolvePageSize(7, 20, 100), 7);
  EXPECT_EQ(*ResolvePageSize(100, 20, 100), 100);
  EXPECT_EQ(*ResolvePageSize(101, 20, 100), 100);
  EXPECT_EQ(ResolvePageSize(-1, 20, 100).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace microblog
