// The migration that turns one schema into another, written from two
// SchemaSnapshots: the planner behind `migrate new NAME --autogenerate`
// (autogenerate_command.h runs it on real databases).
//
// Usage:
//   MigrationPlan plan = PlanMigration(current, declared);
//   for (const std::string& line : plan.detected) std::cout << line << "\n";
//   for (const GeneratedMigration& m : plan.migrations) ... write m.up, m.down
//
// What it writes is safe on busy tables by construction, following the rules
// migrations/README.md states and the lint checks:
//   * an index on an existing table: CREATE INDEX CONCURRENTLY IF NOT EXISTS
//     (DROP INDEX CONCURRENTLY IF EXISTS) in a second, no-transaction
//     migration; indexes of a table created by the same migration are plain;
//   * a CHECK or FOREIGN KEY on an existing table: ADD CONSTRAINT ... NOT
//     VALID in the first migration, VALIDATE CONSTRAINT in the second;
//   * UNIQUE / PRIMARY KEY on an existing table: the unique index built
//     CONCURRENTLY, then ADD CONSTRAINT ... USING INDEX;
//   * NOT NULL on an existing column: a CHECK (c IS NOT NULL) NOT VALID, then
//     VALIDATE, SET NOT NULL (which the valid check lets PostgreSQL 12+ do
//     without a scan) and the check dropped;
//   * new columns are added as declared (catalog only for NULL and constant
//     defaults); new tables are written whole, with their constraints inline.
// Every statement of the no-transaction migration is idempotent, so that a
// rerun after a failure goes on where it stopped.
//
// What it cannot do safely it writes as a TODO (MigrationPlan::todos), which
// the writer puts at the top of the first up file and which `migrate check`
// refuses until a person resolves it: a drop of a table or column (breaks
// the previous release unless it is a contract step), what looks like a
// rename (a drop plus an add with the same shape), a column type or
// collation change (a rewrite, and maybe a USING), a NOT NULL column without
// a default on an existing table (needs a backfill first), DROP NOT NULL,
// changed owners, enum and domain changes, kinds it cannot write (rules,
// default privileges, aggregates, composite and range types, serial
// sequences, partitioned or inheriting tables), and grant options.
//
// Each down file undoes exactly its own up file (`migrate check` proves it):
// its statements are the inverses of the up file's, in reverse order.
//
// Thread-safety: a pure function of its arguments.
#ifndef MICROBLOG_MIGRATE_AUTOGENERATE_H_
#define MICROBLOG_MIGRATE_AUTOGENERATE_H_

#include <string>
#include <vector>

#include "migrate/schema_snapshot.h"

namespace microblog {
namespace migrate {

// The marker of an unresolved TODO line in a migration file; `migrate check`
// fails on any line that starts with it.
inline constexpr char kTodoMarker[] = "-- TODO(migrate):";

// One migration of a plan: one up file and one down file.
struct GeneratedMigration {
  std::string name_suffix;  // appended to NAME ("" or "_concurrently")
  bool no_transaction = false;
  std::vector<std::string> up;    // statements in order, each maybe with comment lines
  std::vector<std::string> down;  // statements in order (the inverses, reversed)
};

struct MigrationPlan {
  // One line per difference, as alembic prints them ("Detected added column
  // 'public.posts.edited_at'").
  std::vector<std::string> detected;
  // What a person must resolve (see above), one sentence each.
  std::vector<std::string> todos;
  // The non-empty migrations, in the order they are to be applied.
  std::vector<GeneratedMigration> migrations;

  bool empty() const { return detected.empty(); }
};

// The migrations that turn `current` (the schema the migration files give)
// into `declared` (the declared schema).
MigrationPlan PlanMigration(const SchemaSnapshot& current, const SchemaSnapshot& declared);

}  // namespace migrate
}  // namespace microblog

#endif  // MICROBLOG_MIGRATE_AUTOGENERATE_H_
