#include "common/db/connection_pool.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <string_view>
#include <utility>

#include <libpq-fe.h>
#include <pqxx/except>
#include <pqxx/nontransaction>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/log.h"

namespace microblog {
namespace {

// Appends a libpq parameter to either form of connection string.
std::string WithParameter(const std::string& url, const std::string& key,
                          const std::string& value) {
  const bool is_uri =
      absl::StartsWith(url, "postgresql://") || absl::StartsWith(url, "postgres://");
  if (!is_uri) return absl::StrCat(url, url.empty() ? "" : " ", key, "=", value);
  return absl::StrCat(url, url.find('?') == std::string::npos ? "?" : "&", key, "=", value);
}

// SQLSTATE classes meaning the server went away or refuses work for now:
// 08 connection exception, 57P admin/crash shutdown, cannot connect now.
bool IsConnectionLoss(const pqxx::sql_error& e) {
  const std::string& state = e.sqlstate();
  return absl::StartsWith(state, "08") || absl::StartsWith(state, "57P");
}

// statement_timeout expired (libpqxx 6 has no exception class for it).
constexpr char kQueryCanceled[] = "57014";

absl::Status Unavailable() { return absl::UnavailableError("database unavailable; retry later"); }

// Waits until `fd` is ready for `events` (POLLIN/POLLOUT) or `deadline`
// passes; false in the latter case. Errors and hang-ups count as ready:
// libpq finds out what they are on its next call.
bool WaitForSocket(int fd, short events, std::chrono::system_clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::system_clock::now());
    if (left.count() <= 0) return false;
    pollfd watched{fd, events, 0};
    const int ready = poll(&watched, 1, static_cast<int>(std::min<int64_t>(left.count(), INT_MAX)));
    if (ready > 0 || (ready < 0 && errno != EINTR)) return true;
  }
}

// libpq's messages end with a newline.
std::string Trimmed(const char* message) {
  return std::string(absl::StripTrailingAsciiWhitespace(message));
}

absl::Status PingFailed(PGconn* connection) {
  return absl::UnavailableError(
      absl::StrCat("database ping failed: ", RedactUrl(Trimmed(PQerrorMessage(connection)))));
}

absl::Status PingTimedOut() {
  return absl::DeadlineExceededError("database did not answer the ping before its deadline");
}

// With prepared statements off the pool sets no statement_timeout; says so
// at warn when the server connections have none either.
void WarnWithoutStatementTimeout(pqxx::connection& connection, const std::string& pool) {
  pqxx::nontransaction tx(connection);
  const std::string timeout =
      tx.exec1("SELECT current_setting('statement_timeout')")[0].as<std::string>();
  if (timeout == "0") {
    Log(LogLevel::kWarn,
        "no statement_timeout on the database connections (DB_PREPARED_STATEMENTS=off sets "
        "none): set it in the pooler's connect_query or with ALTER ROLE ... SET "
        "statement_timeout",
        {{"pool", pool}});
  }
}

}  // namespace

ConnectionPool::ConnectionPool(ConnectionPoolOptions options)
    : options_(std::move(options)),
      connect_string_(
          WithParameter(options_.url, "connect_timeout",
                        std::to_string(std::max<int64_t>(1, options_.connect_timeout.count())))),
      metrics_(AddMetrics(options_)) {}

ConnectionPool::Metrics ConnectionPool::AddMetrics(const ConnectionPoolOptions& options) {
  if (options.metrics == nullptr) return {};
  Registry& registry = *options.metrics;
  const std::vector<std::string> pool = {options.name};
  GaugeFamily& connections = registry.AddGauge(
      "microblog_db_pool_connections",
      "Database connections of the pool, checked out (in_use) or open and free (idle).",
      {"pool", "state"});
  registry
      .AddGauge("microblog_db_pool_max_connections",
                "Connections the pool may open (DB_POOL_SIZE).", {"pool"})
      .WithLabels(pool)
      .Set(static_cast<double>(options.size));
  Metrics metrics;
  metrics.in_use = &connections.WithLabels({options.name, "in_use"});
  metrics.idle = &connections.WithLabels({options.name, "idle"});
  metrics.acquisitions = &registry
                              .AddCounter("microblog_db_pool_acquisitions_total",
                                          "Connections checked out of the pool.", {"pool"})
                              .WithLabels(pool);
  metrics.waits =
      &registry
           .AddCounter("microblog_db_pool_waits_total",
                       "Checkouts that found every connection in use and waited.", {"pool"})
           .WithLabels(pool);
  metrics.wait_seconds =
      &registry
           .AddHistogram(
               "microblog_db_pool_wait_seconds",
               "How long checkouts that waited waited for a connection (including "
               "those that gave up at their deadline).",
               {"pool"},
               {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5})
           .WithLabels(pool);
  return metrics;
}

