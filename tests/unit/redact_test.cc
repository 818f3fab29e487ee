// RedactUrl (common/base/redact.h): passwords in libpq URLs and keyword strings,
// alone or inside a message, of any length, never reach a log line.
#include "common/base/redact.h"

#include <string>

#include <gtest/gtest.h>

namespace microblog {
namespace {

TEST(Log, RedactsPasswordsInUrls) {
  EXPECT_EQ(RedactUrl("postgresql://app:s3cret@db:5432/users"),
            "postgresql://app:***@db:5432/users");
  EXPECT_EQ(RedactUrl("postgresql:///users?host=/tmp&password=s3cret&user=a"),
            "postgresql:///users?host=/tmp&password=***&user=a");
  EXPECT_EQ(RedactUrl("host=db password=s3cret user=a"), "host=db password=*** user=a");
  EXPECT_EQ(RedactUrl("postgresql://app@db/users"), "postgresql://app@db/users");
  // Inside a message too (libpq and libpqxx errors quote what they were given).
  EXPECT_EQ(RedactUrl("cannot connect to postgresql://app:s3cret@db/users: timeout"),
            "cannot connect to postgresql://app:***@db/users: timeout");
}

TEST(Log, RedactsPasswordsOfAnyLength) {
  // std::regex, which RedactUrl once used, overflowed the stack on these.
  const std::string long_value(1 << 20, 'p');
  EXPECT_EQ(RedactUrl("password=" + long_value + " user=a"), "password=*** user=a");
  EXPECT_EQ(RedactUrl("postgresql://app:" + long_value + "@db/users"),
            "postgresql://app:***@db/users");
  EXPECT_EQ(RedactUrl("password='" + long_value + "' host=db"), "password=*** host=db");
}

}  // namespace
}  // namespace microblog
