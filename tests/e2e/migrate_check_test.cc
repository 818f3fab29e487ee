// Tests of `migrate check` (migrate/check_command.h) through the real binary
// against a real PostgreSQL cluster: the project's migrations pass; broken
// down files fail with exit code 10 naming the file, the object and both
// definitions; the scratch database is always dropped (also on SIGINT and
// SIGTERM); a role without CREATEDB gets exit code 11.
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "support/child_process.h"
#include "support/eventually.h"
#include "support/migrations_dir.h"
#include "support/pg_cluster.h"
#include "support/shared_cluster.h"

namespace microblog {
namespace test_support {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr std::chrono::seconds kRunTimeout(90);
const std::string kRealMigrations = std::string(MICROBLOG_SOURCE_DIR) + "/migrations";

class MigrateCheckTest : public ::testing::Test {
 protected:
  // The binary's PostgreSQL cluster, shared by its tests.
  static PgCluster& pg() { return SharedCluster(); }

  static void SetUpTestSuite() {
    // The roles the project's migrations grant to, and one for the tests.
    pg().Exec("postgres",
              "CREATE ROLE user_service LOGIN; CREATE ROLE post_service LOGIN;"
              "CREATE ROLE check_reader LOGIN; CREATE ROLE no_createdb LOGIN;");
  }

