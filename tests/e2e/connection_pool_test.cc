// The connection pool (common/db/connection_pool.h) against a real PostgreSQL
// (stopped and restarted under it): prepared and unnamed statements, array
// parameters, failures and deadlines, its metrics; and its Ping against a
// server on loopback that never answers.
#include "common/db/connection_pool.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/nontransaction>

#include "common/base/metrics.h"
#include "common/db/array_literal.h"
#include "common/db/named_statement.h"
#include "support/eventually.h"
#include "support/shared_cluster.h"

namespace microblog {
namespace {

using std::chrono::system_clock;
using namespace std::chrono_literals;
using test_support::Eventually;
using test_support::SharedCluster;

// The pool against a real PostgreSQL.
class ConnectionPoolTest : public ::testing::Test {
 protected:
  static ConnectionPoolOptions Options(std::size_t size) {
    ConnectionPoolOptions options;
    options.url = SharedCluster().SuperuserUrl();
    options.size = size;
    options.statement_timeout = 300ms;
    options.prepare = [](pqxx::connection& c) { c.prepare("add", "SELECT $1::int + $2::int"); };
    return options;
  }
  static system_clock::time_point Soon() { return system_clock::now() + 5s; }
};

absl::StatusOr<int> Add(ConnectionPool& pool, int a, int b) {
  return pool.Run<int>(system_clock::now() + 5s, [&](pqxx::connection& c) -> absl::StatusOr<int> {
    pqxx::nontransaction tx(c);
    return tx.exec_prepared1("add", a, b)[0].as<int>();
  });
}

TEST_F(ConnectionPoolTest, RunsPreparedStatements) {
  ConnectionPool pool(Options(2));
  auto sum = Add(pool, 2, 3);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(*sum, 5);
  EXPECT_TRUE(pool.Ping(Soon()).ok());
}

// Both modes of DB_PREPARED_STATEMENTS run the same NamedStatement through
// Exec(); `off` leaves nothing on the session (no prepared statement, no
// SET statement_timeout), which a transaction-mode pooler requires.
TEST_F(ConnectionPoolTest, ExecRunsNamedStatementsPreparedOrUnnamed) {
  static constexpr NamedStatement kAdd{"add_named", "SELECT $1::int + $2::int"};
  static constexpr NamedStatement kStatements[] = {kAdd};
  for (const bool prepared : {true, false}) {
    SCOPED_TRACE(prepared ? "on" : "off");
    ConnectionPoolOptions options = Options(1);
    options.prepare = [](pqxx::connection& c) { PrepareAll(c, kStatements); };
    options.prepared_statements = prepared;
    ConnectionPool pool(std::move(options));
    EXPECT_EQ(pool.statement_mode(), prepared ? StatementMode::kPrepared : StatementMode::kUnnamed);
    struct Session {
      int sum;
      int64_t prepared_statements;
      std::string statement_timeout;
    };
    auto session = pool.Run<Session>(Soon(), [&](pqxx::connection& c) -> absl::StatusOr<Session> {
      pqxx::nontransaction tx(c);
      Session s;
      s.sum = pool.Exec(tx, kAdd, 2, 3)[0][0].as<int>();
      s.prepared_statements =
          tx.exec1("SELECT count(*) FROM pg_prepared_statements")[0].as<int64_t>();
      s.statement_timeout = tx.exec1("SHOW statement_timeout")[0].as<std::string>();
      return s;
    });
    ASSERT_TRUE(session.ok()) << session.status();
    EXPECT_EQ(session->sum, 5);
    EXPECT_EQ(session->prepared_statements, prepared ? 1 : 0);
    EXPECT_EQ(session->statement_timeout, prepared ? "300ms" : "0");
  }
}

// Array parameters: what goes in as TextArray comes out of PostgreSQL as
// the same texts, in order, NULLs included.
TEST_F(ConnectionPoolTest, TextArrayRoundTripsAnyText) {
  const std::vector<std::optional<std::string>> texts = {"plain",
                                                         "",
                                                         "with, comma",
                                                         "{braces}",
                                                         "\"quoted\"",
                                                         "back\\slash",
                                                         "NULL",
                                                         std::nullopt,
                                                         "  spaces  ",
                                                         "new\nline",
                                                         "\xc3\xa6\xe5\xb1\xb1 \xf0\x9f\x98\x80",
                                                         "\\\""};
  pqxx::connection c(SharedCluster().SuperuserUrl());
  pqxx::nontransaction tx(c);
  const pqxx::result rows = tx.exec_params(
      "SELECT t FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n", TextArray(texts));
  ASSERT_EQ(rows.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (texts[i]) {
      EXPECT_EQ(rows[i][0].as<std::string>(), *texts[i]) << i;
    } else {
      EXPECT_TRUE(rows[i][0].is_null()) << i;
    }
  }
  EXPECT_EQ(tx.exec_params1("SELECT cardinality($1::text[])", TextArray({}))[0].as<int>(), 0);
}

TEST_F(ConnectionPoolTest, ReturnsTheConnectionWhenTheCallbackThrows) {
  ConnectionPool pool(Options(1));
  for (int i = 0; i < 3; ++i) {
    const absl::Status status = pool.RunStatus(
        Soon(), [](pqxx::connection&) -> absl::Status { throw std::runtime_error("boom"); });
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  }
  // With a pool of one, this would wait forever had a throw leaked the slot.
  EXPECT_TRUE(Add(pool, 1, 1).ok());
}

TEST_F(ConnectionPoolTest, SqlErrorsAreInternalAndTimeoutsAreDeadlineExceeded) {
  ConnectionPool pool(Options(1));
  const absl::Status bad_sql = pool.RunStatus(Soon(), [](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec("SELECT * FROM no_such_table");
    return absl::OkStatus();
  });
  EXPECT_EQ(bad_sql.code(), absl::StatusCode::kInternal);
  const absl::Status slow = pool.RunStatus(Soon(), [](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec("SELECT pg_sleep(5)");
    return absl::OkStatus();
  });
  EXPECT_EQ(slow.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(Add(pool, 1, 1).ok());
}

TEST_F(ConnectionPoolTest, WaitsForAFreeConnectionOnlyUntilTheDeadline) {
  Registry metrics;
  ConnectionPoolOptions options = Options(1);
  options.metrics = &metrics;
  options.name = "test";
  ConnectionPool pool(std::move(options));
  std::thread holder([&] {
    (void)pool.RunStatus(Soon(), [](pqxx::connection&) {
      std::this_thread::sleep_for(1s);
      return absl::OkStatus();
    });
  });
  std::this_thread::sleep_for(200ms);
  const absl::Status status = pool.RunStatus(system_clock::now() + 100ms,
                                             [](pqxx::connection&) { return absl::OkStatus(); });
  holder.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(Add(pool, 1, 1).ok());

  // The metrics saw it: three checkouts, one of which waited (and gave up
  // at its deadline, after ~100 ms); nothing in use now, one idle.
  const std::string text = metrics.Render();
  for (const char* sample : {"microblog_db_pool_acquisitions_total{pool=\"test\"} 3\n",
                             "microblog_db_pool_waits_total{pool=\"test\"} 1\n",
                             "microblog_db_pool_wait_seconds_count{pool=\"test\"} 1\n",
                             "microblog_db_pool_wait_seconds_bucket{pool=\"test\",le=\"0.05\"} 0\n",
                             "microblog_db_pool_max_connections{pool=\"test\"} 1\n",
                             "microblog_db_pool_connections{pool=\"test\",state=\"in_use\"} 0\n",
                             "microblog_db_pool_connections{pool=\"test\",state=\"idle\"} 1\n"}) {
    EXPECT_NE(text.find(sample), std::string::npos) << sample << "\n" << text;
  }
}

TEST_F(ConnectionPoolTest, PingAnswersWhileEveryPooledConnectionIsBusy) {
  ConnectionPool pool(Options(1));
  std::atomic<bool> held{false};
  std::thread holder([&] {
    (void)pool.RunStatus(Soon(), [&](pqxx::connection&) {
      held = true;
      std::this_thread::sleep_for(1s);
      return absl::OkStatus();
    });
  });
  // Its own connection, made beforehand: the short deadline below is for
  // the query, not for starting a backend on a loaded machine.
  ASSERT_TRUE(pool.Ping(Soon()).ok());
  ASSERT_TRUE(Eventually([&] { return held.load(); }));
  // A busy service is a healthy one: the ping must not wait for the pool.
  const absl::Status ping = pool.Ping(system_clock::now() + 100ms);
  holder.join();
  EXPECT_TRUE(ping.ok()) << ping;
}

TEST_F(ConnectionPoolTest, FailsFastWhileTheDatabaseIsDownAndRecoversAfter) {
  ConnectionPool pool(Options(4));
  ASSERT_TRUE(Add(pool, 1, 2).ok());
  SharedCluster().Stop();
  // Both the idle (now broken) connection and new connects must fail with
  // UNAVAILABLE, well before the 5 s deadline.
  for (int i = 0; i < 3; ++i) {
    auto sum = Add(pool, 1, 2);
    EXPECT_EQ(sum.status().code(), absl::StatusCode::kUnavailable) << sum.status();
  }
  EXPECT_EQ(pool.Ping(Soon()).code(), absl::StatusCode::kUnavailable);
  SharedCluster().Restart();
  absl::StatusOr<int> sum = absl::UnavailableError("not tried");
  ASSERT_TRUE(Eventually([&] {
    sum = Add(pool, 1, 2);
    return sum.ok();
  })) << sum.status();
  EXPECT_EQ(*sum, 3);
}

// A TCP server on loopback that never answers a PostgreSQL client: the
// kernel completes the handshake, then there is silence. With
// `answer_startup`, it first lets one client log in (no TLS, no password),
// then ignores everything that client sends.
class SilentServer {
 public:
  explicit SilentServer(bool answer_startup) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (listener_ < 0 || bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(listener_, 8) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot listen on loopback");
    }
    port_ = ntohs(address.sin_port);
    if (answer_startup) thread_ = std::thread([this] { AnswerStartupThenIgnore(); });
  }
  ~SilentServer() {
    if (thread_.joinable()) thread_.join();
    close(listener_);
  }
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;

  std::string Url() const {
    return "host=127.0.0.1 port=" + std::to_string(port_) +
           " user=nobody dbname=nothing sslmode=disable gssencmode=disable";
  }

 private:
  void AnswerStartupThenIgnore() {
    pollfd pending{listener_, POLLIN, 0};
    if (poll(&pending, 1, 30000) != 1) return;
    const int client = accept(listener_, nullptr, nullptr);
    if (client < 0) return;
    char buffer[1024];
    // The startup message, then AuthenticationOk and ReadyForQuery (idle).
    if (recv(client, buffer, sizeof(buffer), 0) > 0) {
      const char reply[] = {'R', 0, 0, 0, 8, 0, 0, 0, 0, 'Z', 0, 0, 0, 5, 'I'};
      (void)send(client, reply, sizeof(reply), MSG_NOSIGNAL);
      // Whatever comes next (the query, then Terminate) gets no answer,
      // until the client hangs up.
      while (recv(client, buffer, sizeof(buffer), 0) > 0) {
      }
    }
    close(client);
  }

  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// Ping against `server`, which never answers: it must end at its deadline,
// not at connect_timeout (10 s here) or never.
void ExpectPingEndsAtItsDeadline(const SilentServer& server) {
  ConnectionPoolOptions options;
  options.url = server.Url();
  options.connect_timeout = 10s;
  ConnectionPool pool(options);
  const auto start = std::chrono::steady_clock::now();
  const absl::Status ping = pool.Ping(system_clock::now() + 300ms);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(ping.code(), absl::StatusCode::kDeadlineExceeded) << ping;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
}

TEST(ConnectionPoolPing, EndsAtItsDeadlineWhenConnectingGetsNoAnswer) {
  SilentServer server(/*answer_startup=*/false);
  ExpectPingEndsAtItsDeadline(server);
}

TEST(ConnectionPoolPing, EndsAtItsDeadlineWhenTheQueryGetsNoAnswer) {
  SilentServer server(/*answer_startup=*/true);
  ExpectPingEndsAtItsDeadline(server);
}

}  // namespace
}  // namespace microblog