void ConnectionPool::UpdateGaugesLocked() {
  if (metrics_.in_use == nullptr) return;
  metrics_.in_use->Set(static_cast<double>(checked_out_));
  metrics_.idle->Set(static_cast<double>(idle_.size()));
}

ConnectionPool::~ConnectionPool() = default;

absl::StatusOr<std::unique_ptr<pqxx::connection>> ConnectionPool::Connect() {
  try {
    auto conn = std::make_unique<pqxx::connection>(connect_string_);
    if (options_.prepared_statements) {
      conn->set_variable("statement_timeout", std::to_string(options_.statement_timeout.count()));
      if (options_.prepare) options_.prepare(*conn);
    } else {
      // Through a transaction pooler a session SET would stay on whichever
      // server connection ran it: the timeout must come from the server side.
      std::call_once(timeout_checked_, [&] { WarnWithoutStatementTimeout(*conn, options_.name); });
    }
    return conn;
  } catch (const pqxx::broken_connection& e) {
    Log(LogLevel::kWarn, "database connect failed", {{"cause", RedactUrl(e.what())}});
    return Unavailable();
  } catch (const pqxx::sql_error& e) {
    Log(LogLevel::kWarn, "database connect failed",
        {{"cause", e.what()}, {"sqlstate", e.sqlstate()}});
    if (IsConnectionLoss(e)) return Unavailable();
    return absl::InternalError(absl::StrCat("preparing a new connection failed: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("preparing a new connection failed: ", e.what()));
  }
}

void ConnectionPool::DiscardAll() {
  std::vector<std::unique_ptr<pqxx::connection>> dropped;
  {
    absl::MutexLock lock(&mu_);
    dropped.swap(idle_);
    ++generation_;
    UpdateGaugesLocked();
  }
  // Closing happens outside the lock.
}

absl::Status ConnectionPool::RunErased(Clock::time_point deadline,
                                       absl::FunctionRef<absl::Status(pqxx::connection&)> fn) {
  std::unique_ptr<pqxx::connection> conn;
  std::size_t generation;
  {
    absl::MutexLock lock(&mu_);
    if (metrics_.acquisitions != nullptr) metrics_.acquisitions->Increment();
    if (!Available()) {
      const auto waiting_since = std::chrono::steady_clock::now();
      const bool got_slot = mu_.AwaitWithDeadline(absl::Condition(this, &ConnectionPool::Available),
                                                  absl::FromChrono(deadline));
      if (metrics_.waits != nullptr) {
        metrics_.waits->Increment();
        metrics_.wait_seconds->Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - waiting_since)
                .count());
      }
      if (!got_slot) {
        return absl::DeadlineExceededError(
            "deadline exceeded while waiting for a database connection");
      }
    }
    ++checked_out_;
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
    generation = generation_;
    UpdateGaugesLocked();
  }

  bool broken = false;
  // Returns the slot (and the connection, unless it is suspect) on every
  // path out of this function, exceptions included.
  absl::Cleanup release = [this, &conn, &broken, generation] {
    std::unique_ptr<pqxx::connection> drop;  // closed outside the lock
    {
      absl::MutexLock lock(&mu_);
      --checked_out_;
      if (conn != nullptr && !broken && generation == generation_ && conn->is_open()) {
        idle_.push_back(std::move(conn));
      } else {
        drop = std::move(conn);
      }
      UpdateGaugesLocked();
    }
  };

  if (conn == nullptr) {
    auto fresh = Connect();
    if (!fresh.ok()) return fresh.status();
    conn = std::move(*fresh);
  }
  try {
    return fn(*conn);
  } catch (const pqxx::broken_connection& e) {
    broken = true;
    DiscardAll();
    Log(LogLevel::kWarn, "database connection lost", {{"cause", e.what()}});
    return Unavailable();
  } catch (const pqxx::in_doubt_error& e) {
    broken = true;
    DiscardAll();
    Log(LogLevel::kError, "commit outcome unknown", {{"cause", e.what()}});
    return absl::UnavailableError("database connection lost during commit; outcome unknown");
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == kQueryCanceled) {
      return absl::DeadlineExceededError("database statement timed out");
    }
    if (IsConnectionLoss(e) || !conn->is_open()) {
      broken = true;
      DiscardAll();
      Log(LogLevel::kWarn, "database connection lost",
          {{"cause", e.what()}, {"sqlstate", e.sqlstate()}});
      return Unavailable();
    }
    return absl::InternalError(absl::StrCat("sql error ", e.sqlstate(), ": ", e.what()));
  } catch (const std::exception& e) {
    if (!conn->is_open()) broken = true;
    return absl::InternalError(absl::StrCat("database call failed: ", e.what()));
  }
}

