#include "common/db/database_url.h"

#include <cstddef>

#include <libpq-fe.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace microblog {
namespace {

bool IsUri(absl::string_view url) {
  return absl::StartsWith(url, "postgresql://") || absl::StartsWith(url, "postgres://");
}

// Whether libpq accepts `url` (PQconninfoParse, which connects to nothing).
bool ParsesAsConnectionString(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return false;
  PQconninfoFree(options);
  return true;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseDatabaseUrlList(const std::string& value,
                                                              const std::string& setting) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(value);
  std::vector<std::string> urls;
  if (trimmed.empty()) return urls;
  if (!IsUri(trimmed)) {
    urls.emplace_back(trimmed);  // one keyword/value string
  } else {
    for (absl::string_view url :
         absl::StrSplit(trimmed, absl::ByAnyChar(" \t\n\r\f\v"), absl::SkipEmpty())) {
      if (!IsUri(url)) {
        return absl::InvalidArgumentError(absl::StrCat(
            setting, ": entry ", urls.size() + 1,
            " is not a postgresql:// URI; a list holds URIs separated by whitespace (a "
            "keyword/value string may only stand alone)"));
      }
      urls.emplace_back(url);
    }
  }
  for (std::size_t i = 0; i < urls.size(); ++i) {
    if (!ParsesAsConnectionString(urls[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(setting, ": entry ", i + 1, " is not a valid libpq connection string"));
    }
  }
  return urls;
}

}  // namespace microblog
