// Tests of the `migrate` binary against a real PostgreSQL cluster: the CLI
// contract (commands, exit codes, messages), the history table, the advisory
// lock under concurrent runs, failure atomicity, and the real schema in
// migrations/.
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "migrate/migration_files.h"
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
using ::testing::Not;

constexpr std::chrono::seconds kRunTimeout(60);
const std::string kRealMigrations = std::string(MICROBLOG_SOURCE_DIR) + "/migrations";

class MigrateTest : public ::testing::Test {
 protected:
  // The binary's PostgreSQL cluster, shared by its tests.
  static PgCluster& pg() { return SharedCluster(); }

  void SetUp() override {
    std::string test_name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::transform(test_name.begin(), test_name.end(), test_name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    user_db_ = "u_" + test_name;
    post_db_ = "p_" + test_name;
    user_url_ = pg().CreateDatabase(user_db_);
    post_url_ = pg().CreateDatabase(post_db_);
  }

  // Runs migrate with both database URLs set (override with `env`) and
  // nothing else inherited that could change its behaviour.
  RunResult Migrate(const std::vector<std::string>& args, EnvVars env = {},
                    const std::string& working_dir = "") {
    EnvVars full = {
        {"USER_DATABASE_URL", user_url_}, {"POST_DATABASE_URL", post_url_}, {"MIGRATIONS_DIR", ""}};
    for (const auto& [key, value] : env) full[key] = value;
    return RunToCompletion(MIGRATE_BIN, args, full, kRunTimeout, working_dir);
  }
  std::unique_ptr<ChildProcess> StartMigrate(const std::vector<std::string>& args) {
    return std::make_unique<ChildProcess>(MIGRATE_BIN, args,
                                          EnvVars{{"USER_DATABASE_URL", user_url_},
                                                  {"POST_DATABASE_URL", post_url_},
                                                  {"MIGRATIONS_DIR", ""}});
  }

  static std::string QueryString(const std::string& url, const std::string& sql) {
    pqxx::connection conn(url);
    pqxx::nontransaction tx(conn);
    pqxx::row row = tx.exec1(sql);
    return row[0].is_null() ? "NULL" : row[0].as<std::string>();
  }
  static bool TableExists(const std::string& url, const std::string& table) {
    return QueryString(url, "SELECT to_regclass('" + table + "') IS NOT NULL") == "t";
  }
  // Highest version in schema_migrations; 0 when the table is absent or empty.
  static int Version(const std::string& url) {
    if (!TableExists(url, "schema_migrations")) return 0;
    return std::stoi(QueryString(url, "SELECT coalesce(max(version), 0) FROM schema_migrations"));
  }

  // Polls `child`'s output until it contains `text` (generous timeout, so a
  // slow machine only makes the test slower).
  static bool WaitForOutput(ChildProcess& child, const std::string& text) {
    bool exited = false;
    const bool found = Eventually(
        [&] {
          exited = !child.Running();
          return exited || child.ReadOutput().find(text) != std::string::npos;
        },
        kRunTimeout);
    return found && child.ReadOutput().find(text) != std::string::npos;
  }

  // Runs migrate with stdout only (stderr dropped) and parses it as JSON.
  google::protobuf::Struct MigrateJson(const std::vector<std::string>& args, int* exit_code) {
    std::vector<std::string> sh_args = {"-c", "exec \"$0\" \"$@\" 2>/dev/null", MIGRATE_BIN};
    sh_args.insert(sh_args.end(), args.begin(), args.end());
    RunResult result = RunToCompletion("/bin/sh", sh_args,
                                       {{"USER_DATABASE_URL", user_url_},
                                        {"POST_DATABASE_URL", post_url_},
                                        {"MIGRATIONS_DIR", ""}},
                                       kRunTimeout);
    *exit_code = result.exit_code;
    google::protobuf::Struct document;
    auto status = google::protobuf::util::JsonStringToMessage(result.output, &document);
    EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << result.output;
    return document;
  }

  // Two trivial migrations for the user database: tables a and b.
  // `args` for the user database only, with the migrations of `dir`.
  static std::vector<std::string> OnUser(std::vector<std::string> args, const MigrationsDir& dir) {
    args.insert(args.end(), {"--target", "user", "--migrations-dir", dir.path()});
    return args;
  }

  static void AddSimpleMigrations(const MigrationsDir& dir) {
    dir.Add("user", "0001_create_a", "CREATE TABLE a (x int);\n", "DROP TABLE a;\n");
    dir.Add("user", "0002_create_b", "CREATE TABLE b (x int);\n", "DROP TABLE b;\n");
  }

  std::string user_db_, post_db_, user_url_, post_url_;
};

// --- The real migrations/ ---------------------------------------------------

// The newest files of migrations/user and migrations/post.
constexpr int kRealUserVersion = 6;
constexpr int kRealPostVersion = 4;

TEST_F(MigrateTest, UpFromEmptyDownToZeroAndUpAgain) {
  // No --migrations-dir: the default is ./migrations.
  RunResult up = Migrate({"up"}, {}, MICROBLOG_SOURCE_DIR);
  ASSERT_EQ(up.exit_code, 0) << up.output;
  EXPECT_EQ(Version(user_url_), kRealUserVersion);
  EXPECT_EQ(Version(post_url_), kRealPostVersion);
  EXPECT_TRUE(TableExists(user_url_, "users"));
  EXPECT_TRUE(TableExists(post_url_, "posts"));
  EXPECT_FALSE(TableExists(user_url_, "posts"));

  RunResult down = Migrate({"down", "--to", "0", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(down.exit_code, 0) << down.output;
  EXPECT_EQ(Version(user_url_), 0);
  EXPECT_EQ(Version(post_url_), 0);
  EXPECT_FALSE(TableExists(user_url_, "users"));
  EXPECT_FALSE(TableExists(post_url_, "posts"));

  RunResult again = Migrate({"up", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(Version(user_url_), kRealUserVersion);
  EXPECT_EQ(Version(post_url_), kRealPostVersion);

  RunResult noop = Migrate({"up", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(noop.exit_code, 0) << noop.output;
  EXPECT_THAT(noop.output, HasSubstr("user: nothing to do, database is at version 6"));
  EXPECT_THAT(noop.output, HasSubstr("post: nothing to do, database is at version 4"));
}

// The release before this one is one step down on each database: rolling
// back to it and forward again keeps working with data in every table, and
// keeps the users and posts.
TEST_F(MigrateTest, DownToPreviousReleaseAndUpAgainWithData) {
  RunResult up = Migrate({"up", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(up.exit_code, 0) << up.output;
  {
    pqxx::connection conn(user_url_);
    pqxx::nontransaction tx(conn);
    tx.exec(
        "INSERT INTO users (username, email, password_hash) VALUES "
        "('a', 'a@x.org', 'h'), ('b', 'b@x.org', 'h')");
    tx.exec(
        "WITH d AS (DELETE FROM users WHERE username = 'b' RETURNING id) "
        "INSERT INTO user_events (kind, user_id) SELECT 'user.deleted', id FROM d");
  }
  {
    pqxx::connection conn(post_url_);
    pqxx::nontransaction tx(conn);
    tx.exec("INSERT INTO posts (user_id, body) VALUES (1, 'kept'), (2, 'gone')");
    tx.exec("DELETE FROM posts WHERE user_id = 2");
    tx.exec("INSERT INTO user_tombstones (user_id, deleted_at, source) VALUES (2, now(), 'event')");
    tx.exec("UPDATE event_cursors SET position = 'somewhere' WHERE feed = 'user-events'");
  }

  {
    pqxx::connection conn(user_url_);
    pqxx::nontransaction tx(conn);
    tx.exec("UPDATE users SET credentials_version = 2 WHERE username = 'a'");
  }
  {
    pqxx::connection conn(post_url_);
    pqxx::nontransaction tx(conn);
    tx.exec(
        "INSERT INTO credentials_revocations (user_id, min_version, changed_at) "
        "VALUES (1, 2, now())");
  }

  // Down to the release of the access tokens (user 0004): the identity
  // forms (0005, 0006) go and the accounts stay.
  RunResult to_tokens =
      Migrate({"down", "--to", "4", "--target", "user", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(to_tokens.exit_code, 0) << to_tokens.output;
  EXPECT_EQ(Version(user_url_), 4);
  EXPECT_EQ(QueryString(user_url_,
                        "SELECT count(*) FROM information_schema.columns WHERE table_name = "
                        "'users' AND column_name LIKE '%canonical'"),
            "0");
  EXPECT_EQ(QueryString(user_url_, "SELECT string_agg(username, ',') FROM users"), "a");

  // Down to the release before the tokens (0003): the access tokens'
  // revocation state goes, everything of 0003 stays.
  RunResult down = Migrate({"down", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(down.exit_code, 0) << down.output;
  EXPECT_EQ(Version(user_url_), 3);
  EXPECT_EQ(Version(post_url_), kRealPostVersion - 1);
  EXPECT_EQ(
      QueryString(user_url_,
                  "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' "
                  "AND column_name = 'credentials_version'"),
      "0");
  EXPECT_FALSE(TableExists(post_url_, "credentials_revocations"));
  EXPECT_TRUE(TableExists(user_url_, "user_events"));
  EXPECT_TRUE(TableExists(post_url_, "user_tombstones"));
  EXPECT_EQ(QueryString(user_url_, "SELECT string_agg(username, ',') FROM users"), "a");
  EXPECT_EQ(QueryString(post_url_, "SELECT string_agg(body, ',') FROM posts"), "kept");
  EXPECT_EQ(QueryString(post_url_, "SELECT position FROM event_cursors"), "somewhere");
  // The previous release's statements still work on that schema.
  EXPECT_EQ(QueryString(user_url_, "SELECT id FROM users WHERE lower(username) = 'a'"), "1");

  RunResult again = Migrate({"up", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(Version(user_url_), kRealUserVersion);
  EXPECT_EQ(Version(post_url_), kRealPostVersion);
  EXPECT_EQ(QueryString(post_url_, "SELECT string_agg(body, ',') FROM posts"), "kept");
  // Every account starts again at credentials version 1.
  EXPECT_EQ(QueryString(user_url_, "SELECT credentials_version FROM users"), "1");
  EXPECT_EQ(QueryString(post_url_, "SELECT count(*) FROM credentials_revocations"), "0");
}

TEST_F(MigrateTest, RealSchemaIndexesAndCaseInsensitiveUniqueness) {
  RunResult up = Migrate({"up", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(up.exit_code, 0) << up.output;

  pqxx::connection user_conn(user_url_);
  pqxx::nontransaction users(user_conn);
  EXPECT_EQ(users
                .exec1("SELECT count(*) FROM pg_indexes WHERE tablename = 'users' AND indexname IN"
                       " ('users_username_lower_key', 'users_email_lower_key')")[0]
                .as<int>(),
            2);
  users.exec("INSERT INTO users (username, email, password_hash) VALUES ('Alice', 'a@x.org', 'h')");
  try {
    users.exec(
        "INSERT INTO users (username, email, password_hash) VALUES ('alice', 'b@x.org', 'h')");
    ADD_FAILURE() << "'alice' accepted next to 'Alice'";
  } catch (const pqxx::unique_violation& e) {
    EXPECT_THAT(e.what(), HasSubstr("users_username_lower_key"));
  }
  try {
    users.exec("INSERT INTO users (username, email, password_hash) VALUES ('bob', 'A@X.org', 'h')");
    ADD_FAILURE() << "'A@X.org' accepted next to 'a@x.org'";
  } catch (const pqxx::unique_violation& e) {
    EXPECT_THAT(e.what(), HasSubstr("users_email_lower_key"));
  }

  pqxx::connection post_conn(post_url_);
  pqxx::nontransaction posts(post_conn);
  EXPECT_EQ(
      posts
          .exec1("SELECT count(*) FROM pg_indexes WHERE tablename = 'posts' AND indexname IN"
                 " ('posts_user_created_idx', 'posts_created_idx', 'posts_request_id_key')")[0]
          .as<int>(),
      3);
  // request_id is unique when present; many posts may have none.
  posts.exec("INSERT INTO posts (user_id, body) VALUES (1, 'one'), (1, 'two')");
  posts.exec("INSERT INTO posts (user_id, body, request_id) VALUES (1, 'three', 'r1')");
  try {
    posts.exec("INSERT INTO posts (user_id, body, request_id) VALUES (1, 'again', 'r1')");
    ADD_FAILURE() << "duplicate request_id accepted";
  } catch (const pqxx::unique_violation& e) {
    EXPECT_THAT(e.what(), HasSubstr("posts_request_id_key"));
  }
  EXPECT_THROW(posts.exec("INSERT INTO posts (user_id, body) VALUES (1, repeat('x', 141))"),
               pqxx::data_exception);
}

TEST_F(MigrateTest, GrantsServiceRolesOnlyTheirTable) {
  pg().Exec("postgres",
            "DO $$ BEGIN"
            "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'user_service') THEN"
            "    CREATE ROLE user_service LOGIN; END IF;"
            "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'post_service') THEN"
            "    CREATE ROLE post_service LOGIN; END IF;"
            " END $$");
  RunResult up = Migrate({"up", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(up.exit_code, 0) << up.output;

  const std::string as_user_service = pg().UrlFor(user_db_, "user_service");
  {
    pqxx::connection conn(as_user_service);
    pqxx::work tx(conn);
    // INSERT through the identity column, SELECT, UPDATE, DELETE.
    int64_t id = tx.exec1(
                       "INSERT INTO users (username, email, password_hash)"
                       " VALUES ('carol', 'c@x.org', 'h') RETURNING id")[0]
                     .as<int64_t>();
    tx.exec("UPDATE users SET email = 'c2@x.org' WHERE id = " + std::to_string(id));
    tx.exec("DELETE FROM users WHERE id = " + std::to_string(id));
    tx.commit();
  }
  {
    pqxx::connection conn(as_user_service);
    pqxx::nontransaction tx(conn);
    // The history is readable (for `migrate wait`), never writable.
    tx.exec("SELECT * FROM schema_migrations");
    EXPECT_THROW(tx.exec("DELETE FROM schema_migrations"), pqxx::insufficient_privilege);
    EXPECT_THROW(tx.exec("DROP TABLE users"), pqxx::insufficient_privilege);
  }
  {
    // Kubernetes init containers wait with the service's own credentials.
    RunResult wait = Migrate({"wait", "--version", "latest", "--target", "user", "--timeout", "5",
                              "--migrations-dir", kRealMigrations},
                             {{"USER_DATABASE_URL", as_user_service}});
    EXPECT_EQ(wait.exit_code, 0) << wait.output;
  }
  {
    pqxx::connection conn(pg().UrlFor(post_db_, "post_service"));
    pqxx::nontransaction tx(conn);
    tx.exec("INSERT INTO posts (user_id, body) VALUES (1, 'hi')");
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM posts")[0].as<int>(), 1);
    // The deletion cascade: tombstones are added and read, never changed;
    // the feed cursor is read and moved, never added or removed.
    tx.exec("INSERT INTO user_tombstones (user_id, deleted_at, source) VALUES (9, now(), 'event')");
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM user_tombstones")[0].as<int>(), 1);
    EXPECT_THROW(tx.exec("DELETE FROM user_tombstones"), pqxx::insufficient_privilege);
    tx.exec("UPDATE event_cursors SET position = 'x' WHERE feed = 'user-events'");
    EXPECT_THROW(tx.exec("INSERT INTO event_cursors (feed) VALUES ('other')"),
                 pqxx::insufficient_privilege);
    EXPECT_THROW(tx.exec("DELETE FROM event_cursors"), pqxx::insufficient_privilege);
    // CreatePost's batch insert.
    EXPECT_EQ(
        tx.exec1("SELECT outcome FROM insert_posts('{1}', '{hi}', '{NULL}')")[0].as<std::string>(),
        "inserted");
  }
  {
    // Nobody else may call it (it is not PUBLIC).
    pqxx::connection conn(pg().UrlFor(post_db_, "user_service"));
    pqxx::nontransaction tx(conn);
    EXPECT_THROW(tx.exec("SELECT * FROM insert_posts('{1}', '{hi}', '{NULL}')"),
                 pqxx::insufficient_privilege);
  }
  {
    // user-service writes, reads and prunes its outbox; it never rewrites an
    // event.
    pqxx::connection conn(as_user_service);
    pqxx::nontransaction tx(conn);
    tx.exec("INSERT INTO user_events (kind, user_id) VALUES ('user.deleted', 1)");
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM user_events")[0].as<int>(), 1);
    EXPECT_THROW(tx.exec("UPDATE user_events SET user_id = 2"), pqxx::insufficient_privilege);
    tx.exec("INSERT INTO user_events_pruned (xid, id) VALUES ('1', 1)");
    tx.exec("UPDATE user_events_pruned SET id = 2");
    tx.exec("DELETE FROM user_events");
  }
  {
    // user_service has nothing on the post database's table.
    pqxx::connection conn(pg().UrlFor(post_db_, "user_service"));
    pqxx::nontransaction tx(conn);
    EXPECT_THROW(tx.exec("SELECT * FROM posts"), pqxx::insufficient_privilege);
  }

  // Rolling back the grant migration revokes.
  RunResult down =
      Migrate({"down", "--to", "1", "--target", "user", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(down.exit_code, 0) << down.output;
  EXPECT_EQ(Version(user_url_), 1);
  pqxx::connection conn(as_user_service);
  pqxx::nontransaction tx(conn);
  EXPECT_THROW(tx.exec("SELECT * FROM users"), pqxx::insufficient_privilege);
}

// --- status, history, down variants -------------------------------------------

TEST_F(MigrateTest, StatusShowsAppliedAndPending) {
  MigrationsDir dir;
  AddSimpleMigrations(dir);
  dir.Add("user", "0003_create_c", "CREATE TABLE c (x int);\n", "DROP TABLE c;\n");

  RunResult before = Migrate({"status", "--target", "user", "--migrations-dir", dir.path()});
  ASSERT_EQ(before.exit_code, 0) << before.output;
  EXPECT_THAT(before.output, HasSubstr("current version 0, latest 3"));
  EXPECT_THAT(before.output, HasSubstr("[pending] 0001_create_a"));
  // Reading the status creates nothing.
  EXPECT_FALSE(TableExists(user_url_, "schema_migrations"));

  RunResult up = Migrate({"up", "--to", "1", "--target", "user", "--migrations-dir", dir.path()});
  ASSERT_EQ(up.exit_code, 0) << up.output;
  RunResult status = Migrate({"status", "--target", "user", "--migrations-dir", dir.path()});
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output,
              AllOf(HasSubstr("current version 1, latest 3"), HasSubstr("[applied] 0001_create_a"),
                    HasSubstr("[pending] 0002_create_b"), HasSubstr("[pending] 0003_create_c"),
                    Not(HasSubstr("[pending] 0001_create_a"))));
}

TEST_F(MigrateTest, HistoryRecordsSha256OfUpFile) {
  MigrationsDir dir;
  AddSimpleMigrations(dir);
  RunResult up = Migrate({"up", "--target", "user", "--migrations-dir", dir.path()});
  ASSERT_EQ(up.exit_code, 0) << up.output;

  RunResult sha = RunToCompletion("sha256sum", {dir.path() + "/user/0002_create_b.up.sql"});
  ASSERT_EQ(sha.exit_code, 0) << sha.output;
  const std::string expected = sha.output.substr(0, 64);
  EXPECT_EQ(QueryString(user_url_, "SELECT checksum FROM schema_migrations WHERE version = 2"),
            expected);
  EXPECT_EQ(QueryString(user_url_, "SELECT name FROM schema_migrations WHERE version = 2"),
            "create_b");
  EXPECT_EQ(QueryString(user_url_,
                        "SELECT count(*) FROM schema_migrations"
                        " WHERE applied_at IS NOT NULL AND duration_ms >= 0"),
            "2");

  RunResult history = Migrate({"history", "--target", "user", "--migrations-dir", dir.path()});
  ASSERT_EQ(history.exit_code, 0) << history.output;
  EXPECT_THAT(history.output, AllOf(HasSubstr("2 applied"), HasSubstr(expected),
                                    HasSubstr("create_a"), HasSubstr("duration_ms")));
}

TEST_F(MigrateTest, DownDefaultsToOneStepAndValidatesTargets) {
  MigrationsDir dir;
  AddSimpleMigrations(dir);
  dir.Add("user", "0003_create_c", "CREATE TABLE c (x int);\n", "DROP TABLE c;\n");
  ASSERT_EQ(Migrate(OnUser({"up"}, dir)).exit_code, 0);

  RunResult one = Migrate(OnUser({"down"}, dir));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_EQ(Version(user_url_), 2);
  EXPECT_FALSE(TableExists(user_url_, "c"));

  RunResult beyond = Migrate(OnUser({"down", "--steps", "5"}, dir));
  EXPECT_EQ(beyond.exit_code, 2) << beyond.output;
  RunResult above = Migrate(OnUser({"down", "--to", "3"}, dir));
  EXPECT_EQ(above.exit_code, 2) << above.output;
  RunResult up_past = Migrate(OnUser({"up", "--to", "9"}, dir));
  EXPECT_EQ(up_past.exit_code, 2) << up_past.output;
  EXPECT_THAT(up_past.output, HasSubstr("--to 9 is beyond the newest migration"));
  EXPECT_EQ(Version(user_url_), 2);

  RunResult two = Migrate(OnUser({"down", "--steps", "2"}, dir));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_EQ(Version(user_url_), 0);
  EXPECT_FALSE(TableExists(user_url_, "a"));

  RunResult at_zero = Migrate(OnUser({"down"}, dir));
  EXPECT_EQ(at_zero.exit_code, 0) << at_zero.output;
  EXPECT_THAT(at_zero.output, HasSubstr("nothing to do"));
}

// --- Concurrency ------------------------------------------------------------

TEST_F(MigrateTest, ConcurrentRunsApplyEachMigrationOnce) {
  MigrationsDir dir;
  // Slow migrations keep the lock held long enough for the runs to overlap.
  dir.Add("user", "0001_create_t",
          "CREATE TABLE t (n int);\nINSERT INTO t VALUES (1);\nSELECT pg_sleep(1);\n",
          "DROP TABLE t;\n");
  dir.Add("user", "0002_fill_t", "INSERT INTO t VALUES (2);\nSELECT pg_sleep(0.5);\n",
          "DELETE FROM t WHERE n = 2;\n");
  const std::vector<std::string> args = {"up", "--target", "user", "--migrations-dir", dir.path()};
  auto first = StartMigrate(args);
  auto second = StartMigrate(args);
  ASSERT_EQ(first->WaitExit(kRunTimeout), 0) << first->ReadOutput();
  ASSERT_EQ(second->WaitExit(kRunTimeout), 0) << second->ReadOutput();

  EXPECT_EQ(QueryString(user_url_, "SELECT count(*) FROM schema_migrations"), "2");
  EXPECT_EQ(QueryString(user_url_, "SELECT string_agg(n::text, ',' ORDER BY n) FROM t"), "1,2");

  const std::string outputs[] = {first->ReadOutput(), second->ReadOutput()};
  int applied = 0, idle = 0, waited = 0;
  for (const std::string& output : outputs) {
    applied += output.find("applied 0001_create_t") != std::string::npos;
    idle += output.find("nothing to do, database is at version 2") != std::string::npos;
    waited += output.find("waiting for another migrate run") != std::string::npos;
  }
  EXPECT_EQ(applied, 1) << outputs[0] << "\n---\n" << outputs[1];
  EXPECT_EQ(idle, 1) << outputs[0] << "\n---\n" << outputs[1];
  EXPECT_EQ(waited, 1) << outputs[0] << "\n---\n" << outputs[1];
}

// --- Failures and refusals ---------------------------------------------------

TEST_F(MigrateTest, FailingMigrationRollsBackAndReportsFilePositionAndMessage) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_a", "CREATE TABLE a (x int);\n", "DROP TABLE a;\n");
  dir.Add("user", "0002_broken",
          "CREATE TABLE b (x int);\nINSERT INTO a VALUES (1);\nSELECT * FROM  nope;\n",
          "DROP TABLE b;\n");
  const std::vector<std::string> args = {"up", "--target", "user", "--migrations-dir", dir.path()};
  RunResult up = Migrate(args);
  EXPECT_EQ(up.exit_code, 1) << up.output;
  EXPECT_THAT(up.output, AllOf(HasSubstr("0002_broken.up.sql"), HasSubstr("line 3, column 16"),
                               HasSubstr("relation \"nope\" does not exist"),
                               HasSubstr("stays at version 1")));
  EXPECT_EQ(Version(user_url_), 1);
  EXPECT_FALSE(TableExists(user_url_, "b"));
  EXPECT_EQ(QueryString(user_url_, "SELECT count(*) FROM a"), "0");

  // Once fixed, the same run goes through.
  dir.Add("user", "0002_broken", "CREATE TABLE b (x int);\n", "DROP TABLE b;\n");
  RunResult fixed = Migrate(args);
  ASSERT_EQ(fixed.exit_code, 0) << fixed.output;
  EXPECT_EQ(Version(user_url_), 2);
}

TEST_F(MigrateTest, PositionCountsCharactersNotBytes) {
  MigrationsDir dir;
  // "é" is two bytes in UTF-8 but one character for PostgreSQL.
  dir.Add("user", "0001_broken", "-- café\nSELECT 'é', * FROM  nope;\n", "SELECT 1;\n");
  RunResult up = Migrate({"up", "--target", "user", "--migrations-dir", dir.path()});
  EXPECT_EQ(up.exit_code, 1) << up.output;
  EXPECT_THAT(up.output, HasSubstr("line 2, column 21")) << up.output;
}

TEST_F(MigrateTest, RefusesWhenAppliedMigrationWasEdited) {
  MigrationsDir dir;
  AddSimpleMigrations(dir);
  RunResult to1 = Migrate(OnUser({"up", "--to", "1"}, dir));
  ASSERT_EQ(to1.exit_code, 0) << to1.output;

  dir.Add("user", "0001_create_a", "CREATE TABLE a (x bigint);\n", "DROP TABLE a;\n");
  for (const char* command : {"up", "down", "status"}) {
    RunResult refused = Migrate(OnUser({command}, dir));
    EXPECT_EQ(refused.exit_code, 4) << command << ": " << refused.output;
    EXPECT_THAT(refused.output,
                AllOf(HasSubstr("0001_create_a"), HasSubstr("changed after it was applied"),
                      HasSubstr("new migration")))
        << command;
  }
  // Nothing ran: still at 1, and 0002 was not applied.
  EXPECT_EQ(Version(user_url_), 1);
  EXPECT_FALSE(TableExists(user_url_, "b"));
}

TEST_F(MigrateTest, RefusesWhenDatabaseIsAheadOfFiles) {
  MigrationsDir dir;
  AddSimpleMigrations(dir);
  ASSERT_EQ(Migrate({"up", "--target", "user", "--migrations-dir", dir.path()}).exit_code, 0);

  MigrationsDir older;
  older.Add("user", "0001_create_a", "CREATE TABLE a (x int);\n", "DROP TABLE a;\n");
  for (const char* command : {"up", "down"}) {
    RunResult refused = Migrate({command, "--target", "user", "--migrations-dir", older.path()});
    EXPECT_EQ(refused.exit_code, 4) << refused.output;
    EXPECT_THAT(refused.output, AllOf(HasSubstr("0002_create_b"), HasSubstr("ahead")));
  }
  EXPECT_EQ(Version(user_url_), 2);
  EXPECT_TRUE(TableExists(user_url_, "b"));
}

TEST_F(MigrateTest, BadMigrationFoldersAreRejectedBeforeTouchingTheDatabase) {
  struct Case {
    const char* what;
    std::vector<std::pair<std::string, std::string>> files;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"gap",
       {{"0001_a.up.sql", "SELECT 1;"},
        {"0001_a.down.sql", ""},
        {"0003_c.up.sql", "SELECT 1;"},
        {"0003_c.down.sql", ""}},
       "version 0002 is missing"},
      {"no down", {{"0001_a.up.sql", "SELECT 1;"}}, "has no .down.sql file"},
      {"duplicate",
       {{"0001_a.up.sql", "SELECT 1;"},
        {"0001_a.down.sql", ""},
        {"0001_b.up.sql", "SELECT 1;"},
        {"0001_b.down.sql", ""}},
       "duplicate version 0001"},
      {"bad name", {{"1_a.up.sql", "SELECT 1;"}}, "unexpected file"},
  };
  for (const Case& c : cases) {
    MigrationsDir dir;
    for (const auto& [name, content] : c.files) dir.Write("user", name, content);
    RunResult up = Migrate({"up", "--target", "user", "--migrations-dir", dir.path()});
    EXPECT_EQ(up.exit_code, 2) << c.what << ": " << up.output;
    EXPECT_THAT(up.output, HasSubstr(c.message)) << c.what;
  }
  EXPECT_FALSE(TableExists(user_url_, "schema_migrations"));
}

// --- Dry run and the lock ----------------------------------------------------

TEST_F(MigrateTest, DryRunChangesNothingButTakesTheLockAndChecksChecksums) {
  MigrationsDir dir;
  AddSimpleMigrations(dir);
  const std::vector<std::string> dry = {"up",   "--dry-run",        "--target",
                                        "user", "--migrations-dir", dir.path()};
  RunResult plan = Migrate(dry);
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_THAT(plan.output, AllOf(HasSubstr("0001_create_a.up.sql"), HasSubstr("CREATE TABLE b"),
                                 HasSubstr("nothing was changed")));
  EXPECT_FALSE(TableExists(user_url_, "schema_migrations"));
  EXPECT_FALSE(TableExists(user_url_, "a"));

  // While another session holds the migration lock, the dry run waits for it.
  {
    pqxx::connection holder(user_url_);
    pqxx::nontransaction tx(holder);
    tx.exec("SELECT pg_advisory_lock(hashtext('microblog.migrate'))");
    auto waiting = StartMigrate(dry);
    EXPECT_TRUE(WaitForOutput(*waiting, "waiting for another migrate run"))
        << waiting->ReadOutput();
    EXPECT_TRUE(waiting->Running()) << waiting->ReadOutput();
    tx.exec("SELECT pg_advisory_unlock(hashtext('microblog.migrate'))");
    EXPECT_EQ(waiting->WaitExit(kRunTimeout), 0) << waiting->ReadOutput();
  }

  ASSERT_EQ(Migrate({"up", "--target", "user", "--migrations-dir", dir.path()}).exit_code, 0);
  RunResult down_plan = Migrate(
      {"down", "--to", "0", "--dry-run", "--target", "user", "--migrations-dir", dir.path()});
  ASSERT_EQ(down_plan.exit_code, 0) << down_plan.output;
  EXPECT_THAT(down_plan.output,
              AllOf(HasSubstr("0002_create_b.down.sql"), HasSubstr("DROP TABLE a")));
  EXPECT_EQ(Version(user_url_), 2);
  EXPECT_TRUE(TableExists(user_url_, "a"));

  dir.Add("user", "0001_create_a", "CREATE TABLE a (y int);\n", "DROP TABLE a;\n");
  RunResult edited = Migrate(dry);
  EXPECT_EQ(edited.exit_code, 4) << edited.output;
}

// --- wait -------------------------------------------------------------------

TEST_F(MigrateTest, WaitReturnsOnceAConcurrentUpReachesTheVersion) {
  MigrationsDir dir;
  AddSimpleMigrations(dir);
  auto waiter = StartMigrate({"wait", "--version", "2", "--timeout", "60", "--target", "user",
                              "--migrations-dir", dir.path()});
  ASSERT_TRUE(WaitForOutput(*waiter, "at version 0, waiting for version 2"))
      << waiter->ReadOutput();
  EXPECT_TRUE(waiter->Running());

  RunResult up = Migrate({"up", "--target", "user", "--migrations-dir", dir.path()});
  ASSERT_EQ(up.exit_code, 0) << up.output;
  EXPECT_EQ(waiter->WaitExit(kRunTimeout), 0) << waiter->ReadOutput();
  EXPECT_THAT(waiter->ReadOutput(), HasSubstr("user: at version 2"));

  RunResult latest =
      Migrate({"wait", "--version", "latest", "--target", "user", "--migrations-dir", dir.path()});
  EXPECT_EQ(latest.exit_code, 0) << latest.output;
}

TEST_F(MigrateTest, WaitFailsWhenDatabaseIsAheadAndTimesOut) {
  MigrationsDir dir;
  AddSimpleMigrations(dir);
  RunResult timeout = Migrate({"wait", "--version", "1", "--timeout", "1", "--target", "user",
                               "--migrations-dir", dir.path()});
  EXPECT_EQ(timeout.exit_code, 5) << timeout.output;
  EXPECT_THAT(timeout.output, HasSubstr("timed out"));

  ASSERT_EQ(Migrate({"up", "--target", "user", "--migrations-dir", dir.path()}).exit_code, 0);
  RunResult ahead =
      Migrate({"wait", "--version", "1", "--target", "user", "--migrations-dir", dir.path()});
  EXPECT_EQ(ahead.exit_code, 4) << ahead.output;
  EXPECT_THAT(ahead.output, HasSubstr("at version 2, ahead of the expected version 1"));
}

// --- stamp ------------------------------------------------------------------

TEST_F(MigrateTest, StampRecordsVersionsWithoutRunningThem) {
  MigrationsDir dir;
  AddSimpleMigrations(dir);
  dir.Add("user", "0003_create_c", "CREATE TABLE c (x int);\n", "DROP TABLE c;\n");
  // A database whose schema was created another way: a and b, no history.
  pg().Exec(user_db_, "CREATE TABLE a (x int); CREATE TABLE b (x int)");

  RunResult past_files = Migrate(OnUser({"stamp", "4"}, dir));
  EXPECT_EQ(past_files.exit_code, 2) << past_files.output;
  EXPECT_THAT(past_files.output, HasSubstr("newest migration file is 0003_create_c"));
  EXPECT_FALSE(TableExists(user_url_, "schema_migrations"));

  RunResult stamp = Migrate(OnUser({"stamp", "2"}, dir));
  ASSERT_EQ(stamp.exit_code, 0) << stamp.output;
  EXPECT_THAT(stamp.output,
              AllOf(HasSubstr("stamped 0001_create_a"), HasSubstr("stamped 0002_create_b"),
                    HasSubstr("nothing was run"), HasSubstr("now at version 2")));
  EXPECT_EQ(Version(user_url_), 2);
  // The same checksums `up` records, and no time spent.
  const std::vector<migrate::MigrationFile> files =
      migrate::LoadMigrationFiles(dir.path() + "/user");
  EXPECT_EQ(QueryString(user_url_,
                        "SELECT string_agg(checksum, ',' ORDER BY version)"
                        " FROM schema_migrations"),
            files[0].checksum + "," + files[1].checksum);
  EXPECT_EQ(QueryString(user_url_, "SELECT sum(duration_ms) FROM schema_migrations"), "0");

  // `up` continues from there: only 0003 runs (0001 would fail: a exists).
  RunResult up = Migrate(OnUser({"up"}, dir));
  ASSERT_EQ(up.exit_code, 0) << up.output;
  EXPECT_THAT(up.output, Not(HasSubstr("applying 0001")));
  EXPECT_TRUE(TableExists(user_url_, "c"));

  RunResult same = Migrate(OnUser({"stamp", "3"}, dir));
  EXPECT_EQ(same.exit_code, 0) << same.output;
  EXPECT_THAT(same.output, HasSubstr("nothing to stamp"));
  RunResult behind = Migrate(OnUser({"stamp", "2"}, dir));
  EXPECT_EQ(behind.exit_code, 4) << behind.output;
  EXPECT_THAT(behind.output,
              AllOf(HasSubstr("at version 3, past 2"), HasSubstr("migrate down --to 2")));
  EXPECT_EQ(Version(user_url_), 3);

  // Repairing history: a row deleted by hand is refused by up and restored by
  // stamp, with the file's checksum.
  pg().Exec(user_db_, "DELETE FROM schema_migrations WHERE version = 2");
  RunResult holed = Migrate(OnUser({"up"}, dir));
  EXPECT_EQ(holed.exit_code, 4) << holed.output;
  EXPECT_THAT(holed.output, HasSubstr("migrate stamp 2"));
  RunResult repair = Migrate(OnUser({"stamp", "3"}, dir));
  ASSERT_EQ(repair.exit_code, 0) << repair.output;
  EXPECT_THAT(repair.output, AllOf(HasSubstr("stamped 0002_create_b"),
                                   Not(HasSubstr("stamped 0001")), Not(HasSubstr("stamped 0003"))));
  EXPECT_EQ(QueryString(user_url_, "SELECT checksum FROM schema_migrations WHERE version = 2"),
            files[1].checksum);
  EXPECT_EQ(Migrate(OnUser({"status"}, dir)).exit_code, 0);

  // An edited applied file is not papered over.
  dir.Add("user", "0001_create_a", "CREATE TABLE a (y int);\n", "DROP TABLE a;\n");
  RunResult edited = Migrate(OnUser({"stamp", "3"}, dir));
  EXPECT_EQ(edited.exit_code, 4) << edited.output;
  EXPECT_THAT(edited.output, HasSubstr("changed after it was applied"));
}

TEST_F(MigrateTest, StampTakesTheMigrationLock) {
  MigrationsDir dir;
  AddSimpleMigrations(dir);
  pqxx::connection holder(user_url_);
  pqxx::nontransaction tx(holder);
  tx.exec("SELECT pg_advisory_lock(hashtext('microblog.migrate'))");
  auto stamp = StartMigrate({"stamp", "1", "--target", "user", "--migrations-dir", dir.path()});
  EXPECT_TRUE(WaitForOutput(*stamp, "waiting for another migrate run")) << stamp->ReadOutput();
  EXPECT_FALSE(TableExists(user_url_, "schema_migrations"));
  tx.exec("SELECT pg_advisory_unlock(hashtext('microblog.migrate'))");
  EXPECT_EQ(stamp->WaitExit(kRunTimeout), 0) << stamp->ReadOutput();
  EXPECT_EQ(Version(user_url_), 1);
}

// --- JSON ---------------------------------------------------------------------

TEST_F(MigrateTest, StatusAndHistoryJson) {
  MigrationsDir dir;
  AddSimpleMigrations(dir);
  dir.Add("post", "0001_create_p", "CREATE TABLE p (x int);\n", "DROP TABLE p;\n");
  ASSERT_EQ(
      Migrate({"up", "--to", "1", "--target", "user", "--migrations-dir", dir.path()}).exit_code,
      0);
  const std::vector<migrate::MigrationFile> files =
      migrate::LoadMigrationFiles(dir.path() + "/user");

  int exit_code = -1;
  google::protobuf::Struct status =
      MigrateJson({"status", "--json", "--migrations-dir", dir.path()}, &exit_code);
  EXPECT_EQ(exit_code, 0);
  const auto& databases = status.fields().at("databases").list_value().values();
  ASSERT_EQ(databases.size(), 2);
  const auto& user = databases[0].struct_value().fields();
  EXPECT_EQ(user.at("name").string_value(), "user");
  EXPECT_EQ(user.at("current_version").number_value(), 1);
  EXPECT_EQ(user.at("latest_version").number_value(), 2);
  EXPECT_FALSE(user.at("up_to_date").bool_value());
  EXPECT_TRUE(user.at("error").has_null_value());
  EXPECT_EQ(user.at("problems").list_value().values_size(), 0);
  const auto& applied = user.at("applied").list_value().values();
  ASSERT_EQ(applied.size(), 1);
  EXPECT_EQ(applied[0].struct_value().fields().at("name").string_value(), "create_a");
  EXPECT_EQ(applied[0].struct_value().fields().at("checksum").string_value(), files[0].checksum);
  EXPECT_THAT(applied[0].struct_value().fields().at("applied_at").string_value(),
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}Z"));
  EXPECT_GE(applied[0].struct_value().fields().at("duration_ms").number_value(), 0);
  const auto& pending = user.at("pending").list_value().values();
  ASSERT_EQ(pending.size(), 1);
  EXPECT_EQ(pending[0].struct_value().fields().at("version").number_value(), 2);
  EXPECT_THAT(pending[0].struct_value().fields().at("path").string_value(),
              HasSubstr("0002_create_b.up.sql"));
  const auto& post = databases[1].struct_value().fields();
  EXPECT_EQ(post.at("name").string_value(), "post");
  EXPECT_EQ(post.at("current_version").number_value(), 0);

  google::protobuf::Struct history = MigrateJson(
      {"history", "--json", "--target", "user", "--migrations-dir", dir.path()}, &exit_code);
  EXPECT_EQ(exit_code, 0);
  const auto& history_dbs = history.fields().at("databases").list_value().values();
  ASSERT_EQ(history_dbs.size(), 1);
  const auto& rows = history_dbs[0].struct_value().fields().at("migrations").list_value().values();
  ASSERT_EQ(rows.size(), 1);
  EXPECT_EQ(rows[0].struct_value().fields().at("version").number_value(), 1);
  EXPECT_EQ(rows[0].struct_value().fields().at("checksum").string_value(), files[0].checksum);

  // A problem: still one JSON document, the exit code as without --json.
  dir.Add("user", "0001_create_a", "CREATE TABLE a (\"quoted\" int);\n", "DROP TABLE a;\n");
  google::protobuf::Struct edited = MigrateJson(
      {"status", "--json", "--target", "user", "--migrations-dir", dir.path()}, &exit_code);
  EXPECT_EQ(exit_code, 4);
  const auto& problems = edited.fields()
                             .at("databases")
                             .list_value()
                             .values(0)
                             .struct_value()
                             .fields()
                             .at("problems")
                             .list_value()
                             .values();
  ASSERT_EQ(problems.size(), 1);
  EXPECT_THAT(problems[0].string_value(), HasSubstr("changed after it was applied"));

  // An unreachable database: "error" set.
  const std::string secret = "Sup3rSecretPw";
  RunResult unreachable = RunToCompletion(
      "/bin/sh",
      {"-c", "exec \"$0\" \"$@\" 2>/dev/null", MIGRATE_BIN, "status", "--json", "--target", "post",
       "--migrations-dir", dir.path()},
      {{"POST_DATABASE_URL",
        "postgresql://bob:" + secret + "@127.0.0.1:" + std::to_string(FreeTcpPort()) + "/db"},
       {"MIGRATIONS_DIR", ""}},
      kRunTimeout);
  EXPECT_EQ(unreachable.exit_code, 3) << unreachable.output;
  google::protobuf::Struct down;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(unreachable.output, &down).ok())
      << unreachable.output;
  EXPECT_THAT(down.fields()
                  .at("databases")
                  .list_value()
                  .values(0)
                  .struct_value()
                  .fields()
                  .at("error")
                  .string_value(),
              HasSubstr("127.0.0.1"));
  EXPECT_THAT(unreachable.output, Not(HasSubstr(secret)));
}

// --- lock_timeout and retries -------------------------------------------------

// A table `t` with rows (0001) and a migration that needs an ACCESS EXCLUSIVE
// lock on it (0002).
void AddLockingMigrations(const MigrationsDir& dir) {
  dir.Add("user", "0001_create_t",
          "CREATE TABLE t (n int);\nINSERT INTO t SELECT generate_series(1, 100);\n",
          "DROP TABLE t;\n");
  dir.Add("user", "0002_add_y", "ALTER TABLE t ADD COLUMN y int;\n",
          "ALTER TABLE t DROP COLUMN y;\n");
}

// Reads `t` in a loop on its own session and keeps the slowest read.
class Reader {
 public:
  explicit Reader(const std::string& url)
      : thread_([this, url] {
          pqxx::connection conn(url);
          while (!stop_) {
            const auto started = std::chrono::steady_clock::now();
            pqxx::nontransaction tx(conn);
            tx.exec("SELECT count(*) FROM t");
            const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started);
            if (took.count() > max_ms_) max_ms_ = took.count();
            ++reads_;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          }
        }) {}
  ~Reader() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t max_ms() const { return max_ms_; }
  int64_t reads() const { return reads_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> max_ms_{0};
  std::atomic<int64_t> reads_{0};
  std::thread thread_;
};

TEST_F(MigrateTest, LockTimeoutKeepsReadsFlowingAndRetriesUntilTheLockIsFree) {
  MigrationsDir dir;
  AddLockingMigrations(dir);
  ASSERT_EQ(
      Migrate({"up", "--to", "1", "--target", "user", "--migrations-dir", dir.path()}).exit_code,
      0);
  // A long transaction that read t: its ACCESS SHARE lock blocks ALTER TABLE.
  pqxx::connection holder(user_url_);
  const std::string holder_pid = std::to_string(holder.backendpid());
  auto holder_tx = std::make_unique<pqxx::work>(holder);
  holder_tx->exec("SELECT count(*) FROM t");

  Reader reader(user_url_);
  const auto started = std::chrono::steady_clock::now();
  auto up = StartMigrate({"up", "--lock-timeout", "300ms", "--lock-retries", "20", "--target",
                          "user", "--migrations-dir", dir.path()});
  ASSERT_TRUE(WaitForOutput(*up, "retry 2 of 20")) << up->ReadOutput();
  const auto blocked_for = std::chrono::steady_clock::now() - started;
  holder_tx->abort();  // the lock is released after the first retries
  holder_tx.reset();
  ASSERT_EQ(up->WaitExit(kRunTimeout), 0) << up->ReadOutput();
  reader.Stop();

  EXPECT_THAT(up->ReadOutput(),
              AllOf(HasSubstr("timed out after 300 ms waiting for a lock"),
                    HasSubstr("blocked by pid " + holder_pid), HasSubstr("applied 0002_add_y")));
  EXPECT_EQ(Version(user_url_), 2);
  EXPECT_EQ(QueryString(user_url_,
                        "SELECT count(*) FROM information_schema.columns"
                        " WHERE table_name = 't' AND column_name = 'y'"),
            "1");
  // Readers queued behind the ALTER waited at most about one lock_timeout,
  // although the migration was blocked for much longer.
  EXPECT_GT(std::chrono::duration_cast<std::chrono::milliseconds>(blocked_for).count(), 900);
  EXPECT_GT(reader.reads(), 10);
  EXPECT_LT(reader.max_ms(), 300 + 700) << "reads waited behind the blocked migration";
}

TEST_F(MigrateTest, LockTimeoutFailsAfterTheRetriesNamingTheBlocker) {
  MigrationsDir dir;
  AddLockingMigrations(dir);
  ASSERT_EQ(
      Migrate({"up", "--to", "1", "--target", "user", "--migrations-dir", dir.path()}).exit_code,
      0);
  pqxx::connection holder(user_url_);
  const std::string holder_pid = std::to_string(holder.backendpid());
  pqxx::work holder_tx(holder);
  holder_tx.exec("SELECT count(*) FROM t");

  Reader reader(user_url_);
  RunResult up = Migrate({"up", "--lock-timeout", "0.2s", "--lock-retries", "2", "--target", "user",
                          "--migrations-dir", dir.path()});
  reader.Stop();
  EXPECT_EQ(up.exit_code, 1) << up.output;
  EXPECT_THAT(up.output,
              AllOf(HasSubstr("0002_add_y"), HasSubstr("gave up after 3 attempts"),
                    HasSubstr("stays at version 1"), HasSubstr("lock timeout"),
                    HasSubstr("blocked by: pid " + holder_pid),
                    HasSubstr("state idle in transaction"), HasSubstr("query started"),
                    HasSubstr("AccessShareLock on t"), HasSubstr("pg_terminate_backend")));
  EXPECT_EQ(Version(user_url_), 1);
  EXPECT_LT(reader.max_ms(), 200 + 700);
}

// --- Files that run outside a transaction -------------------------------------

// CONCURRENTLY statements never block reads or writes but wait for every
// older transaction: lock_timeout would only leave an INVALID index, so they
// run without it.
TEST_F(MigrateTest, ConcurrentIndexBuildWaitsForOldTransactionsDespiteLockTimeout) {
  MigrationsDir dir;
  AddLockingMigrations(dir);
  dir.Add("user", "0003_t_n_idx",
          "-- migrate:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_n_idx ON t (n);\n",
          "-- migrate:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS t_n_idx;\n");
  ASSERT_EQ(
      Migrate({"up", "--to", "2", "--target", "user", "--migrations-dir", dir.path()}).exit_code,
      0);
  pqxx::connection holder(user_url_);
  auto holder_tx =
      std::make_unique<pqxx::transaction<pqxx::isolation_level::repeatable_read>>(holder);
  holder_tx->exec("SELECT count(*) FROM t");  // keeps a snapshot the build waits for

  Reader reader(user_url_);
  auto up = StartMigrate(
      {"up", "--lock-timeout", "200ms", "--target", "user", "--migrations-dir", dir.path()});
  ASSERT_TRUE(WaitForOutput(*up, "runs outside a transaction")) << up->ReadOutput();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(up->Running()) << up->ReadOutput();
  EXPECT_EQ(Version(user_url_), 2);
  holder_tx->abort();
  holder_tx.reset();
  ASSERT_EQ(up->WaitExit(kRunTimeout), 0) << up->ReadOutput();
  reader.Stop();
  EXPECT_EQ(Version(user_url_), 3);
  EXPECT_EQ(QueryString(user_url_,
                        "SELECT indisvalid FROM pg_index"
                        " WHERE indexrelid = 't_n_idx'::regclass"),
            "t");
  EXPECT_LT(reader.max_ms(), 200 + 700);
}

TEST_F(MigrateTest, NoTransactionFileFailureLeavesVersionUnappliedAndRerunsFromTheStart) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_t", "CREATE TABLE t (n int);\nINSERT INTO t VALUES (1), (1), (2);\n",
          "DROP TABLE t;\n");
  // The unique index cannot be built: duplicates. CONCURRENTLY leaves it INVALID.
  dir.Add("user", "0002_indexes",
          "-- migrate:no-transaction\n"
          "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_n_idx ON t (n);\n"
          "-- the unique one; a ';' in a comment\n"
          "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_n_key ON t (n);\n",
          "-- migrate:no-transaction\n"
          "DROP INDEX CONCURRENTLY IF EXISTS t_n_key;\n"
          "DROP INDEX CONCURRENTLY IF EXISTS t_n_idx;\n");
  const std::vector<std::string> up_args = {"up", "--target", "user", "--migrations-dir",
                                            dir.path()};
  RunResult plan = Migrate({"up", "--dry-run", "--target", "user", "--migrations-dir", dir.path()});
  EXPECT_EQ(plan.exit_code, 0) << plan.output;
  EXPECT_THAT(plan.output, HasSubstr("0002_indexes.up.sql (outside a transaction"));

  RunResult failed = Migrate(up_args);
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_THAT(
      failed.output,
      AllOf(HasSubstr("at statement 2 of 2"), HasSubstr("0002_indexes.up.sql line 4"),
            HasSubstr("could not create unique index"), HasSubstr("INVALID index public.t_n_key"),
            HasSubstr("DROP INDEX CONCURRENTLY IF EXISTS public.t_n_key"),
            HasSubstr("stays at version 1"), HasSubstr("idempotent")));
  EXPECT_EQ(Version(user_url_), 1);
  // Statement 1 took effect; no history row for 0002.
  EXPECT_TRUE(TableExists(user_url_, "t_n_idx"));
  EXPECT_EQ(QueryString(user_url_, "SELECT count(*) FROM schema_migrations WHERE version = 2"),
            "0");

  // Rerunning with the broken index in place is refused, with the fix.
  pg().Exec(user_db_, "DELETE FROM t WHERE ctid = (SELECT min(ctid) FROM t WHERE n = 1)");
  RunResult refused = Migrate(up_args);
  EXPECT_EQ(refused.exit_code, 4) << refused.output;
  EXPECT_THAT(refused.output, AllOf(HasSubstr("INVALID index public.t_n_key"),
                                    HasSubstr("DROP INDEX CONCURRENTLY")));

  // The fix the message gives, then the whole file runs again from the start.
  pg().Exec(user_db_, "DROP INDEX CONCURRENTLY IF EXISTS public.t_n_key");
  RunResult rerun = Migrate(up_args);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  EXPECT_THAT(rerun.output, HasSubstr("runs outside a transaction"));
  EXPECT_EQ(Version(user_url_), 2);
  EXPECT_EQ(QueryString(user_url_,
                        "SELECT string_agg(c.relname || ':' || i.indisvalid, ','"
                        " ORDER BY c.relname) FROM pg_index i"
                        " JOIN pg_class c ON c.oid = i.indexrelid"
                        " WHERE i.indrelid = 't'::regclass"),
            "t_n_idx:true,t_n_key:true");

  // The down file runs the same way.
  RunResult down = Migrate({"down", "--target", "user", "--migrations-dir", dir.path()});
  ASSERT_EQ(down.exit_code, 0) << down.output;
  EXPECT_EQ(Version(user_url_), 1);
  EXPECT_FALSE(TableExists(user_url_, "t_n_key"));
}

TEST_F(MigrateTest, NoTransactionFileReportsPositionAndHoldsTheLock) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_t", "CREATE TABLE t (n int);\n", "DROP TABLE t;\n");
  dir.Add("user", "0002_slow",
          "-- migrate:no-transaction\n"
          "SELECT pg_sleep(2);\n"
          "SELECT $$;$$, ';', * FROM  nope;\n",
          "SELECT 1;\n");
  auto up = StartMigrate({"up", "--target", "user", "--migrations-dir", dir.path()});
  ASSERT_TRUE(WaitForOutput(*up, "runs outside a transaction")) << up->ReadOutput();
  // The session advisory lock stays held between statements (no transaction).
  EXPECT_EQ(QueryString(user_url_,
                        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a"
                        " USING (pid) WHERE l.locktype = 'advisory' AND l.granted"
                        " AND a.query LIKE '%pg_sleep%'"),
            "1");
  EXPECT_EQ(up->WaitExit(kRunTimeout), 1) << up->ReadOutput();
  EXPECT_THAT(up->ReadOutput(), AllOf(HasSubstr("at statement 2 of 2"),
                                      HasSubstr("0002_slow.up.sql line 3, column 28"),
                                      HasSubstr("relation \"nope\" does not exist")));
  EXPECT_EQ(Version(user_url_), 1);
}

// --- Bad input ----------------------------------------------------------------

TEST_F(MigrateTest, UnreachableDatabaseMessageNamesEndpointButNeverThePassword) {
  const int port = FreeTcpPort();
  const std::string secret = "Sup3rSecretPw";
  for (const std::string& url :
       {"postgresql://bob:" + secret + "@127.0.0.1:" + std::to_string(port) + "/db",
        "host=127.0.0.1 port=" + std::to_string(port) + " user=bob password=" + secret}) {
    RunResult up = Migrate({"up", "--target", "user", "--migrations-dir", kRealMigrations},
                           {{"USER_DATABASE_URL", url}});
    EXPECT_EQ(up.exit_code, 3) << up.output;
    EXPECT_THAT(up.output, AllOf(HasSubstr("USER_DATABASE_URL"), HasSubstr("127.0.0.1"),
                                 HasSubstr(std::to_string(port)), HasSubstr("Connection refused")));
    EXPECT_THAT(up.output, Not(HasSubstr(secret)));
  }

  // The cluster itself down: the socket directory is named.
  pg().Stop();
  RunResult down = Migrate({"status", "--migrations-dir", kRealMigrations});
  pg().Restart();
  EXPECT_EQ(down.exit_code, 3) << down.output;
  EXPECT_THAT(down.output, HasSubstr(pg().socket_dir()));
}

// --- Command line (no database needed: all of these fail before connecting) ---

// Runs migrate with URLs that would not connect anywhere.
RunResult RunCli(const std::vector<std::string>& args, const EnvVars& env = {}) {
  EnvVars full = {{"USER_DATABASE_URL", "postgresql:///nowhere?host=/nonexistent"},
                  {"POST_DATABASE_URL", "postgresql:///nowhere?host=/nonexistent"},
                  {"MIGRATIONS_DIR", ""}};
  for (const auto& [key, value] : env) full[key] = value;
  return RunToCompletion(MIGRATE_BIN, args, full, kRunTimeout);
}

TEST(MigrateCliTest, UsageErrorsExitWithCodeTwo) {
  struct Case {
    std::vector<std::string> args;
    EnvVars env;
    const char* message;
    bool points_to_help = true;
  };
  const std::vector<Case> cases = {
      {{"up", "--frobnicate"}, {}, "unknown flag --frobnicate"},
      {{"status", "--to", "1"}, {}, "unknown flag --to for command status"},
      {{"sideways"}, {}, "unknown command 'sideways'"},
      {{}, {}, "missing command"},
      {{"up", "--migrations-dir", "/nonexistent/migrations"},
       {},
       "migrations folder /nonexistent/migrations/user does not exist",
       false},
      {{"up", "--migrations-dir", kRealMigrations},
       {{"POST_DATABASE_URL", ""}},
       "set POST_DATABASE_URL"},
      {{"up", "--target", "everything", "--migrations-dir", kRealMigrations},
       {},
       "unknown --target 'everything'"},
      {{"up", "--migrations-dir", kRealMigrations},
       {{"USER_DATABASE_URL", "postgresql://u:pw0rd@h/db?bogus=1"}},
       "USER_DATABASE_URL is not a valid PostgreSQL URL",
       false},
      {{"down", "--to", "1", "--steps", "1"}, {}, "either --to or --steps"},
      {{"wait"}, {}, "wait needs --version"},
      {{"up", "--to", "x1"}, {}, "invalid value 'x1' for --to"},
  };
  for (const Case& c : cases) {
    RunResult result = RunCli(c.args, c.env);
    // Command-line mistakes point at the help; config mistakes say what to fix instead.
    if (c.points_to_help) {
      EXPECT_THAT(result.output, HasSubstr("migrate --help")) << ::testing::PrintToString(c.args);
    }
    EXPECT_EQ(result.exit_code, 2) << ::testing::PrintToString(c.args) << ": " << result.output;
    EXPECT_THAT(result.output, AllOf(HasSubstr(c.message), Not(HasSubstr("pw0rd"))))
        << ::testing::PrintToString(c.args);
  }
}

// --- new (no database) ----------------------------------------------------------

TEST(MigrateCliTest, NewWritesTheNextNumberedPair) {
  MigrationsDir dir;
  dir.Add("user", "0001_create_a", "CREATE TABLE a (x int);\n", "DROP TABLE a;\n");
  // No URLs needed.
  RunResult created = RunCli({"new", "add_b", "--target", "user", "--migrations-dir", dir.path()},
                             {{"USER_DATABASE_URL", ""}, {"POST_DATABASE_URL", ""}});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  const std::string up = dir.path() + "/user/0002_add_b.up.sql";
  const std::string down = dir.path() + "/user/0002_add_b.down.sql";
  EXPECT_EQ(created.output, up + "\n" + down + "\n");
  std::ifstream up_file(up);
  std::stringstream header;
  header << up_file.rdbuf();
  EXPECT_THAT(header.str(), AllOf(HasSubstr("Expand/contract"), HasSubstr("previous release"),
                                  HasSubstr("Lock-friendly"), HasSubstr("Down undoes up"),
                                  HasSubstr("migrate:no-transaction")));
  // The pair is a valid (empty) migration.
  const auto files = migrate::LoadMigrationFiles(dir.path() + "/user");
  ASSERT_EQ(files.size(), 2);
  EXPECT_EQ(files[1].name, "add_b");

  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  const std::vector<Case> cases = {
      {{"new", "Add-B", "--target", "user"}, "invalid migration name 'Add-B'"},
      {{"new", "add b", "--target", "user"}, "[a-z0-9_]+"},
      {{"new", "add_c"}, "pass --target user or --target post"},
      {{"new", "--target", "user"}, "missing NAME"},
      {{"new", "a", "b", "--target", "user"}, "unexpected argument 'b'"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"--migrations-dir", dir.path()});
    RunResult result = RunCli(args);
    EXPECT_EQ(result.exit_code, 2) << ::testing::PrintToString(c.args) << ": " << result.output;
    EXPECT_THAT(result.output, HasSubstr(c.message)) << ::testing::PrintToString(c.args);
  }

  // A stray half pair (files exist) and a gap are refused, nothing written.
  dir.Write("user", "0003_stray.up.sql", "SELECT 1;\n");
  RunResult stray = RunCli({"new", "add_c", "--target", "user", "--migrations-dir", dir.path()});
  EXPECT_EQ(stray.exit_code, 2) << stray.output;
  EXPECT_THAT(stray.output, AllOf(HasSubstr("0003_stray"), HasSubstr("has no .down.sql file")));
  dir.Remove("user", "0003_stray.up.sql");
  dir.Add("user", "0005_gap", "SELECT 1;\n", "SELECT 1;\n");
  RunResult gap = RunCli({"new", "add_c", "--target", "user", "--migrations-dir", dir.path()});
  EXPECT_EQ(gap.exit_code, 2) << gap.output;
  EXPECT_THAT(gap.output, HasSubstr("version 0003 is missing"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path() + "/user"), fs::directory_iterator()),
            6);
}

TEST(MigrateCliTest, StampLockAndJsonFlagsAreChecked) {
  struct Case {
    std::vector<std::string> args;
    const char* message;
  };
  const std::vector<Case> cases = {
      {{"stamp", "2"}, "pass --target user or --target post"},
      {{"stamp", "--target", "user"}, "missing VERSION"},
      {{"stamp", "0", "--target", "user"}, "at least 1"},
      {{"stamp", "x", "--target", "user"}, "invalid value 'x' for VERSION"},
      {{"up", "--lock-timeout", "2 minutes"}, "invalid value '2 minutes' for --lock-timeout"},
      {{"up", "--lock-timeout", "1.5"}, "invalid value '1.5'"},
      {{"up", "--lock-retries", "-1"}, "invalid value '-1' for --lock-retries"},
      {{"up", "--json"}, "unknown flag --json for command up"},
      {{"status", "--lock-timeout", "1s"}, "unknown flag --lock-timeout for command status"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"--migrations-dir", kRealMigrations});
    RunResult result = RunCli(args);
    EXPECT_EQ(result.exit_code, 2) << ::testing::PrintToString(c.args) << ": " << result.output;
    EXPECT_THAT(result.output, HasSubstr(c.message)) << ::testing::PrintToString(c.args);
  }
}

TEST(MigrateCliTest, HelpListsCommandsFlagsEnvironmentAndExitCodes) {
  RunResult help = RunCli({"--help"});
  ASSERT_EQ(help.exit_code, 0) << help.output;
  for (const char* text : {"up",
                           "down",
                           "status",
                           "history",
                           "wait --version",
                           "--target",
                           "--dry-run",
                           "--steps",
                           "USER_DATABASE_URL",
                           "POST_DATABASE_URL",
                           "Exit codes",
                           "5  `wait` timed out",
                           "new NAME --target",
                           "stamp VERSION",
                           "--json",
                           "--lock-timeout",
                           "--lock-retries",
                           "55P03",
                           "migrate:no-transaction",
                           "expand/contract",
                           "\"current_version\"",
                           "\"migrations\""}) {
    EXPECT_THAT(help.output, HasSubstr(text));
  }
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
