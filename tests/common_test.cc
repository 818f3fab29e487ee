// Unit tests of common/: status mapping, text limits, page tokens,
// configuration, URL redaction, and the connection pool against a real
// PostgreSQL (stopped and restarted under it) and against a server that
// never answers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/nontransaction>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "common/service/config.h"
#include "common/db/connection_pool.h"
#include "common/db/array_literal.h"
#include "common/db/named_statement.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/base/page_token.h"
#include "common/base/status.h"
#include "common/rpc/grpc_status.h"
#include "common/base/trace_context.h"
#include "common/base/utf8.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "support/eventually.h"
#include "support/pg_cluster.h"

namespace microblog {
namespace {

using std::chrono::system_clock;
using namespace std::chrono_literals;
using test_support::Eventually;

TEST(Status, InvalidArgumentCarriesBadRequestDetails) {
  const grpc::Status status =
      ToGrpcStatus(InvalidArgument({{"username", "too long"}, {"email", "missing @"}}));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("username: too long"), std::string::npos);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::BadRequest bad_request;
  ASSERT_TRUE(details.details(0).UnpackTo(&bad_request));
  ASSERT_EQ(bad_request.field_violations_size(), 2);
  EXPECT_EQ(bad_request.field_violations(1).field(), "email");
  EXPECT_EQ(bad_request.field_violations(1).description(), "missing @");
}

TEST(Status, NotFoundResourceCarriesResourceInfo) {
  const grpc::Status status = ToGrpcStatus(NotFoundResource("user", "42", "user 42 does not exist"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  google::rpc::ResourceInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.resource_type(), "user");
  EXPECT_EQ(info.resource_name(), "42");
}

TEST(Status, InternalErrorsNeverLeakTheirCause) {
  const grpc::Status status =
      ToGrpcStatus(absl::InternalError("ERROR: relation \"users\" ... host=db password=x"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(status.error_message(), "internal error");
  EXPECT_TRUE(status.error_details().empty());
}

TEST(Utf8, CountsCodePointsNotBytes) {
  EXPECT_EQ(CountCodePoints(""), 0u);
  EXPECT_EQ(CountCodePoints("abc"), 3u);
  EXPECT_EQ(CountCodePoints("\xC3\xA9t\xC3\xA9"), 3u);     // été
  EXPECT_EQ(CountCodePoints("\xF0\x9F\x98\x80"), 1u);      // U+1F600
  EXPECT_EQ(CountCodePoints("\xE6\x97\xA5\xE6\x9C\xAC"), 2u);  // 日本
}

TEST(Utf8, RejectsInvalidSequences) {
  EXPECT_FALSE(CountCodePoints("\xC3").has_value());          // truncated
  EXPECT_FALSE(CountCodePoints("\xC0\xAF").has_value());      // overlong '/'
  EXPECT_FALSE(CountCodePoints("\xED\xA0\x80").has_value());  // surrogate
  EXPECT_FALSE(CountCodePoints("\xF4\x90\x80\x80").has_value());  // > U+10FFFF
  EXPECT_FALSE(CountCodePoints("\x80").has_value());
}

TEST(Utf8, BlankMeansOnlyWhitespace) {
  EXPECT_TRUE(IsBlank(""));
  EXPECT_TRUE(IsBlank(" \t\n"));
  EXPECT_TRUE(IsBlank("\xE3\x80\x80\xC2\xA0"));  // ideographic space, nbsp
  EXPECT_FALSE(IsBlank(" a "));
  EXPECT_FALSE(IsBlank("\xC3\xA9"));
}

TEST(PageToken, RoundTrips) {
  const std::string token = EncodePageToken("posts", {7, 1700000000123456, -3});
  auto values = DecodePageToken("posts", token, 3);
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(*values, (std::vector<int64_t>{7, 1700000000123456, -3}));
}

TEST(PageToken, RejectsForeignOrDamagedTokens) {
  const std::string token = EncodePageToken("posts", {1, 2, 3});
  EXPECT_EQ(DecodePageToken("users", token, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("posts", token, 2).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("posts", "not a token!", 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodePageToken("posts", token.substr(1), 3).status().code(),
            absl::StatusCode::kInvalidArgument);
  const auto violations = FieldViolationsOf(DecodePageToken("posts", "x", 3).status());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "page_token");
}

TEST(PageToken, ResolvesPageSizes) {
  EXPECT_EQ(*ResolvePageSize(0, 20, 100), 20);
  EXPECT_EQ(*ResolvePageSize(7, 20, 100), 7);
  EXPECT_EQ(*ResolvePageSize(100, 20, 100), 100);
  EXPECT_EQ(*ResolvePageSize(101, 20, 100), 100);
  EXPECT_EQ(ResolvePageSize(-1, 20, 100).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Config, FlagsOverrideEnvironmentWhichOverridesDefaults) {
  setenv("DB_POOL_SIZE", "5", 1);
  setenv("LOG_LEVEL", "warn", 1);
  const char* argv[] = {"svc", "--log-level=debug", "--listen-address", "127.0.0.1:1"};
  auto config = Config::Parse("svc", "test", CommonServerOptions("0.0.0.0:50051"), 4, argv);
  unsetenv("DB_POOL_SIZE");
  unsetenv("LOG_LEVEL");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetString("LISTEN_ADDRESS"), "127.0.0.1:1");
  EXPECT_EQ(config->GetString("LOG_LEVEL"), "debug");
  EXPECT_EQ(*config->GetInt("DB_POOL_SIZE", 1, 256), 5);
  EXPECT_EQ(config->GetString("SHUTDOWN_GRACE_MS"), "10000");
  auto settings = ReadServerSettings(*config);
  ASSERT_TRUE(settings.ok()) << settings.status();
  auto database = ReadDatabaseSettings(*config);
  ASSERT_TRUE(database.ok()) << database.status();
  EXPECT_EQ(database->pool_size, 5);
  SetLogLevel(LogLevel::kInfo);
}

TEST(Config, RejectsUnknownFlagsAndBadValues) {
  const char* unknown[] = {"svc", "--no-such-flag=1"};
  auto config = Config::Parse("svc", "test", CommonServerOptions("x:1"), 2, unknown);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("--no-such-flag"), absl::string_view::npos);

  const char* missing[] = {"svc", "--db-pool-size"};
  EXPECT_FALSE(Config::Parse("svc", "test", CommonServerOptions("x:1"), 2, missing).ok());

  const char* bad[] = {"svc", "--db-pool-size=lots"};
  auto parsed = Config::Parse("svc", "test", CommonServerOptions("x:1"), 2, bad);
  ASSERT_TRUE(parsed.ok());
  auto database = ReadDatabaseSettings(*parsed);
  ASSERT_FALSE(database.ok());
  EXPECT_NE(database.status().message().find("DB_POOL_SIZE"), absl::string_view::npos);
}

// The scaling settings: off by default; a connection age needs a grace at
// least MAX_DEADLINE_MS, or aged connections would cut calls.
TEST(Config, ReadsAndChecksDrainAndConnectionAgeSettings) {
  auto read = [](std::vector<const char*> flags) {
    flags.insert(flags.begin(), "svc");
    auto config = Config::Parse("svc", "test", CommonServerOptions("x:1"),
                                static_cast<int>(flags.size()), flags.data());
    EXPECT_TRUE(config.ok()) << config.status();
    return ReadServerSettings(*config);
  };
  auto defaults = read({});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->shutdown_drain_delay, std::chrono::milliseconds(0));
  EXPECT_EQ(defaults->max_connection_age, std::chrono::milliseconds(0));
  EXPECT_EQ(defaults->max_connection_age_grace, std::chrono::milliseconds(10000));

  auto set = read({"--shutdown-drain-delay-ms=30000", "--max-connection-age-ms=30000",
                   "--max-connection-age-grace-ms=5000", "--max-deadline-ms=5000"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->shutdown_drain_delay, std::chrono::milliseconds(30000));
  EXPECT_EQ(set->max_connection_age, std::chrono::milliseconds(30000));
  EXPECT_EQ(set->max_connection_age_grace, std::chrono::milliseconds(5000));

  for (std::vector<const char*> bad : std::vector<std::vector<const char*>>{
           {"--shutdown-drain-delay-ms=-1"},
           {"--shutdown-drain-delay-ms=soon"},
           {"--max-connection-age-ms=999"},
           {"--max-connection-age-ms=-5"},
           {"--max-connection-age-grace-ms=-1"},
           {"--max-connection-age-grace-ms=4999", "--max-connection-age-ms=60000",
            "--max-deadline-ms=5000"}}) {
    auto settings = read(bad);
    ASSERT_FALSE(settings.ok()) << bad[0];
    EXPECT_EQ(settings.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string name = absl::AsciiStrToUpper(
        absl::StrReplaceAll(std::string(bad[0]).substr(2, std::string(bad[0]).find('=') - 2),
                            {{"-", "_"}}));
    EXPECT_NE(settings.status().message().find(name), absl::string_view::npos)
        << settings.status();
  }
  // Without an age, the grace is not checked against the deadline.
  EXPECT_TRUE(read({"--max-connection-age-grace-ms=0"}).ok());
  SetLogLevel(LogLevel::kInfo);
}

TEST(Config, HelpListsEveryOptionWithItsDefault) {
  const char* argv[] = {"svc", "--help"};
  auto config = Config::Parse("svc", "test", CommonServerOptions("0.0.0.0:50051"), 2, argv);
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->help_requested());
  const std::string help = config->HelpText();
  for (const auto& option : CommonServerOptions("0.0.0.0:50051")) {
    EXPECT_NE(help.find(option.env), std::string::npos) << option.env;
  }
  EXPECT_NE(help.find("--listen-address"), std::string::npos);
  EXPECT_NE(help.find("(default: 0.0.0.0:50051)"), std::string::npos);
}

TEST(TraceContext, ParsesVersion00Traceparents) {
  const std::string header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const std::optional<Traceparent> parsed = ParseTraceparent(header);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->version, 0);
  EXPECT_EQ(parsed->trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(parsed->parent_id, "b7ad6b7169203331");
  EXPECT_EQ(parsed->flags, 1);
  EXPECT_EQ(FormatTraceparent(*parsed), header);
  EXPECT_EQ(ParseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-fe")->flags,
            0xfe);
}

// The exposition format 0.0.4, exactly: HELP/TYPE once per family, label
// values and HELP escaped, cumulative buckets ending in +Inf = _count,
// collected samples after the families.
TEST(Metrics, RendersTextFormatExactly) {
  Registry registry;
  CounterFamily& calls = registry.AddCounter("calls_total", "Calls.\nAll of them \\ counted.",
                                             {"path"});
  calls.WithLabels({"a\"b\\c\nd"}).Increment(2);
  calls.WithLabels({"plain"}).Increment(0.5);
  HistogramFamily& latency = registry.AddHistogram("latency_seconds", "Latency.", {}, {0.1, 1});
  latency.WithLabels({}).Observe(0.05);
  latency.WithLabels({}).Observe(0.5);
  latency.WithLabels({}).Observe(7);
  registry.AddCollector([](Registry::Samples& out) {
    out.push_back({"open_fds", "Open.", "gauge", {}, 3});
  });
  EXPECT_EQ(registry.Render(),
            "# HELP calls_total Calls.\\nAll of them \\\\ counted.\n"
            "# TYPE calls_total counter\n"
            "calls_total{path=\"a\\\"b\\\\c\\nd\"} 2\n"
            "calls_total{path=\"plain\"} 0.5\n"
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{le=\"0.1\"} 1\n"
            "latency_seconds_bucket{le=\"1\"} 2\n"
            "latency_seconds_bucket{le=\"+Inf\"} 3\n"
            "latency_seconds_sum 7.55\n"
            "latency_seconds_count 3\n"
            "# HELP open_fds Open.\n"
            "# TYPE open_fds gauge\n"
            "open_fds 3\n");
}

// Components add the families they need without coordinating: the same
// name returns the same family, whose series they share or tell apart by
// labels; gauges go up and down.
TEST(Metrics, AddingAFamilyAgainReturnsItAndGaugesRender) {
  Registry registry;
  GaugeFamily& first = registry.AddGauge("pool_connections", "Connections.", {"pool"});
  GaugeFamily& again = registry.AddGauge("pool_connections", "Ignored help.", {"pool"});
  EXPECT_EQ(&first, &again);
  first.WithLabels({"primary"}).Set(3);
  again.WithLabels({"primary"}).Add(-1);
  again.WithLabels({"events"}).Add(0.5);
  CounterFamily& counter = registry.AddCounter("waits_total", "Waits.", {});
  EXPECT_EQ(&counter, &registry.AddCounter("waits_total", "Waits.", {}));
  counter.WithLabels({}).Increment();
  EXPECT_EQ(registry.Render(),
            "# HELP pool_connections Connections.\n"
            "# TYPE pool_connections gauge\n"
            "pool_connections{pool=\"events\"} 0.5\n"
            "pool_connections{pool=\"primary\"} 2\n"
            "# HELP waits_total Waits.\n"
            "# TYPE waits_total counter\n"
            "waits_total 1\n");
  EXPECT_DEATH(registry.AddCounter("pool_connections_total", "x", {}).WithLabels({}).Increment();
               registry.AddGauge("waits_total", "Not a gauge.", {}), "added twice");
}

TEST(TraceContext, AChildSpanKeepsTheTraceAndGetsANewSpanId) {
  const TraceContext parent{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "k=v"};
  const TraceContext child = ChildSpan(parent);
  const std::optional<Traceparent> parsed = ParseTraceparent(child.traceparent);
  ASSERT_TRUE(parsed.has_value()) << child.traceparent;
  EXPECT_EQ(parsed->trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_NE(parsed->parent_id, "b7ad6b7169203331");
  EXPECT_EQ(parsed->flags, 1);
  EXPECT_EQ(child.tracestate, "k=v");
  EXPECT_NE(ChildSpan(parent).traceparent, child.traceparent);  // each call its own span
  EXPECT_TRUE(ChildSpan(TraceContext{}).traceparent.empty());

  const LogTrace fields = TraceLogFieldsOf(parent);
  EXPECT_EQ(fields.trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(fields.span_id, "b7ad6b7169203331");
  EXPECT_EQ(fields.trace_flags, "01");
  EXPECT_TRUE(TraceLogFieldsOf(TraceContext{}).trace_id.empty());
}

TEST(TraceContext, RejectsMalformedTraceparents) {
  for (const char* bad : {
           "",
           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0",     // short flags
           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",   // v00 has 4 fields
           "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",    // upper case
           "00-00000000000000000000000000000000-b7ad6b7169203331-01",    // zero trace id
           "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",    // zero parent id
           "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",    // version ff
           "0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",    // not hex
           "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",    // separator
           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-0x",    // flags not hex
           "00-0af7651916cd43dd8448eb211c8031-9c-b7ad6b7169203331-01",   // dash inside
           "cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",   // no dash after flags
       }) {
    EXPECT_FALSE(ParseTraceparent(bad).has_value()) << bad;
  }
}

TEST(TraceContext, LaterVersionsMayAppendFieldsAndAreForwardedAsVersion00) {
  const std::optional<Traceparent> parsed =
      ParseTraceparent("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-ever");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->version, 0xcc);
  EXPECT_EQ(FormatTraceparent(*parsed), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_TRUE(ParseTraceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"));
}

TEST(Log, RedactsPasswordsInUrls) {
  EXPECT_EQ(RedactUrl("postgresql://app:s3cret@db:5432/users"), "postgresql://app:***@db:5432/users");
  EXPECT_EQ(RedactUrl("postgresql:///users?host=/tmp&password=s3cret&user=a"),
            "postgresql:///users?host=/tmp&password=***&user=a");
  EXPECT_EQ(RedactUrl("host=db password=s3cret user=a"), "host=db password=*** user=a");
  EXPECT_EQ(RedactUrl("postgresql://app@db/users"), "postgresql://app@db/users");
  // Inside a message too (libpq and libpqxx errors quote what they were given).
  EXPECT_EQ(RedactUrl("cannot connect to postgresql://app:s3cret@db/users: timeout"),
            "cannot connect to postgresql://app:***@db/users: timeout");
}

TEST(Log, RedactsPasswordsOfAnyLength) {
  // std::regex, which RedactUrl once used, overflowed the stack on these.
  const std::string long_value(1 << 20, 'p');
  EXPECT_EQ(RedactUrl("password=" + long_value + " user=a"), "password=*** user=a");
  EXPECT_EQ(RedactUrl("postgresql://app:" + long_value + "@db/users"),
            "postgresql://app:***@db/users");
  EXPECT_EQ(RedactUrl("password='" + long_value + "' host=db"), "password=*** host=db");
}

// The pool against a real PostgreSQL.
class ConnectionPoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { cluster_ = test_support::PgCluster::Start().release(); }
  static void TearDownTestSuite() { delete cluster_; }

  static ConnectionPoolOptions Options(std::size_t size) {
    ConnectionPoolOptions options;
    options.url = cluster_->SuperuserUrl();
    options.size = size;
    options.statement_timeout = 300ms;
    options.prepare = [](pqxx::connection& c) { c.prepare("add", "SELECT $1::int + $2::int"); };
    return options;
  }
  static system_clock::time_point Soon() { return system_clock::now() + 5s; }

  static test_support::PgCluster* cluster_;
};
test_support::PgCluster* ConnectionPoolTest::cluster_ = nullptr;

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
    EXPECT_EQ(pool.statement_mode(),
              prepared ? StatementMode::kPrepared : StatementMode::kUnnamed);
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
  const std::vector<std::optional<std::string>> texts = {
      "plain", "", "with, comma", "{braces}", "\"quoted\"", "back\\slash", "NULL",
      std::nullopt, "  spaces  ", "new\nline", "\xc3\xa6\xe5\xb1\xb1 \xf0\x9f\x98\x80", "\\\""};
  pqxx::connection c(cluster_->SuperuserUrl());
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
    const absl::Status status = pool.RunStatus(Soon(), [](pqxx::connection&) -> absl::Status {
      throw std::runtime_error("boom");
    });
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
  const absl::Status status = pool.RunStatus(system_clock::now() + 100ms, [](pqxx::connection&) {
    return absl::OkStatus();
  });
  holder.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(Add(pool, 1, 1).ok());

  // The metrics saw it: three checkouts, one of which waited (and gave up
  // at its deadline, after ~100 ms); nothing in use now, one idle.
  const std::string text = metrics.Render();
  for (const char* sample :
       {"microblog_db_pool_acquisitions_total{pool=\"test\"} 3\n",
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
  cluster_->Stop();
  // Both the idle (now broken) connection and new connects must fail with
  // UNAVAILABLE, well before the 5 s deadline.
  for (int i = 0; i < 3; ++i) {
    auto sum = Add(pool, 1, 2);
    EXPECT_EQ(sum.status().code(), absl::StatusCode::kUnavailable) << sum.status();
  }
  EXPECT_EQ(pool.Ping(Soon()).code(), absl::StatusCode::kUnavailable);
  cluster_->Restart();
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
