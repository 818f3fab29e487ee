// `migrate new NAME --target user|post --autogenerate`: writes the migration
// from the schema the migration files give to the declared schema, like
// `flask db migrate` (alembic's autogenerate).
//
// It builds both schemas in scratch databases on the server of the target's
// URL (the migration files in one, migrations/schema/<db>.sql in the other;
// both dropped again), compares their SchemaSnapshots, prints one
// "Detected ..." line per difference and writes the plan of
// autogenerate.h: NNNN_NAME.up.sql / .down.sql, and NNNN+1_NAME_concurrently
// (no-transaction) when indexes are built or constraints validated. TODOs
// go at the top of the first up file and are printed. When nothing differs
// it prints "No changes in schema detected." and writes nothing.
#ifndef MICROBLOG_MIGRATE_AUTOGENERATE_COMMAND_H_
#define MICROBLOG_MIGRATE_AUTOGENERATE_COMMAND_H_

#include <ostream>

#include "migrate/options.h"

namespace microblog {
namespace migrate {

// Runs it for options.targets.front(), output on `out`. Throws MigrateError:
// kUsage (folders, existing files, unwritable folder, no declared schema),
// kMigrationFailed (a migration or the declared schema fails to apply),
// kCheckNoCreatedb, kUnreachable.
void RunAutogenerate(const Options& options, std::ostream& out);

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_AUTOGENERATE_COMMAND_H_
