#include "common/text/unicode_chars.h"

#include <cstdint>

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "absl/strings/str_format.h"

namespace microblog {
namespace text_internal {

std::optional<icu::UnicodeString> FromUtf8(std::string_view utf8) {
  // Decode by hand-checked ICU macros: fromUTF8 would replace bad bytes
  // with U+FFFD instead of failing.
  const auto* bytes = reinterpret_cast<const uint8_t*>(utf8.data());
  const int32_t length = static_cast<int32_t>(utf8.size());
  icu::UnicodeString out;
  for (int32_t i = 0; i < length;) {
    UChar32 c = 0;
    U8_NEXT(bytes, i, length, c);
    if (c < 0 || c == 0) return std::nullopt;
    out.append(c);
  }
  return out;
}

std::string ToUtf8(const icu::UnicodeString& text) {
  std::string out;
  text.toUTF8String(out);
  return out;
}

bool IsInvisibleOrControl(UChar32 c) {
  switch (u_charType(c)) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_SPACE_SEPARATOR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
    case U_UNASSIGNED:
      return true;
    default:
      break;
  }
  return u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) ||
         u_hasBinaryProperty(c, UCHAR_BIDI_CONTROL) || u_hasBinaryProperty(c, UCHAR_WHITE_SPACE) ||
         u_hasBinaryProperty(c, UCHAR_NONCHARACTER_CODE_POINT) ||
         ublock_getCode(c) == UBLOCK_SPECIALS;
}

std::string CodePointName(UChar32 c) { return absl::StrFormat("U+%04X", c); }

}  // namespace text_internal
}  // namespace microblog