  void SetUp() override {
    std::string test_name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::transform(test_name.begin(), test_name.end(), test_name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    user_db_ = "u_" + test_name;
    user_url_ = pg().CreateDatabase(user_db_);
    post_url_ = pg().CreateDatabase("p_" + test_name);
  }
  void TearDown() override {
    // Whatever happened, no scratch database is left behind.
    EXPECT_EQ(ScratchDatabases(), "");
  }

  EnvVars Env() const {
    return {
        {"USER_DATABASE_URL", user_url_}, {"POST_DATABASE_URL", post_url_}, {"MIGRATIONS_DIR", ""}};
  }
  RunResult Check(const std::string& migrations_dir, EnvVars env = {}) {
    EnvVars full = Env();
    for (const auto& [key, value] : env) full[key] = value;
    return RunToCompletion(MIGRATE_BIN,
                           {"check", "--target", "user", "--migrations-dir", migrations_dir}, full,
                           kRunTimeout);
  }

  static std::string Query(const std::string& sql) {
    pqxx::connection conn(pg().SuperuserUrl());
    pqxx::nontransaction tx(conn);
    pqxx::row row = tx.exec1(sql);
    return row[0].is_null() ? "" : row[0].as<std::string>();
  }
  // Names of the databases `migrate check` creates, comma-separated.
  static std::string ScratchDatabases() {
    return Query(
        "SELECT string_agg(datname, ',') FROM pg_database"
        " WHERE datname LIKE 'migrate\\_%'");
  }

  std::string user_db_, user_url_, post_url_;
};

// The test command proves the project's own down files: every version of
// both databases, with the services' roles present so that the grants are
// exercised too.
TEST_F(MigrateCheckTest, ProjectMigrationsPass) {
  RunResult check = RunToCompletion(MIGRATE_BIN, {"check", "--migrations-dir", kRealMigrations},
                                    Env(), kRunTimeout);
  ASSERT_EQ(check.exit_code, 0) << check.output;
  for (const std::string& text : std::vector<std::string>{
           "user: 0001_create_users: up, down, up: the down file restores version 0",
           "user: 0003_user_events: up, down, up: the down file restores version 2",
           "post: 0003_user_tombstones: up, down, up: the down file restores version 2",
           "version 0 equals the empty database",
           "user: version 6 equals the declared schema " + kRealMigrations + "/schema/user.sql",
           "post: version 4 equals the declared schema", "user: check passed",
           "post: check passed"}) {
    EXPECT_THAT(check.output, HasSubstr(text));
  }
  // The databases of the URLs are untouched.
  pqxx::connection conn(user_url_);
  pqxx::nontransaction tx(conn);
  EXPECT_TRUE(tx.exec1("SELECT to_regclass('schema_migrations') IS NULL")[0].as<bool>());
}

// The pass above does compare the project's grants: the same files with the
// revoke of users removed from user/0002's down file fail.
TEST_F(MigrateCheckTest, ProjectGrantsAreCompared) {
  MigrationsDir dir;
  fs::copy(kRealMigrations + "/user", dir.path() + "/user");
  const std::string down = dir.path() + "/user/0002_grant_user_service.down.sql";
  std::string sql;
  {
    std::ifstream in(down);
    sql.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::string revoke =
      "REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLE users FROM user_service;";
  ASSERT_NE(sql.find(revoke), std::string::npos) << sql;
  sql.erase(sql.find(revoke), revoke.size());
  std::ofstream(down, std::ios::trunc) << sql;

  RunResult check = Check(dir.path());
  EXPECT_EQ(check.exit_code, 10) << check.output;
  EXPECT_THAT(check.output, AllOf(HasSubstr("0002_grant_user_service.down.sql"),
                                  HasSubstr("grant table public.users is left behind"),
                                  HasSubstr("user_service=arwd/postgres")));
}

TEST_F(MigrateCheckTest, DownThatForgetsAnIndexFails) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_t", "CREATE TABLE t (x int);\n", "DROP TABLE t;\n");
  dir.Add("user", "0002_index_t", "CREATE INDEX t_x_idx ON t (x);\n",
          "-- forgot the index\nSELECT 1;\n");
  dir.Add("user", "0003_create_u", "CREATE TABLE u (y int);\n", "DROP TABLE u;\n");
  RunResult check = Check(dir.path());
  EXPECT_EQ(check.exit_code, 10) << check.output;
  EXPECT_THAT(
      check.output,
      AllOf(
          HasSubstr("0001_create_t: up, down, up"),
          HasSubstr("the down file of 0002_index_t (" + dir.Path("user", "0002_index_t.down.sql") +
                    ") does not restore the schema of version 1"),
          HasSubstr("index public.t_x_idx is left behind"),
          HasSubstr("version 1:         (absent)"),
          HasSubstr("after up and down: CREATE INDEX t_x_idx ON public.t USING btree (x)")));
}

TEST_F(MigrateCheckTest, DownThatRestoresAColumnDifferentlyFails) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_t", "CREATE TABLE t (id int, x int NOT NULL DEFAULT 0);\n",
          "DROP TABLE t;\n");
  dir.Add("user", "0002_drop_x", "ALTER TABLE t DROP COLUMN x;\n",
          "ALTER TABLE t ADD COLUMN x bigint DEFAULT 1;\n");
  RunResult check = Check(dir.path());
  EXPECT_EQ(check.exit_code, 10) << check.output;
  EXPECT_THAT(check.output,
              AllOf(HasSubstr("0002_drop_x.down.sql"), HasSubstr("column public.t.x differs"),
                    HasSubstr("integer NOT NULL DEFAULT 0"), HasSubstr("bigint NULL DEFAULT 1")));
}

TEST_F(MigrateCheckTest, DownThatLeavesAFunctionAtVersionZeroFails) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_t",
          "CREATE TABLE t (x int);\n"
          "CREATE FUNCTION t_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM t';\n",
          "DROP TABLE t CASCADE;\n");
  RunResult check = Check(dir.path());
  EXPECT_EQ(check.exit_code, 10) << check.output;
  EXPECT_THAT(check.output,
              AllOf(HasSubstr("0001_create_t.down.sql"),
                    HasSubstr("does not restore the schema of version 0 (empty database)"),
                    HasSubstr("function public.t_count() is left behind"),
                    HasSubstr("CREATE OR REPLACE FUNCTION public.t_count()")));
}

