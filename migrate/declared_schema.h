// The declared schema of a database (migrations/schema/<database>.sql): the
// schema as it should be now, which the migration files must produce.
//
// `migrate check` compares the two (drift is an error, like `alembic
// check`) and `migrate new --autogenerate` writes the migration from one to
// the other; both build each side in a scratch database (scratch_database.h)
// and compare SchemaSnapshots.
//
// The file is plain PostgreSQL DDL, run as one script in one transaction on
// an empty database that already has migrate's history table (so that its
// grants on schema_migrations can be declared).
#ifndef MICROBLOG_MIGRATE_DECLARED_SCHEMA_H_
#define MICROBLOG_MIGRATE_DECLARED_SCHEMA_H_

#include <string>
#include <vector>

#include "migrate/database_url.h"
#include "migrate/migration_files.h"
#include "migrate/options.h"
#include "migrate/schema_snapshot.h"

namespace microblog {
namespace migrate {

// `<migrations_dir>/schema/<database>.sql`.
std::string DeclaredSchemaPath(const std::string& migrations_dir, const std::string& database);

// The schema the declared schema file at `path` creates, built in a scratch
// database on `server`. Throws MigrateError: kUsage (cannot read the file),
// kMigrationFailed (it does not apply, with PostgreSQL's message and line),
// kCheckNoCreatedb, kUnreachable.
SchemaSnapshot SnapshotOfDeclaredSchema(const TargetDatabase& target, const DatabaseUrl& server,
                                        const std::string& path);

// The schema `files` give when all applied, built in a scratch database on
// `server`. Throws like the above.
SchemaSnapshot SnapshotOfMigrations(const TargetDatabase& target, const DatabaseUrl& server,
                                    const std::vector<MigrationFile>& files);

// Why `migrations` does not produce `declared`: the first difference with
// both definitions, and the others' names; "" when they are equal.
std::string DescribeDrift(const SchemaSnapshot& migrations, const SchemaSnapshot& declared);

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_DECLARED_SCHEMA_H_
