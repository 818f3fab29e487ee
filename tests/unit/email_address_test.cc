// EmailComparisonKey (common/text/email_address.h): one account per
// mailbox as people read it (issue 24, item 3).
#include "common/text/email_address.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace microblog {
namespace {

using ::testing::HasSubstr;

std::string Key(const std::string& typed) {
  absl::StatusOr<std::string> key = EmailComparisonKey(typed);
  EXPECT_TRUE(key.ok()) << typed << ": " << key.status();
  return key.ok() ? *key : "<refused>";
}

std::string Refusal(const std::string& typed) {
  absl::StatusOr<std::string> key = EmailComparisonKey(typed);
  EXPECT_FALSE(key.ok()) << typed << " was accepted as " << *key;
  return key.ok() ? "" : std::string(key.status().message());
}

TEST(EmailAddress, LocalPartIsComparedAfterNfcAndCaseFolding) {
  EXPECT_EQ(Key("Ada@Example.COM"), "ada@example.com");
  EXPECT_EQ(Key("\xC3\x89MILE@example.com"), Key("\xC3\xA9mile@example.com"));   // ÉMILE, émile
  EXPECT_EQ(Key("e\xCC\x81mile@example.com"), Key("\xC3\xA9mile@example.com"));  // decomposed
  EXPECT_EQ(Key("stra\xC3\x9F"
                "e@example.com"),
            "strasse@example.com");
  // Provider rules are not guessed: dots and tags stay.
  EXPECT_NE(Key("a.da+x@example.com"), Key("ada@example.com"));
}

TEST(EmailAddress, DomainIsComparedAsIdna) {
  EXPECT_EQ(Key("a@\xC3\xA9"
                "cole.fr"),
            "a@xn--cole-9oa.fr");  // école.fr
  EXPECT_EQ(Key("a@\xC3\x89"
                "COLE.FR"),
            "a@xn--cole-9oa.fr");  // ÉCOLE.FR
  EXPECT_EQ(Key("a@xn--cole-9oa.fr"), "a@xn--cole-9oa.fr");
  EXPECT_EQ(Key("a@\xEF\xBD\x85xample.com"), "a@example.com");  // fullwidth ｅ
  EXPECT_THAT(Refusal("a@exa_mple.com"), HasSubstr("IDNA"));
  EXPECT_THAT(Refusal("a@-example.com"), HasSubstr("IDNA"));
}

TEST(EmailAddress, InvisibleControlAndFormatCharactersAreRefused) {
  for (const char* bad : {"\xE2\x80\xAE", "\xE2\x80\x8E", "\xC2\xAD", "\xE1\xA0\x8E", "\xD8\x9C",
                          "\xCD\x8F", "\xEF\xBF\xBC", "\xE2\x80\x8B", " ", "\x01"}) {
    EXPECT_THAT(Refusal(std::string("ad") + bad + "a@example.com"), HasSubstr("invisible"))
        << "in the local part";
    EXPECT_THAT(Refusal(std::string("ada@exam") + bad + "ple.com"), HasSubstr("invisible"))
        << "in the domain";
  }
}

TEST(EmailAddress, AnAddressWithoutBothSidesIsRefused) {
  EXPECT_THAT(Refusal("ada"), HasSubstr("local@domain"));
  EXPECT_THAT(Refusal("@example.com"), HasSubstr("local@domain"));
  EXPECT_THAT(Refusal("ada@"), HasSubstr("local@domain"));
  EXPECT_THAT(Refusal("\xC3"), HasSubstr("UTF-8"));
}

}  // namespace
}  // namespace microblog
