// Keeping database passwords out of logs and error messages.
//
//   Log(LogLevel::kInfo, "configured", {{"database", RedactUrl(url)}});
//   std::cerr << "database error: " << RedactUrl(e.what());
//
// A library of its own (microblog_redact, no dependencies) so that the
// `migrate` tool uses the very same rules as the services.
#ifndef MICROBLOG_COMMON_BASE_REDACT_H_
#define MICROBLOG_COMMON_BASE_REDACT_H_

#include <string>
#include <string_view>

namespace microblog {

// `text` with every password replaced by "***": in libpq URIs anywhere in
// the text (postgresql://user:pw@host/db, ?password=pw) and in key=value
// strings (password=pw, password='p w'). Thread-safe.
std::string RedactUrl(std::string_view text);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_REDACT_H_
