// Tests of the `migrate` binary against a real PostgreSQL cluster: the CLI
// contract (commands, exit codes, messages), the history table, the advisory
// lock under concurrent runs, failure atomicity, and the real schema in
// migrations/.
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "migrate/database_url.h"
#include "migrate/migration_files.h"
#include "migrate/text_position.h"
#include "support/child_process.h"
#include "support/eventually.h"
#include "support/pg_cluster.h"
#include "support/temp_dir.h"

namespace microblog {
namespace test_support {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::chrono::seconds kRunTimeout(60);
const std::string kRealMigrations = std::string(MICROBLOG_SOURCE_DIR) + "/migrations";

// A temp directory of migration files, removed afterwards.
class MigrationsDir {
 public:
  const std::string& path() const { return path_; }

  // Writes <path>/<db>/<file>.
  void Write(const std::string& db, const std::string& file, const std::string& content) const {
    fs::create_directories(path_ + "/" + db);
    std::ofstream(path_ + "/" + db + "/" + file, std::ios::binary | std::ios::trunc) << content;
  }
  void Remove(const std::string& db, const std::string& file) const {
    fs::remove(path_ + "/" + db + "/" + file);
  }
  // Writes NNNN_name.up.sql and .down.sql for `db`.
  void Add(const std::string& db, const std::string& label, const std::string& up,
           const std::string& down) const {
    Write(db, label + ".up.sql", up);
    Write(db, label + ".down.sql", down);
  }

