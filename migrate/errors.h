// Exit codes of `migrate` and the exception that carries one to main().
//
// Every failure the tool reports is a MigrateError: its message says what went
// wrong and what to do about it, and its code is the process exit code, so
// scripts and Kubernetes can tell a broken migration from a bad flag or an
// unreachable database. The codes are part of the CLI contract (see --help).
#ifndef MICROBLOG_MIGRATE_ERRORS_H_
#define MICROBLOG_MIGRATE_ERRORS_H_

#include <stdexcept>
#include <string>

namespace microblog {
namespace migrate {

enum class ExitCode : int {
  kOk = 0,
  kMigrationFailed = 1,  // a migration's SQL failed (rolled back) or another database error
  kUsage = 2,            // bad flag, command, URL or migrations folder
  kUnreachable = 3,      // cannot connect to a database
  kRefused = 4,  // edited applied migration, database ahead of the files, or wait found it ahead
  kWaitTimeout = 5,  // `wait` gave up
  // `migrate check` (check_command.h); far from the others to leave room.
  kCheckFailed = 10,      // a down file does not restore the schema its up file changed
  kCheckNoCreatedb = 11,  // the role may not create the scratch database
  // Interrupted by SIGINT / SIGTERM after cleaning up: 128 + the signal's
  // number, like a shell (130, 143).
};

class MigrateError : public std::runtime_error {
 public:
  MigrateError(ExitCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}

  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_ERRORS_H_
