// libpq connection strings in settings: the list of read replicas a
// service is given (USER_DATABASE_READ_URL, POST_DATABASE_READ_URL).
//
// Thread-safety: free functions without shared state.
#ifndef MICROBLOG_COMMON_DB_DATABASE_URL_H_
#define MICROBLOG_COMMON_DB_DATABASE_URL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace microblog {

// The libpq URLs of a list setting such as USER_DATABASE_READ_URL: empty
// for an empty (or blank) value; several `postgresql://` (or `postgres://`)
// URIs separated by whitespace, which a URI cannot hold unencoded; or one
// libpq keyword/value string ("host=... dbname=..."), which holds spaces
// itself and so cannot be part of a list. INVALID_ARGUMENT naming `setting`
// (never the URL, which may hold a password) when an entry is not a valid
// libpq connection string, or a keyword/value string sits among URIs.
absl::StatusOr<std::vector<std::string>> ParseDatabaseUrlList(const std::string& value,
                                                              const std::string& setting);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_DB_DATABASE_URL_H_