 private:
  TempDir dir_{"mbmig"};
  std::string path_ = dir_.path().string();
};

class MigrateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { pg_ = PgCluster::Start().release(); }
  static void TearDownTestSuite() {
    delete pg_;
    pg_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(pg_, nullptr) << "PostgreSQL cluster did not start";
    std::string test_name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::transform(test_name.begin(), test_name.end(), test_name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    user_db_ = "u_" + test_name;
    post_db_ = "p_" + test_name;
    user_url_ = pg_->CreateDatabase(user_db_);
    post_url_ = pg_->CreateDatabase(post_db_);
  }

  // Runs migrate with both database URLs set (override with `env`) and
  // nothing else inherited that could change its behaviour.
  RunResult Migrate(const std::vector<std::string>& args, EnvVars env = {},
                    const std::string& working_dir = "") {
    EnvVars full = {{"USER_DATABASE_URL", user_url_},
                    {"POST_DATABASE_URL", post_url_},
                    {"MIGRATIONS_DIR", ""}};
    for (const auto& [key, value] : env) full[key] = value;
    return RunToCompletion(MIGRATE_BIN, args, full, kRunTimeout, working_dir);
  }
  std::unique_ptr<ChildProcess> StartMigrate(const std::vector<std::string>& args) {
    return std::make_unique<ChildProcess>(
        MIGRATE_BIN, args,
        EnvVars{{"USER_DATABASE_URL", user_url_}, {"POST_DATABASE_URL", post_url_},
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

  // Two trivial migrations for the user database: tables a and b.
  static void AddSimpleMigrations(const MigrationsDir& dir) {
    dir.Add("user", "0001_create_a", "CREATE TABLE a (x int);\n", "DROP TABLE a;\n");
    dir.Add("user", "0002_create_b", "CREATE TABLE b (x int);\n", "DROP TABLE b;\n");
  }

  static PgCluster* pg_;
  std::string user_db_, post_db_, user_url_, post_url_;
};

PgCluster* MigrateTest::pg_ = nullptr;

// --- The real migrations/ ---------------------------------------------------

// The newest files of migrations/user and migrations/post.
constexpr int kRealUserVersion = 3;
constexpr int kRealPostVersion = 3;

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
  EXPECT_THAT(noop.output, HasSubstr("user: nothing to do, database is at version 3"));
  EXPECT_THAT(noop.output, HasSubstr("post: nothing to do, database is at version 3"));
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
    tx.exec("INSERT INTO users (username, email, password_hash) VALUES "
            "('a', 'a@x.org', 'h'), ('b', 'b@x.org', 'h')");
    tx.exec("WITH d AS (DELETE FROM users WHERE username = 'b' RETURNING id) "
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

  RunResult down = Migrate({"down", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(down.exit_code, 0) << down.output;
  EXPECT_EQ(Version(user_url_), kRealUserVersion - 1);
  EXPECT_EQ(Version(post_url_), kRealPostVersion - 1);
  EXPECT_FALSE(TableExists(user_url_, "user_events"));
  EXPECT_FALSE(TableExists(post_url_, "user_tombstones"));
  EXPECT_EQ(QueryString(post_url_, "SELECT count(*) FROM pg_proc WHERE proname = 'insert_posts'"),
            "0");
  EXPECT_EQ(QueryString(user_url_, "SELECT string_agg(username, ',') FROM users"), "a");
  EXPECT_EQ(QueryString(post_url_, "SELECT string_agg(body, ',') FROM posts"), "kept");
  // The previous release's DeleteUser still works on that schema.
  EXPECT_EQ(QueryString(user_url_, "WITH d AS (DELETE FROM users RETURNING 1) "
                                   "SELECT count(*) FROM d"),
            "1");

  RunResult again = Migrate({"up", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(Version(user_url_), kRealUserVersion);
  EXPECT_EQ(Version(post_url_), kRealPostVersion);
  EXPECT_EQ(QueryString(post_url_, "SELECT string_agg(body, ',') FROM posts"), "kept");
  // A fresh cursor: the consumer starts the feed from its oldest event.
  EXPECT_EQ(QueryString(post_url_, "SELECT position FROM event_cursors"), "");
  EXPECT_EQ(QueryString(user_url_, "SELECT count(*) FROM user_events"), "0");
}

TEST_F(MigrateTest, RealSchemaIndexesAndCaseInsensitiveUniqueness) {
  RunResult up = Migrate({"up", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(up.exit_code, 0) << up.output;

  pqxx::connection user_conn(user_url_);
  pqxx::nontransaction users(user_conn);
  EXPECT_EQ(users.exec1("SELECT count(*) FROM pg_indexes WHERE tablename = 'users' AND indexname IN"
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
    users.exec(
        "INSERT INTO users (username, email, password_hash) VALUES ('bob', 'A@X.org', 'h')");
    ADD_FAILURE() << "'A@X.org' accepted next to 'a@x.org'";
  } catch (const pqxx::unique_violation& e) {
    EXPECT_THAT(e.what(), HasSubstr("users_email_lower_key"));
  }

  pqxx::connection post_conn(post_url_);
  pqxx::nontransaction posts(post_conn);
  EXPECT_EQ(posts.exec1("SELECT count(*) FROM pg_indexes WHERE tablename = 'posts' AND indexname IN"
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
  pg_->Exec("postgres",
            "DO $$ BEGIN"
            "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'user_service') THEN"
            "    CREATE ROLE user_service LOGIN; END IF;"
            "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'post_service') THEN"
            "    CREATE ROLE post_service LOGIN; END IF;"
            " END $$");
  RunResult up = Migrate({"up", "--migrations-dir", kRealMigrations});
  ASSERT_EQ(up.exit_code, 0) << up.output;

  const std::string as_user_service = pg_->UrlFor(user_db_, "user_service");
  {
    pqxx::connection conn(as_user_service);
    pqxx::work tx(conn);
    // INSERT through the identity column, SELECT, UPDATE, DELETE.
    int64_t id = tx.exec1("INSERT INTO users (username, email, password_hash)"
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
    pqxx::connection conn(pg_->UrlFor(post_db_, "post_service"));
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
    EXPECT_EQ(tx.exec1("SELECT outcome FROM insert_posts('{1}', '{hi}', '{NULL}')")[0]
                  .as<std::string>(),
              "inserted");
  }
  {
    // Nobody else may call it (it is not PUBLIC).
    pqxx::connection conn(pg_->UrlFor(post_db_, "user_service"));
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
    pqxx::connection conn(pg_->UrlFor(post_db_, "user_service"));
    pqxx::nontransaction tx(conn);
    EXPECT_THROW(tx.exec("SELECT * FROM posts"), pqxx::insufficient_privilege);
  }

  // Rolling back the grant migration revokes.
  RunResult down = Migrate(
      {"down", "--to", "1", "--target", "user", "--migrations-dir", kRealMigrations});
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

  RunResult up =
      Migrate({"up", "--to", "1", "--target", "user", "--migrations-dir", dir.path()});
  ASSERT_EQ(up.exit_code, 0) << up.output;
  RunResult status = Migrate({"status", "--target", "user", "--migrations-dir", dir.path()});
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_THAT(status.output, AllOf(HasSubstr("current version 1, latest 3"),
                                   HasSubstr("[applied] 0001_create_a"),
                                   HasSubstr("[pending] 0002_create_b"),
                                   HasSubstr("[pending] 0003_create_c"),
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
  EXPECT_EQ(QueryString(user_url_, "SELECT count(*) FROM schema_migrations"
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
  const std::vector<std::string> common = {"--target", "user", "--migrations-dir", dir.path()};
  auto with = [&common](std::vector<std::string> args) {
    args.insert(args.end(), common.begin(), common.end());
    return args;
  };
  ASSERT_EQ(Migrate(with({"up"})).exit_code, 0);

  RunResult one = Migrate(with({"down"}));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_EQ(Version(user_url_), 2);
  EXPECT_FALSE(TableExists(user_url_, "c"));

  RunResult beyond = Migrate(with({"down", "--steps", "5"}));
  EXPECT_EQ(beyond.exit_code, 2) << beyond.output;
  RunResult above = Migrate(with({"down", "--to", "3"}));
  EXPECT_EQ(above.exit_code, 2) << above.output;
  RunResult up_past = Migrate(with({"up", "--to", "9"}));
  EXPECT_EQ(up_past.exit_code, 2) << up_past.output;
  EXPECT_THAT(up_past.output, HasSubstr("--to 9 is beyond the newest migration"));
  EXPECT_EQ(Version(user_url_), 2);

  RunResult two = Migrate(with({"down", "--steps", "2"}));
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_EQ(Version(user_url_), 0);
  EXPECT_FALSE(TableExists(user_url_, "a"));

  RunResult at_zero = Migrate(with({"down"}));
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
  const std::vector<std::string> args = {"up", "--target", "user", "--migrations-dir",
                                         dir.path()};
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
  const std::vector<std::string> args = {"up", "--target", "user", "--migrations-dir",
                                         dir.path()};
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
  const std::vector<std::string> common = {"--target", "user", "--migrations-dir", dir.path()};
  RunResult to1 = Migrate({"up", "--to", "1", "--target", "user", "--migrations-dir", dir.path()});
  ASSERT_EQ(to1.exit_code, 0) << to1.output;

  dir.Add("user", "0001_create_a", "CREATE TABLE a (x bigint);\n", "DROP TABLE a;\n");
  for (const char* command : {"up", "down", "status"}) {
    std::vector<std::string> args = {command};
    args.insert(args.end(), common.begin(), common.end());
    RunResult refused = Migrate(args);
    EXPECT_EQ(refused.exit_code, 4) << command << ": " << refused.output;
    EXPECT_THAT(refused.output, AllOf(HasSubstr("0001_create_a"),
                                      HasSubstr("changed after it was applied"),
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
      {"gap", {{"0001_a.up.sql", "SELECT 1;"}, {"0001_a.down.sql", ""},
               {"0003_c.up.sql", "SELECT 1;"}, {"0003_c.down.sql", ""}},
       "version 0002 is missing"},
      {"no down", {{"0001_a.up.sql", "SELECT 1;"}}, "has no .down.sql file"},
      {"duplicate", {{"0001_a.up.sql", "SELECT 1;"}, {"0001_a.down.sql", ""},
                     {"0001_b.up.sql", "SELECT 1;"}, {"0001_b.down.sql", ""}},
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
  const std::vector<std::string> dry = {"up", "--dry-run", "--target", "user",
                                        "--migrations-dir", dir.path()};
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
  RunResult down_plan =
      Migrate({"down", "--to", "0", "--dry-run", "--target", "user", "--migrations-dir",
               dir.path()});
  ASSERT_EQ(down_plan.exit_code, 0) << down_plan.output;
  EXPECT_THAT(down_plan.output, AllOf(HasSubstr("0002_create_b.down.sql"),
                                      HasSubstr("DROP TABLE a")));
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

  RunResult latest = Migrate({"wait", "--version", "latest", "--target", "user",
                              "--migrations-dir", dir.path()});
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
  RunResult ahead = Migrate({"wait", "--version", "1", "--target", "user", "--migrations-dir",
                             dir.path()});
  EXPECT_EQ(ahead.exit_code, 4) << ahead.output;
  EXPECT_THAT(ahead.output, HasSubstr("at version 2, ahead of the expected version 1"));
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
                                 HasSubstr(std::to_string(port)),
                                 HasSubstr("Connection refused")));
    EXPECT_THAT(up.output, Not(HasSubstr(secret)));
  }

  // The cluster itself down: the socket directory is named.
  pg_->Stop();
  RunResult down = Migrate({"status", "--migrations-dir", kRealMigrations});
  pg_->Restart();
  EXPECT_EQ(down.exit_code, 3) << down.output;
  EXPECT_THAT(down.output, HasSubstr(pg_->socket_dir()));
}

// --- Library pieces with sharp edges (linked directly, no process) ------------

TEST(MigrateLibTest, RedactsPasswordsInEveryUrlSyntax) {
  using migrate::DatabaseUrl;
  using migrate::RedactUnparsedUrl;
  EXPECT_EQ(RedactUnparsedUrl("postgresql://bob:s3cret@db:5432/users"),
            "postgresql://bob:***@db:5432/users");
  EXPECT_EQ(RedactUnparsedUrl("postgres://bob:p%40ss@db/users?sslmode=require"),
            "postgres://bob:***@db/users?sslmode=require");
  EXPECT_EQ(RedactUnparsedUrl("postgresql://db/users?user=bob&password=s3cret&x=1"),
            "postgresql://db/users?user=bob&password=***&x=1");
  EXPECT_EQ(RedactUnparsedUrl("host=db password='s3 cret' user=bob"),
            "host=db password=*** user=bob");
  EXPECT_EQ(RedactUnparsedUrl("postgresql://bob@db/users"), "postgresql://bob@db/users");

  // A message quoting the decoded password is redacted too.
  DatabaseUrl url("USER_DATABASE_URL", "postgresql://bob:p%40ss@db/users");
  EXPECT_EQ(url.Redact("auth failed for p@ss"), "auth failed for ***");
  EXPECT_THAT(url.Endpoint(), AllOf(HasSubstr("host db"), HasSubstr("port 5432"),
                                    HasSubstr("database users"), HasSubstr("user bob")));
}

TEST(MigrateLibTest, PositionToLineColumnCountsUtf8Characters) {
  using migrate::PositionToLineColumn;
  const std::string text = "ab\nc\xc3\xa9" "d\n\nx";  // "é" is 2 bytes, 1 character
  auto at = [&text](int position) {
    migrate::LineColumn lc = PositionToLineColumn(text, position);
    return std::to_string(lc.line) + ":" + std::to_string(lc.column);
  };
  EXPECT_EQ(at(1), "1:1");
  EXPECT_EQ(at(3), "1:3");  // the newline itself
  EXPECT_EQ(at(4), "2:1");
  EXPECT_EQ(at(6), "2:3");  // 'd' after the 2-byte 'é'
  EXPECT_EQ(at(9), "4:1");
}

TEST(MigrateLibTest, ParsesOnlyWellFormedMigrationFileNames) {
  using migrate::ParseMigrationFileName;
  const auto up = ParseMigrationFileName("0012_create_users2.up.sql");
  ASSERT_TRUE(up.has_value());
  EXPECT_EQ(up->version, 12);
  EXPECT_EQ(up->name, "create_users2");
  EXPECT_TRUE(up->is_up);
  const auto down = ParseMigrationFileName("0001__x.down.sql");
  ASSERT_TRUE(down.has_value());
  EXPECT_EQ(down->name, "_x");
  EXPECT_FALSE(down->is_up);
  // Well-formed, refused later by the loader with its own message.
  EXPECT_EQ(ParseMigrationFileName("0000_init.up.sql")->version, 0);

  for (const char* bad : {"", "0001", "0001_", "0001_.up.sql", "001_a.up.sql", "00001_a.up.sql",
                          "0001-a.up.sql", "0001_A.up.sql", "0001_a-b.up.sql", "0001_a.b.up.sql",
                          "0001_a.up.sql~", "0001_a.UP.sql", "0001_a.sideways.sql",
                          "0001_a.up.sq", "000\xd9\xa1_a.up.sql", "+001_a.up.sql"}) {
    EXPECT_FALSE(ParseMigrationFileName(bad).has_value()) << bad;
  }
  // An embedded NUL is part of the name, not its end.
  EXPECT_FALSE(ParseMigrationFileName(std::string_view("0001_a.up.sql\0x", 15)).has_value());
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
      {{"up", "--migrations-dir", "/nonexistent/migrations"}, {},
       "migrations folder /nonexistent/migrations/user does not exist", false},
      {{"up", "--migrations-dir", kRealMigrations}, {{"POST_DATABASE_URL", ""}},
       "set POST_DATABASE_URL"},
      {{"up", "--target", "everything", "--migrations-dir", kRealMigrations}, {},
       "unknown --target 'everything'"},
      {{"up", "--migrations-dir", kRealMigrations},
       {{"USER_DATABASE_URL", "postgresql://u:pw0rd@h/db?bogus=1"}},
       "USER_DATABASE_URL is not a valid PostgreSQL URL", false},
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

TEST(MigrateCliTest, HelpListsCommandsFlagsEnvironmentAndExitCodes) {
  RunResult help = RunCli({"--help"});
  ASSERT_EQ(help.exit_code, 0) << help.output;
  for (const char* text : {"up", "down", "status", "history", "wait --version", "--target",
                           "--dry-run", "--steps", "USER_DATABASE_URL", "POST_DATABASE_URL",
                           "Exit codes", "5  `wait` timed out"}) {
    EXPECT_THAT(help.output, HasSubstr(text));
  }
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
