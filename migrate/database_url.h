// Database URLs as the user gave them: validation, password redaction, and a
// description of where they point, for error messages.
//
// Anything `migrate` prints about a database goes through Redact(), so a
// password never reaches logs, whichever libpq syntax carried it
// (postgresql://user:secret@host/db, ?password=secret, or password=secret).
#ifndef MICROBLOG_MIGRATE_DATABASE_URL_H_
#define MICROBLOG_MIGRATE_DATABASE_URL_H_

#include <string>

namespace microblog {
namespace migrate {

class DatabaseUrl {
 public:
  // Parses `url` with libpq's own parser (PQconninfoParse), so anything libpq
  // accepts is accepted. `source` names where it came from (e.g.
  // "USER_DATABASE_URL") for messages. Throws MigrateError(kUsage) when libpq
  // rejects it, without echoing the password.
  DatabaseUrl(std::string source, std::string url);

  const std::string& source() const { return source_; }
  // The URL verbatim, for connecting. Never print it: use redacted().
  const std::string& url() const { return url_; }
  // The URL with its password replaced by "***".
  std::string redacted() const { return Redact(url_); }
  // "host H port P" / "socket directory D port P", plus database and user:
  // what to check when the connection fails.
  std::string Endpoint() const { return endpoint_; }

  // Replaces the password in `text` (the URL or any message that may quote
  // it, e.g. from libpq) with "***".
  std::string Redact(const std::string& text) const;

 private:
  std::string source_;
  std::string url_;
  std::string password_;
  std::string endpoint_;
};

// Redacts passwords in a string that may not even parse as a URL (used for
// messages about a URL that libpq rejected).
std::string RedactUnparsedUrl(const std::string& url);

// `url` (any libpq syntax) with its database replaced by `database`, as a
// keyword=value connection string. Throws MigrateError(kUsage) when libpq
// cannot parse `url`.
std::string ConninfoWithDatabase(const std::string& url, const std::string& database);

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_DATABASE_URL_H_
