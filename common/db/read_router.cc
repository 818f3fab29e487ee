#include "common/db/read_router.h"

#include <algorithm>
#include <utility>

#include <pqxx/nontransaction>
#include <pqxx/result>

#include "absl/strings/str_cat.h"
#include "common/base/log.h"
#include "common/base/redact.h"

namespace microblog {
namespace {

// How long a poll of one database may take.
constexpr std::chrono::milliseconds kMinPollDeadline{1000};

}  // namespace

// --- ReplicaSet ---

const char* ReplicaSet::StateName(State state) {
  switch (state) {
    case State::kUnknown:
      return "unknown";
    case State::kUsable:
      return "usable";
    case State::kLagging:
      return "lagging";
    case State::kUnreachable:
      return "unreachable";
    case State::kNotInRecovery:
      return "not_in_recovery";
  }
  return "unknown";
}

ReplicaSet::ReplicaSet(std::size_t replicas, std::chrono::milliseconds max_lag)
    : max_lag_(max_lag), replicas_(replicas) {}

std::chrono::duration<double> ReplicaSet::LagOf(Lsn replay, MonotonicClock::time_point now) const {
  if (primary_positions_.empty() || replay >= primary_positions_.back().first) {
    return std::chrono::duration<double>(0);
  }
  // The oldest primary position the replica has not replayed: WAL it lacks
  // existed since then.
  for (const auto& [lsn, seen] : primary_positions_) {
    if (lsn > replay) return now - seen;
  }
  return std::chrono::duration<double>(0);
}

std::vector<std::size_t> ReplicaSet::Record(Lsn primary_lsn, const std::vector<Sample>& samples,
                                            MonotonicClock::time_point now) {
  if (!primary_positions_.empty() && primary_lsn < primary_positions_.back().first) {
    primary_positions_.clear();  // a different primary (failover, restore): start afresh
  }
  if (primary_positions_.empty() || primary_lsn > primary_positions_.back().first) {
    primary_positions_.emplace_back(primary_lsn, now);
  }
  // Keep the oldest position at least `window` old (see the header).
  const auto window = std::max<MonotonicClock::duration>(2 * max_lag_, std::chrono::seconds(1));
  while (primary_positions_.size() >= 2 && primary_positions_[1].second <= now - window) {
    primary_positions_.pop_front();
  }
  std::vector<std::size_t> changed;
  for (std::size_t i = 0; i < replicas_.size() && i < samples.size(); ++i) {
    Replica& replica = replicas_[i];
    const Sample& sample = samples[i];
    State state;
    if (!sample.reachable) {
      state = State::kUnreachable;
    } else if (!sample.in_recovery) {
      state = State::kNotInRecovery;
    } else {
      replica.replay_lsn = sample.replay_lsn;
      replica.lag = LagOf(sample.replay_lsn, now);
      state = replica.lag <= max_lag_ ? State::kUsable : State::kLagging;
    }
    if (state != replica.state) changed.push_back(i);
    replica.state = state;
  }
  return changed;
}

bool ReplicaSet::MarkUnreachable(std::size_t i) {
  if (replicas_[i].state == State::kUnreachable) return false;
  replicas_[i].state = State::kUnreachable;
  return true;
}

std::optional<std::size_t> ReplicaSet::Choose(const ReadFrom& from) {
  if (from.primary_only || replicas_.empty()) return std::nullopt;
  for (std::size_t tried = 0; tried < replicas_.size(); ++tried) {
    const std::size_t i = next_++ % replicas_.size();
    const Replica& replica = replicas_[i];
    if (replica.state == State::kUsable && replica.replay_lsn >= from.min_lsn) return i;
  }
  return std::nullopt;
}

// --- ReadRouter ---

ReadRouter::ReadRouter(ConnectionPool& primary, ReadRouterOptions options)
    : primary_(primary),
      options_(std::move(options)),
      set_(options_.replica_urls.size(), options_.max_lag) {
  Registry* metrics = options_.pool.metrics;
  primary_reads_ = ReadsCounter("primary");
  for (std::size_t i = 0; i < options_.replica_urls.size(); ++i) {
    ConnectionPoolOptions pool = options_.pool;
    pool.url = options_.replica_urls[i];
    pool.prepared_statements = primary_.statement_mode() == StatementMode::kPrepared;
    pool.name = absl::StrCat("replica-", i + 1);
    names_.push_back(pool.name);
    replica_reads_.push_back(ReadsCounter(pool.name));
    ReplicaMetrics gauges;
    if (metrics != nullptr) {
      gauges.usable = &metrics
                           ->AddGauge("microblog_db_replica_usable",
                                      "1 when reads may go to this read replica (reachable, in "
                                      "recovery, lag within DB_REPLICA_MAX_LAG_MS).",
                                      {"pool"})
                           .WithLabels({pool.name});
      gauges.lag_seconds =
          &metrics
               ->AddGauge("microblog_db_replica_lag_seconds",
                          "How long the read replica has been missing WAL the primary had "
                          "(0 when it replayed everything the last poll saw).",
                          {"pool"})
               .WithLabels({pool.name});
    }
    replica_metrics_.push_back(gauges);
    Log(LogLevel::kInfo, "read replica configured",
        {{"pool", pool.name}, {"database", RedactUrl(pool.url)}});
    replicas_.push_back(std::make_unique<ConnectionPool>(std::move(pool)));
  }
  if (!replicas_.empty()) {
    poller_ =
        std::make_unique<PeriodicTask>("replica-poll", options_.poll_interval, [this] { Poll(); });
  }
}

ReadRouter::~ReadRouter() { poller_.reset(); }

Counter* ReadRouter::ReadsCounter(const std::string& pool) {
  if (options_.pool.metrics == nullptr) return nullptr;
  return &options_.pool.metrics
              ->AddCounter("microblog_db_reads_total",
                           "Reads routed by the read router, by the pool that answered them.",
                           {"pool"})
              .WithLabels({pool});
}

absl::Status ReadRouter::RunStatus(const ReadFrom& from, Clock::time_point deadline,
                                   absl::FunctionRef<absl::Status(pqxx::connection&)> fn) {
  std::optional<std::size_t> replica;
  {
    absl::MutexLock lock(&mu_);
    replica = set_.Choose(from);
  }
  if (replica) {
    const std::size_t i = *replica;
    absl::Status status = replicas_[i]->RunStatus(deadline, fn);
    const bool unavailable = absl::IsUnavailable(status);
    if (!unavailable && !absl::IsInternal(status)) {
      if (replica_reads_[i] != nullptr) replica_reads_[i]->Increment();
      return status;
    }
    if (unavailable) {
      absl::MutexLock lock(&mu_);
      PublishLocked(i, set_.MarkUnreachable(i));
    }
    Log(LogLevel::kDebug, "read replica failed a read; reading from the primary",
        {{"pool", names_[i]}, {"cause", status.message()}});
  }
  if (primary_reads_ != nullptr) primary_reads_->Increment();
  return primary_.RunStatus(deadline, fn);
}

std::string ReadRouter::WriteToken(Clock::time_point deadline) {
  if (replicas_.empty()) return "";
  // The insert position: past the write's commit record even when
  // synchronous_commit=off has not written it out yet.
  absl::StatusOr<Lsn> lsn = primary_.Run<Lsn>(deadline, [](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return ParseLsn(tx.exec1("SELECT pg_current_wal_insert_lsn()::text")[0].as<std::string>());
  });
  if (!lsn.ok()) {
    Log(LogLevel::kWarn,
        "could not read the WAL position after a write; its reader goes to the "
        "primary",
        {{"cause", lsn.status().message()}});
    return kPrimaryOnlyToken;
  }
  return ConsistencyToken(*lsn);
}

void ReadRouter::Poll() {
  const auto deadline =
      Clock::now() + std::max<std::chrono::milliseconds>(options_.poll_interval, kMinPollDeadline);
  absl::StatusOr<Lsn> primary_lsn = primary_.Run<Lsn>(deadline, [](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return ParseLsn(tx.exec1("SELECT pg_current_wal_lsn()::text")[0].as<std::string>());
  });
  if (!primary_lsn.ok()) return;  // no reference point: keep the last states
  std::vector<ReplicaSet::Sample> samples(replicas_.size());
  for (std::size_t i = 0; i < replicas_.size(); ++i) {
    ReplicaSet::Sample& sample = samples[i];
    const absl::Status status = replicas_[i]->RunStatus(deadline, [&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      const pqxx::row row =
          tx.exec1("SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn(), '0/0')::text");
      sample.in_recovery = row[0].as<bool>();
      absl::StatusOr<Lsn> replay = ParseLsn(row[1].as<std::string>());
      if (!replay.ok()) return replay.status();
      sample.replay_lsn = *replay;
      return absl::OkStatus();
    });
    sample.reachable = status.ok();
  }
  absl::MutexLock lock(&mu_);
  std::vector<std::size_t> changed = set_.Record(*primary_lsn, samples, MonotonicClock::now());
  for (std::size_t i = 0; i < replicas_.size(); ++i) {
    PublishLocked(i, std::find(changed.begin(), changed.end(), i) != changed.end());
  }
}

void ReadRouter::PublishLocked(std::size_t i, bool changed) {
  const ReplicaSet::State state = set_.state(i);
  const ReplicaMetrics& gauges = replica_metrics_[i];
  if (gauges.usable != nullptr) {
    gauges.usable->Set(state == ReplicaSet::State::kUsable ? 1 : 0);
    gauges.lag_seconds->Set(set_.lag(i).count());
  }
  if (!changed) return;
  const bool usable = state == ReplicaSet::State::kUsable;
  Log(usable ? LogLevel::kInfo : LogLevel::kWarn,
      usable ? "read replica in use" : "read replica skipped; its reads go to the primary",
      {{"pool", names_[i]},
       {"state", ReplicaSet::StateName(state)},
       {"lag_seconds", set_.lag(i).count()},
       {"replay_lsn", FormatLsn(set_.replay_lsn(i))}});
}

ReplicaSet::State ReadRouter::state(std::size_t i) {
  absl::MutexLock lock(&mu_);
  return set_.state(i);
}

}  // namespace microblog