TEST_F(MigrateCheckTest, DownThatForgetsToRevokeAGrantFails) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_t", "CREATE TABLE t (x int);\n", "DROP TABLE t;\n");
  dir.Add("user", "0002_grant_reader", "GRANT SELECT, INSERT ON t TO check_reader;\n",
          "REVOKE INSERT ON t FROM check_reader;\n");
  RunResult check = Check(dir.path());
  EXPECT_EQ(check.exit_code, 10) << check.output;
  EXPECT_THAT(check.output, AllOf(HasSubstr("0002_grant_reader.down.sql"),
                                  HasSubstr("grant table public.t is left behind"),
                                  HasSubstr("check_reader=r/postgres")));
}

TEST_F(MigrateCheckTest, DownThatForgetsACommentOrATriggerFails) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_t", "CREATE TABLE t (x int);\n", "DROP TABLE t;\n");
  dir.Add("user", "0002_comment", "COMMENT ON COLUMN t.x IS 'the x';\n", "SELECT 1;\n");
  RunResult comment = Check(dir.path());
  EXPECT_EQ(comment.exit_code, 10) << comment.output;
  EXPECT_THAT(comment.output,
              AllOf(HasSubstr("0002_comment.down.sql"),
                    HasSubstr("comment column x of table t is left behind"), HasSubstr("the x")));

  dir.Add("user", "0002_comment", "COMMENT ON COLUMN t.x IS 'the x';\n",
          "COMMENT ON COLUMN t.x IS NULL;\n");
  dir.Add("user", "0003_trigger",
          "CREATE FUNCTION t_noop() RETURNS trigger LANGUAGE plpgsql AS"
          " 'BEGIN RETURN NULL; END';\n"
          "CREATE TRIGGER t_noop AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION t_noop();\n",
          "DROP TRIGGER t_noop ON t;\nCREATE TRIGGER t_noop AFTER UPDATE ON t FOR EACH ROW "
          "EXECUTE FUNCTION t_noop();\n");
  RunResult trigger = Check(dir.path());
  EXPECT_EQ(trigger.exit_code, 10) << trigger.output;
  EXPECT_THAT(trigger.output, AllOf(HasSubstr("0003_trigger.down.sql"),
                                    HasSubstr("function public.t_noop() is left behind"),
                                    HasSubstr("1 more difference: trigger public.t.t_noop")));
}

// Correct files pass, including the final walk down from the newest version
// to 0, one file at a time.
TEST_F(MigrateCheckTest, CorrectFilesPassUpDownAndTheWalkDown) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_t", "CREATE TABLE t (x int);\n", "DROP TABLE t;\n");
  dir.Add("user", "0002_create_s",
          "CREATE SEQUENCE s OWNED BY t.x;\nGRANT USAGE ON s TO check_reader;\n",
          "DROP SEQUENCE s;\n");
  RunResult check = Check(dir.path());
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, AllOf(HasSubstr("0002_create_s: up, down, up"),
                                  HasSubstr("down from version 2 to 0, one file at a time")));
}

TEST_F(MigrateCheckTest, RoleWithoutCreatedbGetsAClearError) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_t", "CREATE TABLE t (x int);\n", "DROP TABLE t;\n");
  RunResult check =
      Check(dir.path(), {{"USER_DATABASE_URL", pg().UrlFor(user_db_, "no_createdb")}});
  EXPECT_EQ(check.exit_code, 11) << check.output;
  EXPECT_THAT(check.output, AllOf(HasSubstr("role \"no_createdb\" does not have the CREATEDB "
                                            "privilege"),
                                  HasSubstr("ALTER ROLE \"no_createdb\" CREATEDB")));
}

TEST_F(MigrateCheckTest, FailingMigrationStillDropsTheScratchDatabase) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_t", "CREATE TABLE t (x int);\n", "DROP TABLE t;\n");
  dir.Add("user", "0002_broken", "ALTER TABLE nope ADD COLUMN y int;\n", "SELECT 1;\n");
  RunResult check = Check(dir.path());
  EXPECT_EQ(check.exit_code, 1) << check.output;
  EXPECT_THAT(check.output, AllOf(HasSubstr("0002_broken"), HasSubstr("nope")));
}

