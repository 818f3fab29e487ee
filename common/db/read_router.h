// Routes reads between a PostgreSQL primary and its streaming read replicas.
//
// A service with read replicas (USER_DATABASE_READ_URL /
// POST_DATABASE_READ_URL) builds one ReadRouter over its primary pool; the
// router opens a ConnectionPool per replica (pool label replica-1,
// replica-2, ... in that order) and polls them every `poll_interval` on a
// thread of its own. A store then runs each read where its ReadFrom allows
// (common/base/read_from.h):
//
//   ReadRouter router(primary_pool, std::move(options));
//   absl::StatusOr<Rows> rows = router.Run<Rows>(ReadFrom::Replica(token_lsn), deadline,
//       [&](pqxx::connection& c) -> absl::StatusOr<Rows> { ... });
//   std::string token = router.WriteToken(deadline);   // after a write
//
// Which replica: one that is *usable* (its last poll answered, it is in
// recovery, and its lag is at most `max_lag`) and replayed at least the
// read's min_lsn; round robin among those. None: the primary. A read that a
// replica fails with UNAVAILABLE (it went down since the last poll; the
// replica is then unusable until a poll finds it back) or INTERNAL (e.g. a
// query cancelled by a recovery conflict) runs again on the primary, so a
// replica's failure never fails a read. Other statuses (NOT_FOUND, ...) are
// the read's answer.
//
// Lag, robust against an idle primary: each poll samples the primary's
// pg_current_wal_lsn() first, then each replica's pg_last_wal_replay_lsn().
// The router remembers when it first saw each primary position; a replica's
// lag is 0 when it replayed the newest position seen, else the time since
// the primary was first seen past the replica's position (within one poll
// interval). A primary without writes thus never makes a replica lag.
//
// Logs: each change of a replica's state (usable, lagging, unreachable, not
// in recovery) at warn, back to usable at info.
// Metrics (with `metrics`), labelled pool=replica-N:
//   microblog_db_replica_usable        gauge, 1 when reads may go there
//   microblog_db_replica_lag_seconds   gauge, the lag defined above
//   microblog_db_reads_total{pool}     counter, reads served per pool
//                                      (primary included; a retried read
//                                      counts where it was answered)
// The replica pools report the connection pool metrics too.
//
// Health: the router plays no part in it; a service is SERVING on its
// primary alone.
//
// Thread-safety: all methods are thread-safe. Not copyable.
#ifndef MICROBLOG_COMMON_DB_READ_ROUTER_H_
#define MICROBLOG_COMMON_DB_READ_ROUTER_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/connection>
#include <pqxx/result>
#include <pqxx/transaction_base>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "common/base/metrics.h"
#include "common/base/read_from.h"
#include "common/db/connection_pool.h"
#include "common/db/named_statement.h"
#include "common/exec/periodic_task.h"

namespace microblog {

// The choice logic of the router, without any database: what the polls
// found, each replica's state and lag, and the replica a read may use.
// Thread-safety: none (ReadRouter locks around it).
class ReplicaSet {
 public:
  enum class State { kUnknown, kUsable, kLagging, kUnreachable, kNotInRecovery };
  static const char* StateName(State state);

  // What one poll found on a replica.
  struct Sample {
    bool reachable = false;
    bool in_recovery = false;
    Lsn replay_lsn = 0;
  };

  ReplicaSet(std::size_t replicas, std::chrono::milliseconds max_lag);

  // Records a poll at `now`: the primary's position (sampled before the
  // replicas), then each replica's sample (one per replica, in order).
  // Returns the replicas whose State changed.
  std::vector<std::size_t> Record(Lsn primary_lsn, const std::vector<Sample>& samples,
                                  MonotonicClock::time_point now);
  // A read found replica `i` unreachable: unusable until a poll finds it
  // back. True when that changed its state.
  bool MarkUnreachable(std::size_t i);

  // The replica that may serve a read from `from`, or nothing (the primary).
  // Round robin among the candidates.
  std::optional<std::size_t> Choose(const ReadFrom& from);

  State state(std::size_t i) const { return replicas_[i].state; }
  std::chrono::duration<double> lag(std::size_t i) const { return replicas_[i].lag; }
  Lsn replay_lsn(std::size_t i) const { return replicas_[i].replay_lsn; }
  std::size_t size() const { return replicas_.size(); }

