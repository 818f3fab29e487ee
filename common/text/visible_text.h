// Whether text shows anything to a person (issue 24, item 4): a post body
// must. "Visible" is decided by ICU's character properties.
//
//   if (!HasVisibleCharacter(body)) -> INVALID_ARGUMENT
//
// Thread-safety: may be called concurrently.
#ifndef MICROBLOG_COMMON_TEXT_VISIBLE_TEXT_H_
#define MICROBLOG_COMMON_TEXT_VISIBLE_TEXT_H_

#include <string_view>

namespace microblog {

// True when `utf8` holds at least one character that is neither invisible
// nor a control by IsInvisibleOrControl (unicode_chars.h: whitespace,
// separators, format and default-ignorable characters such as U+00AD and
// U+3164, ...) and is not U+2800 BRAILLE PATTERN BLANK. U+2800 is the one
// graphic character Unicode defines with no ink (a Braille cell with no
// dots) that no property marks: it is named here, the only exception.
// False for invalid UTF-8.
bool HasVisibleCharacter(std::string_view utf8);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_TEXT_VISIBLE_TEXT_H_