void ConnectionPool::PingConnectionCloser::operator()(pg_conn* connection) const {
  PQfinish(connection);
}

absl::Status ConnectionPool::Ping(Clock::time_point deadline) {
  absl::MutexLock lock(&ping_mu_);
  const absl::Status status = PingLocked(deadline);
  if (!status.ok()) {
    // Whatever state the connection is in (a query may still be pending),
    // the next ping starts afresh.
    ping_conn_.reset();
    DiscardAll();
    Log(LogLevel::kWarn, "database ping failed", {{"cause", status.message()}});
  }
  return status;
}

absl::Status ConnectionPool::PingLocked(Clock::time_point deadline) {
  if (ping_conn_ == nullptr) {
    // libpq's non-blocking connect: it says which way to wait before each
    // step, starting with writing.
    ping_conn_.reset(PQconnectStart(connect_string_.c_str()));
    if (ping_conn_ == nullptr)
      return absl::ResourceExhaustedError("out of memory for a connection");
    PostgresPollingStatusType step = PGRES_POLLING_WRITING;
    while (step != PGRES_POLLING_OK) {
      if (step == PGRES_POLLING_FAILED || PQstatus(ping_conn_.get()) == CONNECTION_BAD) {
        return PingFailed(ping_conn_.get());
      }
      if (!WaitForSocket(PQsocket(ping_conn_.get()),
                         step == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
        return PingTimedOut();
      }
      step = PQconnectPoll(ping_conn_.get());
    }
    if (PQsetnonblocking(ping_conn_.get(), 1) != 0) return PingFailed(ping_conn_.get());
  }
  PGconn* const connection = ping_conn_.get();
  if (PQsendQuery(connection, "SELECT 1") == 0) return PingFailed(connection);
  // Send the query, reading meanwhile if the server talks first.
  for (int unsent = PQflush(connection); unsent != 0; unsent = PQflush(connection)) {
    if (unsent < 0) return PingFailed(connection);
    if (!WaitForSocket(PQsocket(connection), POLLIN | POLLOUT, deadline)) return PingTimedOut();
    if (PQconsumeInput(connection) == 0) return PingFailed(connection);
  }
  // Read every result; the last PQgetResult() returns null.
  absl::Status status = absl::OkStatus();
  for (;;) {
    while (PQisBusy(connection) != 0) {
      if (!WaitForSocket(PQsocket(connection), POLLIN, deadline)) return PingTimedOut();
      if (PQconsumeInput(connection) == 0) return PingFailed(connection);
    }
    PGresult* result = PQgetResult(connection);
    if (result == nullptr) return status;
    if (PQresultStatus(result) != PGRES_TUPLES_OK && status.ok()) {
      status = absl::UnavailableError(
          absl::StrCat("database ping failed: ", Trimmed(PQresultErrorMessage(result))));
    }
    PQclear(result);
  }
}

}  // namespace microblog
