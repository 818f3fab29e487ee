#include "common/text/username_profile.h"

#include <memory>
#include <optional>
#include <string>

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uniset.h>
#include <unicode/uspoof.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/text/unicode_chars.h"

namespace microblog {
namespace {

using text_internal::CodePointName;
using text_internal::IsInvisibleOrControl;

// The ICU objects of the profile, built once (ICU's data is in the
// library: building cannot fail on a working install, and a failure is a
// broken install, reported by every call).
struct Profile {
  const icu::Normalizer2* nfc = nullptr;
  const icu::Normalizer2* nfkc = nullptr;
  icu::UnicodeSet allowed;         // step 5's characters (canonical forms)
  USpoofChecker* spoof = nullptr;  // step 6, and skeletons
  bool ok = false;
};

const Profile& TheProfile() {
  static const Profile* const profile = [] {
    auto* p = new Profile;
    UErrorCode status = U_ZERO_ERROR;
    p->nfc = icu::Normalizer2::getNFCInstance(status);
    p->nfkc = icu::Normalizer2::getNFKCInstance(status);
    const icu::UnicodeSet* recommended = uspoof_getRecommendedUnicodeSet(&status);
    icu::UnicodeSet categories(icu::UnicodeString(u"[[:Ll:][:Lu:][:Lo:][:Lm:][:Mn:][:Mc:][:Nd:]]"),
                               status);
    if (U_SUCCESS(status)) {
      p->allowed.addAll(*recommended);  // a thawed copy: the source is frozen
      p->allowed.retainAll(categories);
      p->allowed.add(u'.').add(u'_').add(u'-');
      p->allowed.freeze();
    }
    p->spoof = uspoof_open(&status);
    uspoof_setChecks(p->spoof, USPOOF_RESTRICTION_LEVEL | USPOOF_MIXED_NUMBERS | USPOOF_INVISIBLE,
                     &status);
    uspoof_setRestrictionLevel(p->spoof, USPOOF_MODERATELY_RESTRICTIVE);
    p->ok = U_SUCCESS(status);
    return p;
  }();
  return *profile;
}

absl::Status Refused(const std::string& why) { return absl::InvalidArgumentError(why); }

// Step 1: fullwidth and halfwidth characters to their decomposition.
icu::UnicodeString MapWidth(const icu::UnicodeString& text, const icu::Normalizer2& nfkc) {
  icu::UnicodeString out;
  for (int32_t i = 0; i < text.length();) {
    const UChar32 c = text.char32At(i);
    i += U16_LENGTH(c);
    const auto type =
        static_cast<UDecompositionType>(u_getIntPropertyValue(c, UCHAR_DECOMPOSITION_TYPE));
    icu::UnicodeString mapped;
    if ((type == U_DT_WIDE || type == U_DT_NARROW) && nfkc.getDecomposition(c, mapped)) {
      out.append(mapped);
    } else {
      out.append(c);
    }
  }
  return out;
}

// Step 4: RFC 5893 §2. A name with a right-to-left character (bidi class
// R, AL or AN) is an RTL label and must satisfy rules 1-3 and 5-6
// (rule 4: no EN and AN together); any other name rules 1 and 5-6 (left to
// right), which step 5's characters always do.
bool SatisfiesBidiRule(const icu::UnicodeString& text) {
  bool rtl = false;
  for (int32_t i = 0; i < text.length(); i += U16_LENGTH(text.char32At(i))) {
    const UCharDirection d = u_charDirection(text.char32At(i));
    if (d == U_RIGHT_TO_LEFT || d == U_RIGHT_TO_LEFT_ARABIC || d == U_ARABIC_NUMBER) rtl = true;
  }
  if (!rtl) return true;
  const UCharDirection first = u_charDirection(text.char32At(0));
  if (first != U_RIGHT_TO_LEFT && first != U_RIGHT_TO_LEFT_ARABIC) return false;  // rule 1
  bool has_en = false;
  bool has_an = false;
  UCharDirection last_not_nsm = first;
  for (int32_t i = 0; i < text.length(); i += U16_LENGTH(text.char32At(i))) {
    const UCharDirection d = u_charDirection(text.char32At(i));
    switch (d) {  // rule 2: only these in an RTL label
      case U_RIGHT_TO_LEFT:
      case U_RIGHT_TO_LEFT_ARABIC:
      case U_ARABIC_NUMBER:
      case U_EUROPEAN_NUMBER:
      case U_EUROPEAN_NUMBER_SEPARATOR:
      case U_COMMON_NUMBER_SEPARATOR:
      case U_EUROPEAN_NUMBER_TERMINATOR:
      case U_OTHER_NEUTRAL:
      case U_BOUNDARY_NEUTRAL:
      case U_DIR_NON_SPACING_MARK:
        break;
      default:
        return false;
    }
    has_en = has_en || d == U_EUROPEAN_NUMBER;
    has_an = has_an || d == U_ARABIC_NUMBER;
    if (d != U_DIR_NON_SPACING_MARK) last_not_nsm = d;
  }
  if (has_en && has_an) return false;  // rule 4
  // rule 3: ends with R, AL, EN or AN, then any NSM.
  return last_not_nsm == U_RIGHT_TO_LEFT || last_not_nsm == U_RIGHT_TO_LEFT_ARABIC ||
         last_not_nsm == U_EUROPEAN_NUMBER || last_not_nsm == U_ARABIC_NUMBER;
}

}  // namespace

absl::StatusOr<UsernameForms> PrepareUsername(std::string_view typed) {
  const Profile& profile = TheProfile();
  if (!profile.ok) return absl::InternalError("ICU's username profile data did not load");
  const std::optional<icu::UnicodeString> decoded = text_internal::FromUtf8(typed);
  if (!decoded.has_value()) return Refused("must be valid UTF-8");
  // Invisible characters are named as typed, before any mapping could hide
  // them.
  for (int32_t i = 0; i < decoded->length(); i += U16_LENGTH(decoded->char32At(i))) {
    const UChar32 c = decoded->char32At(i);
    if (IsInvisibleOrControl(c)) {
      return Refused(absl::StrCat(
          "must not contain invisible, control, formatting or space characters (found ",
          CodePointName(c), ")"));
    }
  }
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString canonical = MapWidth(*decoded, *profile.nfkc);
  canonical.foldCase(U_FOLD_CASE_DEFAULT);
  canonical = profile.nfc->normalize(canonical, status);
  if (U_FAILURE(status)) return absl::InternalError("NFC normalization failed");
  if (canonical.isEmpty()) return Refused("must not be empty");

  bool letter_or_digit = false;
  for (int32_t i = 0; i < canonical.length(); i += U16_LENGTH(canonical.char32At(i))) {
    const UChar32 c = canonical.char32At(i);
    if (!profile.allowed.contains(c)) {
      return Refused(absl::StrCat(
          "may contain only letters, digits, '.', '_' and '-' that Unicode recommends for "
          "identifiers (UTS #39); found ",
          CodePointName(c)));
    }
    letter_or_digit = letter_or_digit || u_isalpha(c) || u_isdigit(c);
  }
  if (!letter_or_digit) return Refused("must contain a letter or a digit");
  if (!SatisfiesBidiRule(canonical)) {
    return Refused(
        "mixes right-to-left and left-to-right text in a way that can display "
        "misleadingly (RFC 5893's Bidi Rule)");
  }
  const int32_t spoof_checks =
      uspoof_check2UnicodeString(profile.spoof, canonical, nullptr, &status);
  if (U_FAILURE(status)) return absl::InternalError("the spoof check failed");
  if (spoof_checks & USPOOF_RESTRICTION_LEVEL) {
    return Refused(
        "mixes scripts that are not written together (UTS #39 moderately restrictive: "
        "e.g. Latin with Cyrillic or Greek)");
  }
  if (spoof_checks & USPOOF_MIXED_NUMBERS) {
    return Refused("mixes digits of different numbering systems");
  }
  if (spoof_checks & USPOOF_INVISIBLE) return Refused("repeats a combining mark");
  if (spoof_checks != 0) return Refused("fails a UTS #39 identifier check");

  icu::UnicodeString skeleton;
  uspoof_getSkeletonUnicodeString(profile.spoof, 0, canonical, skeleton, &status);
  if (U_FAILURE(status)) return absl::InternalError("the confusable skeleton failed");
  return UsernameForms{text_internal::ToUtf8(canonical), text_internal::ToUtf8(skeleton)};
}

}  // namespace microblog
