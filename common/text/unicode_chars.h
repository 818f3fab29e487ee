// Character-level helpers shared by the text library's files: decoding
// UTF-8 into ICU strings and back, and the ICU properties that make a
// character invisible to a person. Internal to common/text (the services
// use username_profile.h, email_address.h and visible_text.h).
//
// Thread-safety: all functions may be called concurrently.
#ifndef MICROBLOG_COMMON_TEXT_UNICODE_CHARS_H_
#define MICROBLOG_COMMON_TEXT_UNICODE_CHARS_H_

#include <optional>
#include <string>
#include <string_view>

#include <unicode/umachine.h>
#include <unicode/unistr.h>

namespace microblog {
namespace text_internal {

// `utf8` as an ICU string; nullopt when it is not valid UTF-8 (or holds a
// NUL: no stored text can).
std::optional<icu::UnicodeString> FromUtf8(std::string_view utf8);

std::string ToUtf8(const icu::UnicodeString& text);

// True for a character a person cannot see or that changes how the others
// are shown: controls (Cc), format characters (Cf: U+200E, U+202E, U+00AD,
// U+061C, U+180E, ...), Default_Ignorable_Code_Point (U+034F, U+3164,
// U+115F, ...), Bidi_Control, White_Space, separators (Z*), private use,
// unassigned code points, noncharacters and the Specials block (U+FFF0-FFFF:
// U+FFFC, U+FFFD).
bool IsInvisibleOrControl(UChar32 c);

// "U+202E", for messages.
std::string CodePointName(UChar32 c);

}  // namespace text_internal
}  // namespace microblog

#endif  // MICROBLOG_COMMON_TEXT_UNICODE_CHARS_H_
