#include "common/text/visible_text.h"

#include <cstdint>

#include <unicode/utf8.h>

#include "common/text/unicode_chars.h"

namespace microblog {
namespace {

constexpr UChar32 kBraillePatternBlank = 0x2800;

}  // namespace

bool HasVisibleCharacter(std::string_view utf8) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(utf8.data());
  const int32_t length = static_cast<int32_t>(utf8.size());
  for (int32_t i = 0; i < length;) {
    UChar32 c = 0;
    U8_NEXT(bytes, i, length, c);
    if (c < 0) return false;
    if (c != kBraillePatternBlank && !text_internal::IsInvisibleOrControl(c)) return true;
  }
  return false;
}

}  // namespace microblog
