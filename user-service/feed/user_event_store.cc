#include "user-service/feed/user_event_store.h"

#include <pqxx/nontransaction>
#include <pqxx/result>

#include "common/db/named_statement.h"

namespace microblog {
namespace user {
namespace {

// --- The feed's statements. ---------------------------------------------------
// xid8 travels as bigint (epoch << 32 | xid: far below 2^63).

// $1 after xid, $2 after id, $3 whether to check retention ($1/$2 are a
// real position), $4 limit. One statement, so one snapshot: retention
// cannot delete events between the check and the read. `expired` and
// `held_back` are on every row; with no events there is one row of NULL
// events. `held_back`: committed events after the position that the feed
// does not show yet, because an older transaction is still running.
constexpr NamedStatement kListAfter{
    "user_events_after",
    "SELECT w.expired, w.held_back, e.id, e.xid, e.kind, e.user_id, e.occur_micros, "
    "e.credentials_version "
    "FROM (SELECT $3::boolean AND EXISTS (SELECT 1 FROM user_events_pruned p "
    "        WHERE (p.xid, p.id) > ($1::text::xid8, $2::bigint)) AS expired, "
    "      EXISTS (SELECT 1 FROM user_events h "
    "        WHERE (h.xid, h.id) > ($1::text::xid8, $2::bigint) "
    "        AND h.xid >= pg_snapshot_xmin(pg_current_snapshot())) AS held_back) w "
    "LEFT JOIN LATERAL (SELECT id, xid::text::bigint AS xid, kind, user_id, "
    "  (extract(epoch FROM occurred_at) * 1000000)::bigint AS occur_micros, "
    "  coalesce((payload->>'credentials_version')::bigint, 0) AS credentials_version "
    "  FROM user_events "
    "  WHERE (xid, id) > ($1::text::xid8, $2::bigint) "
    "  AND xid < pg_snapshot_xmin(pg_current_snapshot()) "
    "  ORDER BY xid, id LIMIT $4) e ON NOT w.expired "
    "ORDER BY e.xid, e.id"};

// $1 retention in seconds. Only events the feed already shows (their
// transaction is older than every running one) are deleted, and the
// newest deleted position is kept in user_events_pruned, in the same
// statement.
constexpr NamedStatement kPrune{
    "user_events_prune",
    "WITH pruned AS (DELETE FROM user_events "
    "  WHERE occurred_at < now() - $1::bigint * interval '1 second' "
    "  AND xid < pg_snapshot_xmin(pg_current_snapshot()) RETURNING xid, id), "
    "newest AS (SELECT xid, id FROM pruned ORDER BY xid DESC, id DESC LIMIT 1), "
    "mark AS (INSERT INTO user_events_pruned (xid, id) SELECT xid, id FROM newest "
    "  ON CONFLICT (singleton) DO UPDATE SET xid = EXCLUDED.xid, id = EXCLUDED.id "
    "  WHERE (user_events_pruned.xid, user_events_pruned.id) < (EXCLUDED.xid, EXCLUDED.id)) "
    "SELECT count(*) FROM pruned"};

constexpr NamedStatement kStatements[] = {kListAfter, kPrune};

}  // namespace

void PostgresUserEventStore::PrepareStatements(pqxx::connection& connection) {
  PrepareAll(connection, kStatements);
}

absl::StatusOr<FeedPage> PostgresUserEventStore::ListAfter(const std::optional<FeedPosition>& after,
                                                           int limit, Clock::time_point deadline) {
  const FeedPosition from = after.value_or(FeedPosition{});
  return pool_.Run<FeedPage>(deadline, [&](pqxx::connection& c) -> absl::StatusOr<FeedPage> {
    pqxx::nontransaction tx(c);
    const pqxx::result rows =
        pool_.Exec(tx, kListAfter, from.xid, from.id, after.has_value(), limit);
    FeedPage page;
    for (const pqxx::row& row : rows) {
      if (row["expired"].as<bool>()) {
        return absl::OutOfRangeError(
            "events after this position were deleted by retention before they were read");
      }
      page.held_back = row["held_back"].as<bool>();
      if (row["id"].is_null()) continue;
      UserEventRecord event;
      event.position = {row["xid"].as<int64_t>(), row["id"].as<int64_t>()};
      event.kind = row["kind"].as<std::string>();
      event.user_id = row["user_id"].as<int64_t>();
      event.occur_micros = row["occur_micros"].as<int64_t>();
      event.credentials_version = row["credentials_version"].as<int64_t>();
      page.events.push_back(std::move(event));
    }
    return page;
  });
}

absl::StatusOr<int64_t> PostgresUserEventStore::Prune(std::chrono::seconds retention,
                                                      Clock::time_point deadline) {
  return pool_.Run<int64_t>(deadline, [&](pqxx::connection& c) -> absl::StatusOr<int64_t> {
    pqxx::nontransaction tx(c);
    return pool_.Exec(tx, kPrune, static_cast<int64_t>(retention.count()))[0][0].as<int64_t>();
  });
}

}  // namespace user
}  // namespace microblog
