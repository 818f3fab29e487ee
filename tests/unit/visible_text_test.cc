// HasVisibleCharacter (common/text/visible_text.h): a post body must show
// something to a person (issue 24, item 4).
#include "common/text/visible_text.h"

#include <gtest/gtest.h>

namespace microblog {
namespace {

TEST(VisibleText, TextWithOneVisibleCharacterIsVisible) {
  EXPECT_TRUE(HasVisibleCharacter("a"));
  EXPECT_TRUE(HasVisibleCharacter("  hello  "));
  EXPECT_TRUE(HasVisibleCharacter("\xC3\xA9"));          // é
  EXPECT_TRUE(HasVisibleCharacter("\xF0\x9F\x98\x80"));  // 😀
  EXPECT_TRUE(
      HasVisibleCharacter("\xE3\x85\xA4"
                          "x"));                     // U+3164 then x
  EXPECT_TRUE(HasVisibleCharacter("\xE2\xA0\x81"));  // U+2801 (one dot)
  EXPECT_TRUE(HasVisibleCharacter("\xD8\xA7"));      // Arabic alef
}

TEST(VisibleText, SpacesInvisibleAndFormatCharactersAloneAreBlank) {
  EXPECT_FALSE(HasVisibleCharacter(""));
  EXPECT_FALSE(HasVisibleCharacter(" \t\n\r"));
  EXPECT_FALSE(HasVisibleCharacter("\xE3\x80\x80\xC2\xA0"));      // ideographic space, NBSP
  EXPECT_FALSE(HasVisibleCharacter("\xE3\x85\xA4"));              // U+3164 HANGUL FILLER
  EXPECT_FALSE(HasVisibleCharacter("\xE2\xA0\x80"));              // U+2800 BRAILLE BLANK
  EXPECT_FALSE(HasVisibleCharacter("\xC2\xAD"));                  // U+00AD SOFT HYPHEN
  EXPECT_FALSE(HasVisibleCharacter("\xE2\x80\x8B\xE2\x80\x8D"));  // ZWSP, ZWJ
  EXPECT_FALSE(HasVisibleCharacter("\xE2\x80\xAE\xE2\x80\x8E"));  // RLO, LRM
  EXPECT_FALSE(HasVisibleCharacter("\xE1\x85\x9F\xE1\x85\xA0"));  // U+115F, U+1160
  EXPECT_FALSE(HasVisibleCharacter("\xEF\xBE\xA0"));              // U+FFA0 halfwidth filler
  EXPECT_FALSE(HasVisibleCharacter("\xE1\xA0\x8E"));              // U+180E
  EXPECT_FALSE(HasVisibleCharacter("\xEF\xBB\xBF"));              // BOM
  EXPECT_FALSE(HasVisibleCharacter("\xEF\xBF\xBC"));              // U+FFFC
}

TEST(VisibleText, InvalidUtf8IsNotVisible) { EXPECT_FALSE(HasVisibleCharacter("\xC3")); }

}  // namespace
}  // namespace microblog
