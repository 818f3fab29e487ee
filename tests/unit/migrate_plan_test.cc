// The planner of `migrate new --autogenerate` (migrate/autogenerate.h) on
// hand-built snapshots: which migration a statement goes to, that each down
// file is its up file's inverse in reverse order, and what becomes a TODO.
// The same planner on real databases: tests/e2e/migrate_autogenerate_test.cc.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "migrate/autogenerate.h"
#include "migrate/schema_snapshot.h"

namespace microblog {
namespace migrate {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// A snapshot with table public.t (columns id, body) as SchemaSnapshot::Take
// reads it.
SchemaSnapshot Base() {
  SchemaSnapshot s;
  s.Add("table", "public.t", "table, owner o",
        {{"create", "CREATE TABLE public.t"}, {"drop", "DROP TABLE public.t"}, {"plain", "t"}});
  s.Add("column", "public.t.id", "bigint NOT NULL",
        {{"table", "public.t"},
         {"relkind", "r"},
         {"sql_table", "public.t"},
         {"sql_name", "id"},
         {"type", "bigint"},
         {"not_null", "t"},
         {"ddl", "id bigint NOT NULL"},
         {"position", "00001"}});
  s.Add("column", "public.t.body", "text NULL",
        {{"table", "public.t"},
         {"relkind", "r"},
         {"sql_table", "public.t"},
         {"sql_name", "body"},
         {"type", "text"},
         {"not_null", "f"},
         {"ddl", "body text"},
         {"position", "00002"}});
  return s;
}

void AddColumn(SchemaSnapshot& s, const std::string& name, const std::string& ddl,
               bool not_null = false, const std::string& default_value = "") {
  s.Add("column", "public.t." + name, ddl,
        {{"table", "public.t"},
         {"relkind", "r"},
         {"sql_table", "public.t"},
         {"sql_name", name},
         {"type", "text"},
         {"not_null", not_null ? "t" : "f"},
         {"default", default_value},
         {"ddl", ddl},
         {"position", "00003"}});
}

TEST(MigratePlanTest, EqualSnapshotsGiveAnEmptyPlan) {
  const MigrationPlan plan = PlanMigration(Base(), Base());
  EXPECT_TRUE(plan.empty());
  EXPECT_THAT(plan.migrations, IsEmpty());
}

TEST(MigratePlanTest, IndexOnAnExistingTableGoesToASecondNoTransactionMigration) {
  SchemaSnapshot declared = Base();
  AddColumn(declared, "note", "note text");
  declared.Add("index", "public.t_body_idx", "CREATE INDEX t_body_idx ON public.t (body)",
               {{"table", "public.t"},
                {"sql_name", "public.t_body_idx"},
                {"create", "CREATE INDEX t_body_idx ON public.t USING btree (body)"},
                {"constraint", "f"}});
  const MigrationPlan plan = PlanMigration(Base(), declared);
  EXPECT_THAT(plan.detected, ElementsAre("Detected added column 'public.t.note'",
                                         "Detected added index 'public.t_body_idx'"));
  ASSERT_THAT(plan.migrations, SizeIs(2));
  EXPECT_FALSE(plan.migrations[0].no_transaction);
  EXPECT_EQ(plan.migrations[0].name_suffix, "");
  EXPECT_THAT(plan.migrations[0].up, ElementsAre("ALTER TABLE public.t ADD COLUMN note text"));
  ASSERT_THAT(plan.migrations[0].down, SizeIs(1));
  EXPECT_THAT(plan.migrations[0].down[0], HasSubstr("ALTER TABLE public.t DROP COLUMN note"));
  EXPECT_TRUE(plan.migrations[1].no_transaction);
  EXPECT_EQ(plan.migrations[1].name_suffix, "_concurrently");
  EXPECT_THAT(plan.migrations[1].up,
              ElementsAre("CREATE INDEX CONCURRENTLY IF NOT EXISTS t_body_idx ON public.t USING "
                          "btree (body)"));
  EXPECT_THAT(plan.migrations[1].down,
              ElementsAre("DROP INDEX CONCURRENTLY IF EXISTS public.t_body_idx"));
  EXPECT_THAT(plan.todos, IsEmpty());
}

TEST(MigratePlanTest, DownFileRunsTheInversesInReverseOrder) {
  SchemaSnapshot declared = Base();
  AddColumn(declared, "note", "note text DEFAULT 'x'::text", false, "'x'::text");
  declared.Add("grant", "table public.t", "o=arwdDxt/o svc=r/o",
               {{"sql_object", "TABLE public.t"}, {"default_acl", "o=arwdDxt/o"}});
  const MigrationPlan plan = PlanMigration(Base(), declared);
  ASSERT_THAT(plan.migrations, SizeIs(1));
  const GeneratedMigration& m = plan.migrations[0];
  ASSERT_THAT(m.up, SizeIs(2));
  EXPECT_EQ(m.up[0], "ALTER TABLE public.t ADD COLUMN note text DEFAULT 'x'::text");
  EXPECT_THAT(m.up[1], HasSubstr("GRANT SELECT ON TABLE public.t TO svc"));
  EXPECT_THAT(m.up[1], HasSubstr("WHERE rolname = 'svc'"));  // only where the role exists
  ASSERT_THAT(m.down, SizeIs(2));
  EXPECT_THAT(m.down[0], HasSubstr("REVOKE SELECT ON TABLE public.t FROM svc"));
  EXPECT_THAT(m.down[1], HasSubstr("DROP COLUMN note"));
}

TEST(MigratePlanTest, RevokesComeBeforeGrantsOnAnExistingObject) {
  SchemaSnapshot current = Base();
  current.Add("grant", "table public.t", "o=arwdDxt/o svc=rw/o",
              {{"sql_object", "TABLE public.t"}, {"default_acl", "o=arwdDxt/o"}});
  SchemaSnapshot declared = Base();
  declared.Add("grant", "table public.t", "o=arwdDxt/o svc=r/o",
               {{"sql_object", "TABLE public.t"}, {"default_acl", "o=arwdDxt/o"}});
  declared.Add("grant", "column public.t.body", "svc=w/o",
               {{"sql_object", "TABLE public.t"}, {"sql_column", "body"}});
  const MigrationPlan plan = PlanMigration(current, declared);
  ASSERT_THAT(plan.migrations, SizeIs(1));
  ASSERT_THAT(plan.migrations[0].up, SizeIs(2));
  // A table's REVOKE also takes the column privilege: it goes first.
  EXPECT_THAT(plan.migrations[0].up[0], HasSubstr("REVOKE UPDATE ON TABLE public.t FROM svc"));
  EXPECT_THAT(plan.migrations[0].up[1], HasSubstr("GRANT UPDATE (body) ON TABLE public.t TO svc"));
}

TEST(MigratePlanTest, NotNullWithoutDefaultIsAddedNullableWithATodo) {
  SchemaSnapshot declared = Base();
  AddColumn(declared, "note", "note text NOT NULL", /*not_null=*/true);
  const MigrationPlan plan = PlanMigration(Base(), declared);
  ASSERT_THAT(plan.migrations, SizeIs(1));
  EXPECT_THAT(plan.migrations[0].up, ElementsAre("ALTER TABLE public.t ADD COLUMN note text"));
  ASSERT_THAT(plan.todos, SizeIs(1));
  EXPECT_THAT(plan.todos[0], HasSubstr("NOT NULL without a default"));
}

TEST(MigratePlanTest, DroppedAndAddedColumnOfOneTypeIsAPossibleRename) {
  const SchemaSnapshot base = Base();
  SchemaSnapshot declared;
  for (const auto& [key, object] : base.entries()) {
    if (key.name != "public.t.body") {
      declared.Add(key.kind, key.name, object.definition, object.details);
    }
  }
  AddColumn(declared, "content", "content text");
  const MigrationPlan plan = PlanMigration(base, declared);
  ASSERT_THAT(plan.todos, SizeIs(2));
  EXPECT_THAT(plan.todos[0], HasSubstr("column public.t.body is dropped"));
  EXPECT_THAT(plan.todos[1], HasSubstr("if this is a rename"));
  ASSERT_THAT(plan.migrations, SizeIs(1));
  EXPECT_THAT(plan.migrations[0].up, ElementsAre("ALTER TABLE public.t DROP COLUMN body",
                                                 "ALTER TABLE public.t ADD COLUMN content text"));
}

TEST(MigratePlanTest, NewTableIsWrittenWholeWithItsColumnsInOrder) {
  SchemaSnapshot current;
  const MigrationPlan plan = PlanMigration(current, Base());
  ASSERT_THAT(plan.migrations, SizeIs(1));
  EXPECT_THAT(plan.migrations[0].up,
              ElementsAre("CREATE TABLE public.t (\n  id bigint NOT NULL,\n  body text\n)"));
  ASSERT_THAT(plan.migrations[0].down, SizeIs(1));
  EXPECT_THAT(plan.migrations[0].down[0], HasSubstr("DROP TABLE public.t"));
  EXPECT_THAT(plan.todos, IsEmpty());
}

TEST(MigratePlanTest, KindsItCannotWriteAreTodos) {
  SchemaSnapshot declared = Base();
  declared.Add("rule", "public.t.r", "CREATE RULE r AS ...");
  const MigrationPlan plan = PlanMigration(Base(), declared);
  ASSERT_THAT(plan.todos, SizeIs(1));
  EXPECT_THAT(plan.todos[0], HasSubstr("rule public.t.r added: migrate cannot write"));
}

}  // namespace
}  // namespace migrate
}  // namespace microblog
