// The commands of `migrate` (up, down, status, history, wait, new, stamp) across the
// target databases, and RunMigrate(), the whole program minus main().
//
// Order of work, so that nothing changes unless everything checks out: load
// and validate all migration folders, connect to every target database, take
// every lock (always in the same database order, so concurrent runs cannot
// deadlock), read and check every history, validate the requested versions,
// and only then apply.
#ifndef MICROBLOG_MIGRATE_COMMANDS_H_
#define MICROBLOG_MIGRATE_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

#include "migrate/options.h"

namespace microblog {
namespace migrate {

// Runs the command in `options`, reporting progress on `out` (with --json,
// only the JSON document; messages then go to `err`). Throws MigrateError on
// failure.
void RunCommand(const Options& options, std::ostream& out, std::ostream& err);

// Parses `args` (argv without the program name), runs the command, prints
// failures on `err` as "migrate: error: ..." and returns the exit code (see
// ExitCode). Never throws.
int RunMigrate(const std::vector<std::string>& args, const EnvLookup& env, std::ostream& out,
               std::ostream& err);

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_COMMANDS_H_
