// Runs a whole migration file on a libpq session and, when it fails, keeps
// everything PostgreSQL said about where and why.
//
// The file is sent as one simple-protocol query (PQexec), so it may hold any
// number of statements and runs inside whatever transaction the caller opened;
// files must not contain BEGIN/COMMIT themselves.
#ifndef MICROBLOG_MIGRATE_SQL_SCRIPT_H_
#define MICROBLOG_MIGRATE_SQL_SCRIPT_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <libpq-fe.h>

namespace microblog {
namespace migrate {

struct ScriptError {
  std::string message;   // PostgreSQL's primary message (or libpq's, if no server error)
  std::string sqlstate;  // e.g. "42P01"; empty for client-side failures
  int position = 0;      // 1-based character offset into the script; 0 if unknown
  std::string detail;
  std::string hint;
  std::string context;  // e.g. the PL/pgSQL line for errors inside DO blocks

  // Multi-line human description; `path` names the file, `script` is its
  // text (to turn the position into line:column).
  std::string Describe(const std::string& path, const std::string& script) const;
};

// Executes `script` on `conn` (not owned). Returns the error, or nullopt when
// every statement succeeded.
std::optional<ScriptError> RunScript(PGconn* conn, const std::string& script);

// Like RunScript, but calls `while_running` every `interval` until the server
// answers (e.g. to ask another session who blocks this one).
std::optional<ScriptError> RunScript(PGconn* conn, const std::string& script,
                                     const std::function<void()>& while_running,
                                     std::chrono::milliseconds interval);

// The first line of a file that must run outside a transaction.
constexpr char kNoTransactionMarker[] = "-- migrate:no-transaction";

// True when the first line of `script` is kNoTransactionMarker (trailing
// blanks and a CR allowed).
bool IsNoTransaction(const std::string& script);

// One statement of a script, for files run statement by statement.
struct Statement {
  std::string text;     // without the terminating semicolon
  int char_offset = 0;  // characters of the script before `text`
  int number = 0;       // 1-based
};

// Splits `script` at semicolons outside '...', E'...', "...", $tag$...$tag$,
// -- and /* */ comments; leading blanks and comments are skipped and
// statements that are only blanks and comments are dropped. (Not for
// BEGIN ATOMIC function bodies.)
std::vector<Statement> SplitStatements(const std::string& script);

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_SQL_SCRIPT_H_
