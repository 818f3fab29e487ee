// `user-service backfill-identity-keys` (user-service/identity_backfill.h),
// the real binary on a real PostgreSQL: a users database migrated to 0004
// already holds accounts that the identity rule of 0005/0006 says collide;
// the migration goes through, the backfill fills every other row, reports
// the later account of each pair (never deletes or merges one), runs again
// to the same result, and --check gates the contract release until an
// operator renamed them.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "common/text/email_address.h"
#include "common/text/username_profile.h"
#include "support/child_process.h"
#include "support/pg_cluster.h"
#include "support/shared_cluster.h"

namespace microblog {
namespace test_support {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr std::chrono::seconds kRunTimeout(60);

// The lines of `output` that start with `prefix`.
std::vector<std::string> LinesStartingWith(const std::string& output, const std::string& prefix) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) lines.push_back(line);
  }
  return lines;
}

class IdentityBackfillTest : public ::testing::Test {
 protected:
  static PgCluster& pg() { return SharedCluster(); }

  void SetUp() override {
    static std::atomic<int> counter{0};
    db_ = "backfill_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
    superuser_url_ = pg().CreateDatabase(db_);
    // The service's role, as the Job runs the backfill: SELECT and UPDATE on
    // users are all it needs (roles are cluster-wide: maybe there already).
    {
      pqxx::connection conn(pg().SuperuserUrl());
      pqxx::nontransaction tx(conn);
      if (tx.exec("SELECT 1 FROM pg_roles WHERE rolname = 'user_service'").empty()) {
        tx.exec("CREATE ROLE user_service LOGIN");
      }
    }
    service_url_ = pg().UrlFor(db_, "user_service");
    // The schema before the identity forms.
    const RunResult migrated = Migrate({"up", "--to", "4", "--target", "user"});
    ASSERT_EQ(migrated.exit_code, 0) << migrated.output;
  }

  RunResult Migrate(const std::vector<std::string>& args) {
    // `migrate` reads ./migrations: it runs from the repository root.
    return RunToCompletion(MIGRATE_BIN, args, {{"USER_DATABASE_URL", superuser_url_}}, kRunTimeout,
                           MICROBLOG_SOURCE_DIR);
  }

  // user-service backfill-identity-keys `args`, as the user_service role.
  RunResult Backfill(std::vector<std::string> args = {}) {
    args.insert(args.begin(), "backfill-identity-keys");
    return RunToCompletion(USER_SERVICE_BIN, args, {{"USER_DATABASE_URL", service_url_}},
                           kRunTimeout);
  }

  // An account as an older release wrote it (no forms); its id.
  std::string Insert(const std::string& username, const std::string& email) {
    pqxx::connection conn(superuser_url_);
    pqxx::nontransaction tx(conn);
    return tx
        .exec_params1(
            "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, 'x') "
            "RETURNING id",
            username, email)[0]
        .as<std::string>();
  }

  // The first column of the first row of `sql` ("" for NULL).
  std::string Query(const std::string& sql) { return pg().Query(db_, sql); }
  // Column `column` of account `id` ("" for NULL).
  std::string Column(const std::string& id, const std::string& column) {
    return Query("SELECT " + column + " FROM users WHERE id = " + id);
  }
  // Every row, every column: what a run must leave as it was.
  std::string Snapshot() {
    return Query(
        "SELECT string_agg(concat_ws('|', id, username, email, password_hash, "
        "username_canonical, username_skeleton, email_canonical), E'\\n' ORDER BY id) FROM users");
  }

  // The rows of the scenario, written before 0005: four pairs, the later
  // of each colliding under the identity rule, in id order.
  void InsertCollidingAccounts() {
    // The test cluster's C locale, as many databases': lower() leaves É as
    // it is, so users_username_lower_key let "ÉMILE" in beside "émile".
    emile_ = Insert("émile", "emile@example.com");
    ada_ = Insert("ada", "ada@example.com");
    emile_upper_ = Insert("ÉMILE", "EMILE2@example.com");  // same canonical username
    cyrillic_ada_ = Insert("\u0430da", "x@example.com");   // Cyrillic а: refused
    m_ = Insert("m", "m@example.com");
    rn_ = Insert("rn", "rn@example.com");  // looks like "m"
    bob_ = Insert("bob", "Bob@\u00e9cole.example");
    bobby_ = Insert("bobby", "bob@XN--COLE-9OA.example");  // the same domain, in IDNA
  }

  // What the backfill reports for those rows, in id order.
  std::vector<std::string> ExpectedConflicts() {
    absl::StatusOr<UsernameForms> refused = PrepareUsername("\u0430da");
    EXPECT_FALSE(refused.ok());
    return {
        "conflict id=" + emile_upper_ + " field=username reason=\"same username as account " +
            emile_ + "\"",
        "conflict id=" + cyrillic_ada_ + " field=username reason=\"" +
            std::string(refused.status().message()) + "\"",
        "conflict id=" + rn_ + " field=username reason=\"username looks like that of account " +
            m_ + "\"",
        "conflict id=" + bobby_ + " field=email reason=\"same email as account " + bob_ + "\"",
    };
  }

