// Character counting for length limits. PostgreSQL's varchar(n) counts
// characters (Unicode code points), not bytes, so the services validate with
// the same measure before any query.
#ifndef MICROBLOG_COMMON_BASE_UTF8_H_
#define MICROBLOG_COMMON_BASE_UTF8_H_

#include <cstddef>
#include <optional>
#include <string_view>

namespace microblog {

// Number of code points in `text`, or nullopt when it is not valid UTF-8
// (overlong forms, surrogates and values above U+10FFFF are invalid).
std::optional<std::size_t> CountCodePoints(std::string_view text);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_UTF8_H_
