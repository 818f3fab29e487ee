#include "migrate/text_position.h"

namespace microblog {
namespace migrate {

LineColumn PositionToLineColumn(std::string_view text, int char_position) {
  LineColumn at{1, 1};
  int chars_seen = 0;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    // UTF-8 continuation bytes (10xxxxxx) belong to the previous character.
    if ((byte & 0xC0) == 0x80) continue;
    ++chars_seen;
    if (chars_seen == char_position) return at;
    if (c == '\n') {
      ++at.line;
      at.column = 1;
    } else {
      ++at.column;
    }
  }
  return at;
}

}  // namespace migrate
}  // namespace microblog
