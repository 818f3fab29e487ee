// CountCodePoints (common/utf8.h): text limits count code
// points, and invalid UTF-8 is refused.
#include "common/base/utf8.h"

#include <gtest/gtest.h>

namespace microblog {
namespace {

TEST(Utf8, CountsCodePointsNotBytes) {
  EXPECT_EQ(CountCodePoints(""), 0u);
  EXPECT_EQ(CountCodePoints("abc"), 3u);
  EXPECT_EQ(CountCodePoints("\xC3\xA9t\xC3\xA9"), 3u);         // été
  EXPECT_EQ(CountCodePoints("\xF0\x9F\x98\x80"), 1u);          // U+1F600
  EXPECT_EQ(CountCodePoints("\xE6\x97\xA5\xE6\x9C\xAC"), 2u);  // 日本
}

TEST(Utf8, RejectsInvalidSequences) {
  EXPECT_FALSE(CountCodePoints("\xC3").has_value());              // truncated
  EXPECT_FALSE(CountCodePoints("\xC0\xAF").has_value());          // overlong '/'
  EXPECT_FALSE(CountCodePoints("\xED\xA0\x80").has_value());      // surrogate
  EXPECT_FALSE(CountCodePoints("\xF4\x90\x80\x80").has_value());  // > U+10FFFF
  EXPECT_FALSE(CountCodePoints("\x80").has_value());
}

}  // namespace
}  // namespace microblog
