#include "common/base/redact.h"

#include <cstddef>

namespace microblog {
namespace {

constexpr char kMask[] = "***";

// Whitespace as the C locale has it.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool IsSchemeChar(char c) {
  return IsAsciiLetter(c) || (c >= '0' && c <= '9') || c == '+' || c == '.' || c == '-';
}

// The end of the run of characters from `from` on for which `in_run` holds.
template <typename InRun>
std::size_t RunEnd(std::string_view text, std::size_t from, InRun in_run) {
  while (from < text.size() && in_run(text[from])) ++from;
  return from;
}

// scheme://user:PASSWORD@ wherever a URI starts in the text: the scheme a
// letter then letters, digits, '+', '.', '-'; the user anything but
// ":/@?" and whitespace; the password anything but "@/?" and whitespace.
std::string RedactUserinfo(std::string_view text) {
  std::string out;
  std::size_t copied = 0;  // text[0, copied) is in `out`
  for (std::size_t sep = text.find("://"); sep != std::string_view::npos;
       sep = text.find("://", sep + 1)) {
    std::size_t scheme = sep;
    while (scheme > copied && IsSchemeChar(text[scheme - 1])) --scheme;
    while (scheme < sep && !IsAsciiLetter(text[scheme])) ++scheme;
    if (scheme == sep) continue;  // no scheme
    const std::size_t user_end = RunEnd(text, sep + 3, [](char c) {
      return c != ':' && c != '/' && c != '@' && c != '?' && !IsSpace(c);
    });
    if (user_end == text.size() || text[user_end] != ':') continue;
    const std::size_t password_end = RunEnd(
        text, user_end + 1, [](char c) { return c != '@' && c != '/' && c != '?' && !IsSpace(c); });
    if (password_end == text.size() || text[password_end] != '@') continue;
    out.append(text.substr(copied, user_end + 1 - copied)).append(kMask);
    copied = password_end;
    sep = password_end;
  }
  return out.append(text.substr(copied));
}

// The end of a quoted value that starts at `open` (a '\''), backslash
// escapes inside; npos when it is not closed.
std::size_t QuotedEnd(std::string_view text, std::size_t open) {
  for (std::size_t i = open + 1; i < text.size(); ++i) {
    if (text[i] == '\'') return i + 1;
    if (text[i] == '\\') {
      // A backslash escapes any character but a line break.
      if (i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r') {
        return std::string_view::npos;
      }
      ++i;
    }
  }
  return std::string_view::npos;
}

bool StartsWithPasswordKey(std::string_view text, std::size_t at) {
  constexpr std::string_view kKey = "password";
  if (text.size() - at < kKey.size()) return false;
  for (std::size_t i = 0; i < kKey.size(); ++i) {
    char c = text[at + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kKey[i]) return false;
  }
  return true;
}

// password=VALUE (any case, spaces around '='), in a URI query or a
// key=value string: a quoted VALUE up to its closing quote, else up to '&'
// or whitespace.
std::string RedactPasswordParams(std::string_view text) {
  std::string out;
  std::size_t copied = 0;
  for (std::size_t at = 0; at < text.size();) {
    if (!StartsWithPasswordKey(text, at)) {
      ++at;
      continue;
    }
    std::size_t value = RunEnd(text, at + 8, IsSpace);
    if (value == text.size() || text[value] != '=') {
      ++at;
      continue;
    }
    value = RunEnd(text, value + 1, IsSpace);
    std::size_t value_end = value < text.size() && text[value] == '\'' ? QuotedEnd(text, value)
                                                                       : std::string_view::npos;
    if (value_end == std::string_view::npos) {
      value_end = RunEnd(text, value, [](char c) { return c != '&' && !IsSpace(c); });
    }
    out.append(text.substr(copied, value - copied)).append(kMask);
    copied = value_end;
    at = value_end;
  }
  return out.append(text.substr(copied));
}

}  // namespace

std::string RedactUrl(std::string_view text) {
  // A linear scan rather than std::regex, whose matcher recurses once per
  // character and overflows the stack on long inputs.
  return RedactPasswordParams(RedactUserinfo(text));
}

}  // namespace microblog
