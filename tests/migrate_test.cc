#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "support/child_process.h"
#include "support/pg_cluster.h"

namespace microblog {
namespace testing {
namespace {

TEST(SupportSmoke, ClusterAndChild) {
  auto pg = PgCluster::Start();
  std::string url = pg->CreateDatabase("db1");
  std::string role_url = pg->CreateRole("someone", "db1");
  {
    pqxx::connection c(role_url);
    pqxx::work tx(c);
    EXPECT_EQ(tx.exec1("SELECT current_user")[0].as<std::string>(), "someone");
  }
  pg->Stop();
  EXPECT_THROW(pqxx::connection{url}, pqxx::broken_connection);
  pg->Restart();
  pqxx::connection c(url);
  RunResult r = RunToCompletion("sh", {"-c", "echo out; echo err >&2; exit 3"}, {{"X", "1"}});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.output, "out\nerr\n");
  EXPECT_GT(FreeTcpPort(), 0);
  ChildProcess sleeper("sleep", {"100"});
  EXPECT_FALSE(sleeper.WaitExit(std::chrono::milliseconds(50)).has_value());
  sleeper.Signal(15);
  EXPECT_EQ(sleeper.WaitExit(std::chrono::seconds(5)), 128 + 15);
}

}  // namespace
}  // namespace testing
}  // namespace microblog
