// `migrate check`: proves that every down file undoes its up file.
//
// For each target database it creates a scratch database on the same server
// (the URL's role needs CREATEDB), and there, for every version v from 0 to
// the newest N: takes a SchemaSnapshot at v, applies v+1 up and down again,
// and compares the schema with the snapshot; then it applies v+1 again and
// goes on. Finally it rolls back one version at a time from N to 0 comparing
// with the snapshot of each version, so that a down file is also proven after
// the later migrations have been applied and rolled back, and version 0 must
// equal the empty database. The first difference fails the check
// (MigrateError(kCheckFailed)) naming the down file, the object and its two
// definitions.
//
// Then it builds the declared schema (declared_schema.h) and fails when the
// newest version differs from it (drift), and it fails first on any
// `-- TODO(migrate):` line in a migration file (autogenerate.h).
//
// The scratch databases are dropped at the end: on success, on failure, and
// on SIGINT / SIGTERM (interrupt_guard.h: dropped WITH (FORCE) at once, which
// ends a migration still running; the check then fails with exit code 128 +
// the signal's number).
// Requires PostgreSQL 13 or later (DROP DATABASE ... WITH (FORCE)).
#ifndef MICROBLOG_MIGRATE_CHECK_COMMAND_H_
#define MICROBLOG_MIGRATE_CHECK_COMMAND_H_

#include <ostream>
#include <string>

#include "migrate/options.h"

namespace microblog {
namespace migrate {

// Runs the check on every target of `options`, progress on `out`. Throws
// MigrateError: kCheckFailed (a down file does not restore the schema),
// kCheckNoCreatedb (no CREATEDB), kMigrationFailed (a file fails to apply),
// kUnreachable, kUsage (migration folders), or 128 + signal when interrupted.
void RunCheck(const Options& options, std::ostream& out);

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_CHECK_COMMAND_H_
