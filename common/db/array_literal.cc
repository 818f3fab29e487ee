#include "common/db/array_literal.h"

#include <cstddef>

#include "absl/strings/str_cat.h"

namespace microblog {

std::string BigintArray(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) absl::StrAppend(&out, i == 0 ? "" : ",", ids[i]);
  out += "}";
  return out;
}

std::string TextArray(const std::vector<std::optional<std::string>>& texts) {
  std::string out = "{";
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (i != 0) out += ',';
    if (!texts[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *texts[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += "}";
  return out;
}

}  // namespace microblog
