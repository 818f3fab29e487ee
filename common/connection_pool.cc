#include "common/connection_pool.h"

#include <string_view>
#include <utility>

#include <pqxx/except>
#include <pqxx/nontransaction>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace microblog {
namespace {

// Appends a libpq parameter to either form of connection string.
std::string WithParameter(const std::string& url, const std::string& key, const std::string& value) {
  const bool is_uri = absl::StartsWith(url, "postgresql://") || absl::StartsWith(url, "postgres://");
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

}  // namespace

ConnectionPool::ConnectionPool(ConnectionPoolOptions options)
    : options_(std::move(options)),
      connect_string_(WithParameter(
          options_.url, "connect_timeout",
          std::to_string(std::max<int64_t>(1, options_.connect_timeout.count())))) {}

ConnectionPool::~ConnectionPool() = default;

absl::StatusOr<std::unique_ptr<pqxx::connection>> ConnectionPool::Connect() {
  try {
    auto conn = std::make_unique<pqxx::connection>(connect_string_);
    conn->set_variable("statement_timeout", std::to_string(options_.statement_timeout.count()));
    if (options_.prepare) options_.prepare(*conn);
    return conn;
  } catch (const pqxx::broken_connection& e) {
    Log(LogLevel::kWarn, "database connect failed", {{"cause", RedactUrl(e.what())}});
    return Unavailable();
  } catch (const pqxx::sql_error& e) {
    Log(LogLevel::kWarn, "database connect failed", {{"cause", e.what()}, {"sqlstate", e.sqlstate()}});
    if (IsConnectionLoss(e)) return Unavailable();
    return absl::InternalError(absl::StrCat("preparing a new connection failed: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("preparing a new connection failed: ", e.what()));
  }
}

void ConnectionPool::DiscardAll() {
  std::vector<std::unique_ptr<pqxx::connection>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(idle_);
    ++generation_;
  }
  // Closing happens outside the lock.
}

absl::Status ConnectionPool::RunErased(
    Clock::time_point deadline, const std::function<absl::Status(pqxx::connection&)>& fn) {
  std::unique_ptr<pqxx::connection> conn;
  std::size_t generation;
  {
    std::unique_lock<std::mutex> lock(mu_);
    const bool got_slot = cv_.wait_until(lock, deadline, [&] {
      return !idle_.empty() || checked_out_ < options_.size;
    });
    if (!got_slot) {
      return absl::DeadlineExceededError("deadline exceeded while waiting for a database connection");
    }
    ++checked_out_;
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
    generation = generation_;
  }

  bool broken = false;
  // Returns the slot (and the connection, unless it is suspect) on every
  // path out of this function, exceptions included.
  absl::Cleanup release = [this, &conn, &broken, generation] {
    std::unique_ptr<pqxx::connection> drop;  // closed outside the lock
    {
      std::lock_guard<std::mutex> lock(mu_);
      --checked_out_;
      if (conn != nullptr && !broken && generation == generation_ && conn->is_open()) {
        idle_.push_back(std::move(conn));
      } else {
        drop = std::move(conn);
      }
    }
    cv_.notify_one();
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
      Log(LogLevel::kWarn, "database connection lost", {{"cause", e.what()}, {"sqlstate", e.sqlstate()}});
      return Unavailable();
    }
    return absl::InternalError(absl::StrCat("sql error ", e.sqlstate(), ": ", e.what()));
  } catch (const std::exception& e) {
    if (!conn->is_open()) broken = true;
    return absl::InternalError(absl::StrCat("database call failed: ", e.what()));
  }
}

absl::Status ConnectionPool::Ping(Clock::time_point) {
  std::lock_guard<std::mutex> lock(ping_mu_);
  if (ping_conn_ == nullptr) {
    auto fresh = Connect();
    if (!fresh.ok()) {
      DiscardAll();
      return fresh.status();
    }
    ping_conn_ = std::move(*fresh);
  }
  try {
    pqxx::nontransaction tx(*ping_conn_);
    tx.exec("SELECT 1");
    return absl::OkStatus();
  } catch (const std::exception& e) {
    ping_conn_.reset();
    DiscardAll();
    Log(LogLevel::kWarn, "database ping failed", {{"cause", e.what()}});
    return Unavailable();
  }
}

std::string BigintArray(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) absl::StrAppend(&out, i == 0 ? "" : ",", ids[i]);
  out += "}";
  return out;
}

}  // namespace microblog
