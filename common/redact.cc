#include "common/redact.h"

#include <regex>

namespace microblog {

std::string RedactUrl(std::string_view text) {
  // scheme://user:PASSWORD@ wherever a URI starts in the text.
  static const std::regex kUserinfo(R"(([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?\s]*):[^@/?\s]*@)");
  // password=VALUE, in a URI query or a key=value string, quoted or not.
  static const std::regex kParam(R"((password\s*=\s*)('([^'\\]|\\.)*'|[^&\s]*))",
                                 std::regex::icase);
  std::string out = std::regex_replace(std::string(text), kUserinfo, "$1:***@");
  return std::regex_replace(out, kParam, "$1***");
}

}  // namespace microblog
