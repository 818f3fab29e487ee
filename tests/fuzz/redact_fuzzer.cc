// Fuzz target: database URLs and password redaction (common/base/redact.h,
// migrate/database_url.h). The first byte picks the mode:
//  - even: the rest is any text, as a URL or a message quoting one.
//    RedactUrl must redact it as the regular expressions it was first
//    written with do (the oracle, for inputs short enough for std::regex);
//    when libpq parses it as a URL with a password, what DatabaseUrl prints
//    (its redacted form, and any message it redacts) must not contain that
//    password.
//  - odd: the rest makes user, password and host of
//    postgresql://USER:PASSWORD@HOST/db, alone and inside a message; RedactUrl
//    must replace exactly the password.
#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>
#include <libpq-fe.h>

#include "common/base/redact.h"
#include "fuzz_support.h"
#include "migrate/database_url.h"
#include "migrate/errors.h"

namespace {

// A URL part of unreserved characters only (nothing RedactUrl's patterns
// treat specially), possibly empty.
std::string UrlPart(FuzzedDataProvider& input) {
  std::string part = input.ConsumeRandomLengthString(24);
  std::string kept;
  for (char c : part) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
        c == '_' || c == '~' || c == '-') {
      kept += c;
    }
  }
  return kept;
}

// RedactUrl as it was first written, with std::regex: the reference for its
// rules. Its matcher recurses per character, so only short texts are given.
constexpr std::size_t kMaxOracleText = 512;
std::string RegexRedactUrl(const std::string& text) {
  static const std::regex kUserinfo(R"(([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?\s]*):[^@/?\s]*@)");
  static const std::regex kParam(R"((password\s*=\s*)('([^'\\]|\\.)*'|[^&\s]*))",
                                 std::regex::icase);
  return std::regex_replace(std::regex_replace(text, kUserinfo, "$1:***@"), kParam, "$1***");
}

// The password libpq reads from `url` ("" when none or when it does not
// parse): the oracle, independent of DatabaseUrl.
std::string PasswordOf(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  PQfreemem(error);
  if (options == nullptr) return "";
  std::string password;
  for (const PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (std::string(option->keyword) == "password" && option->val != nullptr) {
      password = option->val;
    }
  }
  PQconninfoFree(options);
  return password;
}

void CheckAnyText(const std::string& text) {
  const std::string redacted = microblog::RedactUrl(text);
  if (text.size() <= kMaxOracleText) FUZZ_CHECK(redacted == RegexRedactUrl(text));
  try {
    const microblog::migrate::DatabaseUrl url("FUZZ_URL", text);
    // The mask itself is made of '*': a password of '*' and text around a
    // mask could spell it without leaking it.
    const std::string password = PasswordOf(text);
    if (password.empty() || password.find('*') != std::string::npos) return;
    FUZZ_CHECK(url.redacted().find(password) == std::string::npos);
    FUZZ_CHECK(url.Redact("connect to " + text + " failed: " + password).find(password) ==
               std::string::npos);
  } catch (const microblog::migrate::MigrateError&) {
    // libpq refused it: DatabaseUrl's message went through RedactUrl above.
  }
}

void CheckBuiltUrl(FuzzedDataProvider& input) {
  const std::string user = UrlPart(input);
  const std::string password = UrlPart(input);
  const std::string host = UrlPart(input);
  if (password.empty()) return;
  const std::string url = "postgresql://" + user + ":" + password + "@" + host + "/db";
  const std::string expected = "postgresql://" + user + ":***@" + host + "/db";
  FUZZ_CHECK(microblog::RedactUrl(url) == expected);
  FUZZ_CHECK(microblog::RedactUrl("cannot connect to " + url + ": timeout") ==
             "cannot connect to " + expected + ": timeout");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    CheckAnyText(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  } else {
    FuzzedDataProvider input(data + 1, size - 1);
    CheckBuiltUrl(input);
  }
  return 0;
}