  std::string db_, superuser_url_, service_url_;
  std::string emile_, ada_, emile_upper_, cyrillic_ada_, m_, rn_, bob_, bobby_;
};

TEST_F(IdentityBackfillTest, TheScenarioCollidesOnlyUnderTheNewRule) {
  // The premise of the other tests: lower() tells each pair apart, the
  // profile does not (or refuses the name).
  absl::StatusOr<UsernameForms> emile = PrepareUsername("émile");
  absl::StatusOr<UsernameForms> emile_upper = PrepareUsername("ÉMILE");
  absl::StatusOr<UsernameForms> m = PrepareUsername("m");
  absl::StatusOr<UsernameForms> rn = PrepareUsername("rn");
  ASSERT_TRUE(emile.ok() && emile_upper.ok() && m.ok() && rn.ok());
  EXPECT_EQ(emile->canonical, emile_upper->canonical);
  EXPECT_NE(m->canonical, rn->canonical);
  EXPECT_EQ(m->skeleton, rn->skeleton);
  EXPECT_FALSE(PrepareUsername("\u0430da").ok());
  absl::StatusOr<std::string> bob = EmailComparisonKey("Bob@\u00e9cole.example");
  absl::StatusOr<std::string> bobby = EmailComparisonKey("bob@XN--COLE-9OA.example");
  ASSERT_TRUE(bob.ok() && bobby.ok());
  EXPECT_EQ(*bob, *bobby);
  EXPECT_EQ(Query("SELECT lower('ÉMILE') = lower('émile')"), "f");
}