 private:
  struct Replica {
    State state = State::kUnknown;
    Lsn replay_lsn = 0;
    std::chrono::duration<double> lag{0};
  };
  // The lag of a replica that replayed up to `replay` (see the file comment).
  std::chrono::duration<double> LagOf(Lsn replay, MonotonicClock::time_point now) const;

  const std::chrono::milliseconds max_lag_;
  std::vector<Replica> replicas_;
  // Primary positions, each with when a poll first saw it; ascending. The
  // oldest is kept at least `window` old so that a replica behind all of
  // them shows a lag past max_lag.
  std::deque<std::pair<Lsn, MonotonicClock::time_point>> primary_positions_;
  std::size_t next_ = 0;  // round robin
};

struct ReadRouterOptions {
  // libpq URLs of the replicas (may be empty: every read on the primary).
  std::vector<std::string> replica_urls;
  std::chrono::milliseconds max_lag{1000};
  std::chrono::milliseconds poll_interval{500};
  // For each replica pool: size, prepare, statement timeout, metrics; its
  // url and name are set by the router, its statement mode
  // (prepared_statements) is the primary's.
  ConnectionPoolOptions pool;
};

class ReadRouter {
 public:
  // `primary` is borrowed and must outlive the router. Connects lazily;
  // the first poll runs one poll_interval after construction.
  ReadRouter(ConnectionPool& primary, ReadRouterOptions options);
  ~ReadRouter();
  ReadRouter(const ReadRouter&) = delete;
  ReadRouter& operator=(const ReadRouter&) = delete;

  bool has_replicas() const { return !replicas_.empty(); }
  ConnectionPool& primary() { return primary_; }

  // Runs `fn` where `from` allows, as ConnectionPool::Run does, with the
  // fallback to the primary described above: `fn` may run twice, first on
  // a replica (which failed it with UNAVAILABLE or INTERNAL) and then on
  // the primary, so it must be a read that may be repeated, and the result
  // is the last run's. It is called only before Run returns.
  template <typename T>
  absl::StatusOr<T> Run(const ReadFrom& from, Clock::time_point deadline,
                        absl::FunctionRef<absl::StatusOr<T>(pqxx::connection&)> fn) {
    absl::StatusOr<T> result = absl::InternalError("not run");
    absl::Status status = RunStatus(from, deadline, [&](pqxx::connection& c) {
      result = fn(c);
      return result.ok() ? absl::OkStatus() : result.status();
    });
    if (!status.ok()) return status;
    return result;
  }
  // The same for a read returning absl::Status: `fn` may run twice too.
  absl::Status RunStatus(const ReadFrom& from, Clock::time_point deadline,
                         absl::FunctionRef<absl::Status(pqxx::connection&)> fn);

  // Runs `statement` in `tx` (on a connection a Run() callback got, from
  // whichever pool) as every pool of the router runs statements: the
  // replica pools take the primary's statement mode (ConnectionPool::Exec).
  template <typename... Args>
  pqxx::result Exec(pqxx::transaction_base& tx, const NamedStatement& statement,
                    Args&&... args) const {
    return primary_.Exec(tx, statement, std::forward<Args>(args)...);
  }

  // The consistency token a write answers once it committed: the primary's
  // WAL position now. "" without replicas (no round trip: every read is on
  // the primary anyway); kPrimaryOnlyToken when the position could not be
  // read.
  std::string WriteToken(Clock::time_point deadline);

  // One poll of the primary and every replica (the background thread calls
  // it; public for tests).
  void Poll();

  // Replica `i`'s state (for tests and logs).
  ReplicaSet::State state(std::size_t i);

 private:
  struct ReplicaMetrics {
    Gauge* usable = nullptr;
    Gauge* lag_seconds = nullptr;
  };
  // Logs and publishes replica `i`'s state.
  void PublishLocked(std::size_t i, bool changed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Counter* ReadsCounter(const std::string& pool);

  ConnectionPool& primary_;
  const ReadRouterOptions options_;
  std::vector<std::unique_ptr<ConnectionPool>> replicas_;
  std::vector<std::string> names_;  // replica-1, ...
  std::vector<ReplicaMetrics> replica_metrics_;
  Counter* primary_reads_ = nullptr;
  std::vector<Counter*> replica_reads_;
  absl::Mutex mu_;
  ReplicaSet set_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<PeriodicTask> poller_;  // last: runs Poll() on the rest
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_DB_READ_ROUTER_H_