// Ctrl-C (SIGINT) or SIGTERM in the middle of a slow migration: the check
// stops at once, drops its scratch database and exits with 128 + signal.
TEST_F(MigrateCheckTest, SignalMidCheckDropsTheScratchDatabase) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_t", "CREATE TABLE t (x int);\n", "DROP TABLE t;\n");
  dir.Add("user", "0002_slow", "SELECT pg_sleep(60);\n", "SELECT 1;\n");
  for (int signal : {SIGINT, SIGTERM}) {
    ChildProcess child(MIGRATE_BIN, {"check", "--target", "user", "--migrations-dir", dir.path()},
                       Env());
    // The slow migration is running in the scratch database.
    ASSERT_TRUE(Eventually(
        [&] {
          return !child.Running() ||
                 Query(
                     "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE "
                     "'migrate\\_check\\_%' AND query LIKE '%pg_sleep(60)%'") == "1";
        },
        kRunTimeout))
        << child.ReadOutput();
    ASSERT_TRUE(child.Running()) << child.ReadOutput();
    EXPECT_NE(ScratchDatabases(), "");
    const auto sent = std::chrono::steady_clock::now();
    child.Signal(signal);
    EXPECT_EQ(child.WaitExit(kRunTimeout), 128 + signal) << child.ReadOutput();
    EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(30));
    EXPECT_THAT(child.ReadOutput(), AllOf(HasSubstr(signal == SIGINT ? "interrupted by SIGINT"
                                                                     : "interrupted by SIGTERM"),
                                          HasSubstr("scratch databases were dropped")));
    EXPECT_EQ(ScratchDatabases(), "");
  }
}

// The same while a declared schema is being built, in check (after the down
// files) and in new --autogenerate (after the migrations' scratch database
// was made): every scratch database goes, and the exit code says why.
TEST_F(MigrateCheckTest, SignalWhileBuildingTheDeclaredSchemaDropsEveryScratchDatabase) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_t", "CREATE TABLE t (x int);\n", "DROP TABLE t;\n");
  fs::create_directories(dir.path() + "/schema");
  std::ofstream(dir.path() + "/schema/user.sql")
      << "CREATE TABLE t (x int);\nSELECT pg_sleep(60);\n";
  const std::vector<std::vector<std::string>> commands = {
      {"check", "--target", "user", "--migrations-dir", dir.path()},
      {"new", "slow", "--target", "user", "--autogenerate", "--migrations-dir", dir.path()}};
  for (const std::vector<std::string>& args : commands) {
    ChildProcess child(MIGRATE_BIN, args, Env());
    ASSERT_TRUE(Eventually(
        [&] {
          return !child.Running() ||
                 Query(
                     "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE "
                     "'migrate\\_declared\\_%' AND query LIKE '%pg_sleep(60)%'") == "1";
        },
        kRunTimeout))
        << child.ReadOutput();
    ASSERT_TRUE(child.Running()) << child.ReadOutput();
    child.Signal(SIGINT);
    EXPECT_EQ(child.WaitExit(kRunTimeout), 128 + SIGINT) << child.ReadOutput();
    EXPECT_THAT(child.ReadOutput(), HasSubstr("interrupted by SIGINT"));
    EXPECT_EQ(ScratchDatabases(), "") << args[0];
  }
  EXPECT_FALSE(fs::exists(dir.path() + "/user/0002_slow.up.sql"));
}

TEST_F(MigrateCheckTest, HelpDocumentsCheckAndItsExitCodes) {
  RunResult help = RunToCompletion(MIGRATE_BIN, {"--help"}, {}, kRunTimeout);
  ASSERT_EQ(help.exit_code, 0) << help.output;
  for (const char* text : {"  check\n", "CREATEDB", "10 `check`", "11 `check`", "130, 143"}) {
    EXPECT_THAT(help.output, HasSubstr(text));
  }
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
