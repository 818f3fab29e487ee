// Runs a whole migration file on a libpq session and, when it fails, keeps
// everything PostgreSQL said about where and why.
//
// The file is sent as one simple-protocol query (PQexec), so it may hold any
// number of statements and runs inside whatever transaction the caller opened;
// files must not contain BEGIN/COMMIT themselves.
#ifndef MICROBLOG_MIGRATE_SQL_SCRIPT_H_
#define MICROBLOG_MIGRATE_SQL_SCRIPT_H_

#include <libpq-fe.h>

#include <optional>
#include <string>

namespace microblog {
namespace migrate {

struct ScriptError {
  std::string message;   // PostgreSQL's primary message (or libpq's, if no server error)
  std::string sqlstate;  // e.g. "42P01"; empty for client-side failures
  int position = 0;      // 1-based character offset into the script; 0 if unknown
  std::string detail;
  std::string hint;
  std::string context;   // e.g. the PL/pgSQL line for errors inside DO blocks

  // Multi-line human description; `path` names the file, `script` is its
  // text (to turn the position into line:column).
  std::string Describe(const std::string& path, const std::string& script) const;
};

// Executes `script` on `conn` (not owned). Returns the error, or nullopt when
// every statement succeeded.
std::optional<ScriptError> RunScript(PGconn* conn, const std::string& script);

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_SQL_SCRIPT_H_