TEST_F(IdentityBackfillTest, AnOlderAccountKeepsItsNameAndTheLaterOneIsReportedNotMerged) {
  InsertCollidingAccounts();
  // 0005 and 0006 go through on the colliding rows: their forms are NULL.
  const RunResult migrated = Migrate({"up", "--target", "user"});
  ASSERT_EQ(migrated.exit_code, 0) << migrated.output;
  ASSERT_EQ(Query("SELECT max(version) FROM schema_migrations"), "6");

  // Batches of 2: a pair across batches (émile, ÉMILE), a refusal, pairs
  // within a batch (m and rn, bob and bobby).
  const RunResult run = Backfill({"--batch-size=2"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(LinesStartingWith(run.output, "conflict "), ExpectedConflicts()) << run.output;
  EXPECT_THAT(run.output,
              HasSubstr("backfill-identity-keys: filled 4 rows, 4 rows need an "
                        "operator (see docs/identities.md, \"Accounts that collide\")"));

  // Nothing deleted, nothing merged.
  EXPECT_EQ(Query("SELECT count(*) FROM users"), "8");
  EXPECT_EQ(Column(emile_upper_, "username"), "ÉMILE");
  // The older accounts hold their forms.
  EXPECT_EQ(Column(emile_, "username_canonical"), "émile");
  EXPECT_EQ(Column(emile_, "email_canonical"), "emile@example.com");
  EXPECT_EQ(Column(ada_, "username_canonical"), "ada");
  EXPECT_EQ(Column(m_, "username_canonical"), "m");
  EXPECT_EQ(Column(bob_, "email_canonical"), "bob@xn--cole-9oa.example");
  EXPECT_EQ(Query("SELECT count(*) FROM users WHERE username_canonical IS NOT NULL AND "
                  "username_skeleton IS NOT NULL AND email_canonical IS NOT NULL"),
            "4");
  // The later ones keep NULL forms for the field that collides (served
  // through lower() as before), and get those of the other field.
  for (const std::string& id : {emile_upper_, cyrillic_ada_, rn_}) {
    EXPECT_EQ(Column(id, "username_canonical"), "") << id;
    EXPECT_EQ(Column(id, "username_skeleton"), "") << id;
  }
  EXPECT_EQ(Column(emile_upper_, "email_canonical"), "emile2@example.com");
  EXPECT_EQ(Column(cyrillic_ada_, "email_canonical"), "x@example.com");
  EXPECT_EQ(Column(rn_, "email_canonical"), "rn@example.com");
  EXPECT_EQ(Column(bobby_, "username_canonical"), "bobby");
  EXPECT_EQ(Column(bobby_, "email_canonical"), "");
}

TEST_F(IdentityBackfillTest, ASecondRunWritesNothingAndReportsTheSameRows) {
  InsertCollidingAccounts();
  ASSERT_EQ(Migrate({"up", "--target", "user"}).exit_code, 0);
  const RunResult first = Backfill({"--batch-size=2"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string after_first = Snapshot();

  const RunResult second = Backfill({"--batch-size", "3"});
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(LinesStartingWith(second.output, "conflict "), ExpectedConflicts()) << second.output;
  EXPECT_THAT(second.output, HasSubstr("filled 0 rows, 4 rows need an operator"));
  EXPECT_EQ(Snapshot(), after_first);
}

TEST_F(IdentityBackfillTest, TheCheckFailsUntilAnOperatorRenamedTheLaterAccounts) {
  InsertCollidingAccounts();
  ASSERT_EQ(Migrate({"up", "--target", "user"}).exit_code, 0);
  // Before any backfill, every row lacks its forms.
  const RunResult before = Backfill({"--check"});
  EXPECT_EQ(before.exit_code, 1) << before.output;
  EXPECT_THAT(before.output, HasSubstr("--check: 8 rows without identity keys"));

  ASSERT_EQ(Backfill().exit_code, 0);
  const std::string filled = Snapshot();
  const RunResult check = Backfill({"--check", "--batch-size=2"});
  EXPECT_EQ(check.exit_code, 1) << check.output;
  EXPECT_THAT(LinesStartingWith(check.output, "unfilled "),
              ElementsAre("unfilled id=" + emile_upper_ + " field=username",
                          "unfilled id=" + cyrillic_ada_ + " field=username",
                          "unfilled id=" + rn_ + " field=username",
                          "unfilled id=" + bobby_ + " field=email"))
      << check.output;
  EXPECT_THAT(check.output, HasSubstr("backfill-identity-keys --check: 4 rows without identity "
                                      "keys"));
  EXPECT_EQ(Snapshot(), filled) << "--check wrote";

  // What an operator does once the owners chose (UpdateUser in production;
  // here the SQL of an older release, which leaves the forms NULL).
  pg().Exec(db_, "UPDATE users SET username = 'emile2' WHERE id = " + emile_upper_ +
                     "; UPDATE users SET username = 'ada2' WHERE id = " + cyrillic_ada_ +
                     "; UPDATE users SET username = 'rn2' WHERE id = " + rn_ +
                     "; UPDATE users SET email = 'bobby@example.com' WHERE id = " + bobby_);
  const RunResult again = Backfill();
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(LinesStartingWith(again.output, "conflict "), IsEmpty()) << again.output;
  EXPECT_THAT(again.output, HasSubstr("filled 4 rows, 0 rows need an operator"));
  EXPECT_EQ(Column(emile_upper_, "username_canonical"), "emile2");
  EXPECT_EQ(Column(bobby_, "email_canonical"), "bobby@example.com");

  const RunResult done = Backfill({"--check"});
  EXPECT_EQ(done.exit_code, 0) << done.output;
  EXPECT_THAT(LinesStartingWith(done.output, "unfilled "), IsEmpty());
  EXPECT_THAT(done.output, HasSubstr("--check: 0 rows without identity keys"));
  EXPECT_EQ(Query("SELECT count(*) FROM users"), "8");
}

TEST_F(IdentityBackfillTest, AFormAlreadyStoredIsNeverOverwritten) {
  ASSERT_EQ(Migrate({"up", "--target", "user"}).exit_code, 0);
  // As this release writes a row whose email the profile refused: the
  // username's forms, the email's NULL. The backfill adds nothing to it and
  // changes none of its forms.
  const std::string id = Insert("zoe", "zoe@example.com");
  pg().Exec(db_,
            "UPDATE users SET username_canonical = 'stored', username_skeleton = 'stored' "
            "WHERE id = " +
                id);
  const RunResult run = Backfill();
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(Column(id, "username_canonical"), "stored");
  EXPECT_EQ(Column(id, "username_skeleton"), "stored");
  EXPECT_EQ(Column(id, "email_canonical"), "zoe@example.com");
  EXPECT_THAT(run.output, HasSubstr("filled 1 rows, 0 rows need an operator"));
}

TEST_F(IdentityBackfillTest, ADatabaseWithoutTheColumnsIsAnErrorOnOneLine) {
  // Still at 0004: the backfill runs after `migrate up`, never before.
  const RunResult run = Backfill();
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("user-service backfill-identity-keys: "));
  EXPECT_THAT(run.output, HasSubstr("username_canonical"));
  EXPECT_EQ(std::count(run.output.begin(), run.output.end(), '\n'), 1) << run.output;
}

TEST_F(IdentityBackfillTest, BadFlagsAreAUsageErrorThatTouchesNoDatabase) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--batch-size=0"},
                                               {"--batch-size=ten"},
                                               {"--batch-size"},
                                               {"--no-such-flag"}}) {
    const RunResult run = Backfill(args);
    EXPECT_EQ(run.exit_code, 2) << args[0] << ": " << run.output;
    EXPECT_THAT(run.output, HasSubstr("user-service backfill-identity-keys: ")) << args[0];
  }
  const RunResult no_url = RunToCompletion(USER_SERVICE_BIN, {"backfill-identity-keys"},
                                           {{"USER_DATABASE_URL", ""}}, kRunTimeout);
  EXPECT_EQ(no_url.exit_code, 2) << no_url.output;
  EXPECT_THAT(no_url.output, HasSubstr("USER_DATABASE_URL is required"));
  // The flag of the service's own configuration works too.
  const RunResult by_flag =
      RunToCompletion(USER_SERVICE_BIN,
                      {"backfill-identity-keys", "--user-database-url=" + service_url_, "--check"},
                      {{"USER_DATABASE_URL", ""}}, kRunTimeout);
  EXPECT_EQ(by_flag.exit_code, 2) << by_flag.output;  // still at 0004: no columns
  EXPECT_THAT(by_flag.output, HasSubstr("username_canonical"));
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
