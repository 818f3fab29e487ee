// PrepareUsername (common/text/username_profile.h): the username profile
// of issue 24, on RFC 8265's examples, the table and a sample of
// UTS #39's confusables, as ICU 72 answers them.
#include "common/text/username_profile.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace microblog {
namespace {

using ::testing::HasSubstr;

std::string Canonical(const std::string& typed) {
  absl::StatusOr<UsernameForms> forms = PrepareUsername(typed);
  EXPECT_TRUE(forms.ok()) << typed << ": " << forms.status();
  return forms.ok() ? forms->canonical : "<refused>";
}

std::string Skeleton(const std::string& typed) {
  absl::StatusOr<UsernameForms> forms = PrepareUsername(typed);
  EXPECT_TRUE(forms.ok()) << typed << ": " << forms.status();
  return forms.ok() ? forms->skeleton : "<refused>";
}

std::string Refusal(const std::string& typed) {
  absl::StatusOr<UsernameForms> forms = PrepareUsername(typed);
  EXPECT_FALSE(forms.ok()) << typed << " was accepted as " << forms->canonical;
  if (forms.ok()) return "";
  EXPECT_EQ(forms.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(forms.status().message());
}

// RFC 8265 §3.5, Table 3 (UsernameCaseMapped), with this profile's two
// deliberate differences: '@' is not a username character here (a login
// holding '@' is an e-mail address), and case folding maps "ß" to "ss" and
// final sigma to sigma where toLowerCase keeps them.
TEST(UsernameProfile, Rfc8265ExamplesAreAcceptedOrRefusedAsTheRfcSays) {
  EXPECT_EQ(Canonical("fussball"), "fussball");
  EXPECT_EQ(Canonical("fu\xC3\x9F"
                      "ball"),
            "fussball");                         // fußball: folded, stricter
  EXPECT_EQ(Canonical("\xCF\x80"), "\xCF\x80");  // π
  EXPECT_EQ(Canonical("\xCE\xA3"), "\xCF\x83");  // Σ -> σ
  EXPECT_EQ(Canonical("\xCF\x83"), "\xCF\x83");  // σ
  EXPECT_EQ(Canonical("\xCF\x82"), "\xCF\x83");  // ς -> σ (folded, stricter)
  EXPECT_THAT(Refusal("juliet@example.com"), HasSubstr("found U+0040"));  // stricter
  EXPECT_THAT(Refusal("foo bar"), HasSubstr("space"));
  EXPECT_THAT(Refusal(""), HasSubstr("empty"));
  EXPECT_THAT(Refusal("henry\xE2\x85\xA3"), HasSubstr("recommends"));  // henryⅣ
  EXPECT_THAT(Refusal("\xE2\x99\x9A"), HasSubstr("recommends"));       // ♚
  EXPECT_THAT(Refusal("\xC7\x85"), HasSubstr("recommends"));           // ǅ (titlecase)
}

TEST(UsernameProfile, CaseWidthAndCompositionDoNotMakeANewName) {
  EXPECT_EQ(Canonical("\xC3\x89MILE"), Canonical("\xC3\xA9mile"));      // ÉMILE, émile
  EXPECT_EQ(Canonical("e\xCC\x81mile"), Canonical("\xC3\xA9mile"));     // decomposed é
  EXPECT_EQ(Canonical("\xEF\xBD\x81\xEF\xBD\x84\xEF\xBD\x81"), "ada");  // ａｄａ
  EXPECT_EQ(Canonical("\xEF\xBC\xA1\xEF\xBC\xA4\xEF\xBC\xA1"), "ada");  // ＡＤＡ
  EXPECT_EQ(Canonical("\xE2\x84\xAAim"), "kim");                        // KELVIN SIGN
  EXPECT_EQ(Canonical("stra\xC3\x9F"
                      "e"),
            "strasse");
  EXPECT_EQ(Canonical("ADA"), "ada");
  EXPECT_EQ(Canonical("Ada_Lovelace-1815.x"), "ada_lovelace-1815.x");
  EXPECT_EQ(Canonical("\xE5\xB1\xB1\xE7\x94\xB0"), "\xE5\xB1\xB1\xE7\x94\xB0");  // 山田
  EXPECT_EQ(Canonical("\xD0\x96\xD1\x83\xD0\xBA\xD0\xBE\xD0\xB2"),
            "\xD0\xB6\xD1\x83\xD0\xBA\xD0\xBE\xD0\xB2");  // Жуков -> жуков
}

TEST(UsernameProfile, InvisibleAndPunctuationOnlyNamesAreRefused) {
  EXPECT_THAT(Refusal("\xE3\x85\xA4"), HasSubstr("U+3164"));  // HANGUL FILLER
  EXPECT_THAT(Refusal("\xE1\x85\x9F"), HasSubstr("U+115F"));  // CHOSEONG FILLER
  EXPECT_THAT(Refusal("ada\xE3\x85\xA4"), HasSubstr("U+3164"));
  EXPECT_THAT(Refusal("a\xE2\x80\x8B"
                      "da"),
              HasSubstr("U+200B"));  // zero-width space
  EXPECT_THAT(Refusal("\xE2\x80\xAE"
                      "ada"),
              HasSubstr("U+202E"));  // RLO
  EXPECT_THAT(Refusal("a\xC2\xAD"
                      "da"),
              HasSubstr("U+00AD"));  // soft hyphen
  EXPECT_THAT(Refusal("a\x07"), HasSubstr("U+0007"));
  EXPECT_THAT(Refusal("."), HasSubstr("a letter or a digit"));
  EXPECT_THAT(Refusal(".."), HasSubstr("a letter or a digit"));
  EXPECT_THAT(Refusal("-"), HasSubstr("a letter or a digit"));
  EXPECT_THAT(Refusal("\xF0\x9F\x98\x80"), HasSubstr("recommends"));  // emoji
  EXPECT_THAT(Refusal("\xC3"), HasSubstr("UTF-8"));
}

TEST(UsernameProfile, LatinMixedWithCyrillicOrGreekIsRefused) {
  EXPECT_THAT(Refusal("\xD0\xB0"
                      "da"),
              HasSubstr("mixes scripts"));  // Cyrillic а + da
  EXPECT_THAT(Refusal("\xCE\x91"
                      "DA"),
              HasSubstr("mixes scripts"));  // Greek Α + DA
  EXPECT_THAT(Refusal("\xF0\x9D\x90\x9A\xF0\x9D\x90\x9D\xF0\x9D\x90\x9A"),
              HasSubstr("recommends"));  // 𝐚𝐝𝐚 (math bold: a compatibility character)
  EXPECT_THAT(Refusal("a1\xD9\xA1"), HasSubstr("mixes"));  // ASCII and Arabic-Indic digits
  // Moderately restrictive allows Latin with Han and Kana, and with scripts
  // other than Cyrillic and Greek.
  EXPECT_EQ(Canonical("taro\xE5\xB1\xB1\xE7\x94\xB0"), "taro\xE5\xB1\xB1\xE7\x94\xB0");
}

TEST(UsernameProfile, RightToLeftNamesFollowTheBidiRule) {
  EXPECT_EQ(Canonical("\xD7\xA9\xD7\xA8\xD7\x94"), "\xD7\xA9\xD7\xA8\xD7\x94");  // שרה
  EXPECT_EQ(Canonical("\xD7\xA9\xD7\xA8\xD7\x94"
                      "1"),
            "\xD7\xA9\xD7\xA8\xD7\x94"
            "1");
  // Starting with a digit, the RTL name breaks rule 1.
  EXPECT_THAT(Refusal("1\xD7\xA9\xD7\xA8\xD7\x94"), HasSubstr("Bidi Rule"));
}

// A sample of UTS #39's confusables (confusables.txt, through ICU): names
// that look alike share a skeleton, names that do not, do not.
TEST(UsernameProfile, LookAlikesShareASkeleton) {
  EXPECT_EQ(Skeleton("\xD0\xB0\xD1\x81\xD0\xB5"), Skeleton("ace"));  // all-Cyrillic асе
  EXPECT_EQ(Skeleton("\xD1\x80\xD0\xB0\xD1\x83"), Skeleton("pay"));  // all-Cyrillic рау
  EXPECT_EQ(Skeleton("\xCE\xBF\xCE\xBD"), Skeleton("ov"));           // all-Greek ον
  EXPECT_EQ(Skeleton("m"), Skeleton("rn"));  // the cost: "modern" and "modem" collide
  EXPECT_EQ(Skeleton("modem"), Skeleton("modern"));
  EXPECT_EQ(Skeleton("l"), Skeleton("1"));
  EXPECT_NE(Skeleton("ada"), Skeleton("adb"));
  EXPECT_NE(Skeleton("alice"), Skeleton("bob"));
  EXPECT_EQ(Skeleton("ADA"), Skeleton("ada"));
}

}  // namespace
}  // namespace microblog
