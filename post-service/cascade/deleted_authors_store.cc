#include "post-service/cascade/deleted_authors_store.h"

#include <algorithm>
#include <map>
#include <utility>

#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include "common/db/array_literal.h"
#include "common/db/named_statement.h"
#include "post-service/cascade/author_locks.h"

namespace microblog {
namespace post {
namespace {

// --- The cascade's statements. ------------------------------------------------

constexpr NamedStatement kReadCursor{"cursor_read",
                                     "SELECT position FROM event_cursors WHERE feed = $1"};
// The applying replica holds the row until it commits; the others skip it.
constexpr NamedStatement kLockCursor{
    "cursor_lock", "SELECT position FROM event_cursors WHERE feed = $1 FOR UPDATE SKIP LOCKED"};
constexpr NamedStatement kMoveCursor{
    "cursor_move", "UPDATE event_cursors SET position = $2, updated_at = now() WHERE feed = $1"};
// Only from the position found expired: another replica may have reset it
// and moved on already.
constexpr NamedStatement kResetCursor{
    "cursor_reset",
    "UPDATE event_cursors SET position = '', updated_at = now() WHERE feed = $1 AND position = $2"};
// $1 user ids, $2 their deletion times (micros), pairwise; $3 source.
constexpr NamedStatement kInsertTombstones{
    "tombstones_insert",
    "INSERT INTO user_tombstones (user_id, deleted_at, source) "
    "SELECT u.id, 'epoch'::timestamptz + u.micros * interval '1 microsecond', $3 "
    "FROM unnest($1::bigint[], $2::bigint[]) AS u(id, micros) "
    "ON CONFLICT (user_id) DO NOTHING"};
constexpr NamedStatement kDeletePostsOf{"posts_delete_of_users",
                                        "DELETE FROM posts WHERE user_id = ANY ($1::bigint[])"};
// A loose index scan over posts_user_created_idx: one index probe per
// distinct author instead of reading every post. $1 after, $2 limit.
constexpr NamedStatement kAuthorsAfter{
    "authors_after",
    "WITH RECURSIVE authors AS ("
    "  (SELECT user_id FROM posts WHERE user_id > $1 ORDER BY user_id LIMIT 1) "
    "  UNION ALL "
    "  SELECT (SELECT p.user_id FROM posts p WHERE p.user_id > a.user_id "
    "          ORDER BY p.user_id LIMIT 1) "
    "  FROM authors a WHERE a.user_id IS NOT NULL) "
    "SELECT user_id FROM authors WHERE user_id IS NOT NULL LIMIT $2"};

// $1 user ids, $2 their new credentials versions, $3 the changes' times
// (micros), pairwise, each user once: a version never goes down.
constexpr NamedStatement kUpsertRevocations{
    "revocations_upsert",
    "INSERT INTO credentials_revocations AS r (user_id, min_version, changed_at) "
    "SELECT u.id, u.version, 'epoch'::timestamptz + u.micros * interval '1 microsecond' "
    "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(id, version, micros) "
    "ON CONFLICT (user_id) DO UPDATE SET min_version = EXCLUDED.min_version, "
    "changed_at = EXCLUDED.changed_at, applied_at = now() "
    "WHERE EXCLUDED.min_version > r.min_version"};
// The revocations applied after $1 (micros since the epoch).
constexpr NamedStatement kRevocationsSince{
    "revocations_since",
    "SELECT user_id, min_version, (extract(epoch FROM applied_at) * 1000000)::bigint AS micros "
    "FROM credentials_revocations "
    "WHERE applied_at > 'epoch'::timestamptz + $1::bigint * interval '1 microsecond'"};

constexpr NamedStatement kStatements[] = {kReadCursor,   kLockCursor,        kMoveCursor,
                                          kResetCursor,  kInsertTombstones,  kDeletePostsOf,
                                          kAuthorsAfter, kUpsertRevocations, kRevocationsSince};

const char* SourceName(RemovalSource source) {
  return source == RemovalSource::kEvent ? "event" : "reconcile";
}

// Removes `authors` within `tx` (author_locks.h); returns the posts deleted.
int64_t RemoveWithin(const ConnectionPool& pool, pqxx::transaction_base& tx,
                     const std::vector<DeletedAuthor>& authors, RemovalSource source) {
  if (authors.empty()) return 0;
  // Distinct, ascending: the lock order CreatePost uses too. The earliest
  // deletion time wins for a user named twice.
  std::map<int64_t, int64_t> deleted_micros;
  for (const DeletedAuthor& author : authors) {
    auto [it, inserted] = deleted_micros.emplace(author.user_id, author.deleted_micros);
    if (!inserted) it->second = std::min(it->second, author.deleted_micros);
  }
  std::vector<int64_t> ids;
  std::vector<int64_t> micros;
  for (const auto& [id, when] : deleted_micros) {
    ids.push_back(id);
    micros.push_back(when);
  }
  tx.exec(LockAuthorsSql("pg_advisory_xact_lock", ids));
  const std::string id_array = BigintArray(ids);
  pool.Exec(tx, kInsertTombstones, id_array, BigintArray(micros), SourceName(source));
  return pool.Exec(tx, kDeletePostsOf, id_array).affected_rows();
}

// Stores `revocations` within `tx`.
void RevokeWithin(const ConnectionPool& pool, pqxx::transaction_base& tx,
                  const std::vector<CredentialsRevocation>& revocations) {
  if (revocations.empty()) return;
  // One row per user (ON CONFLICT may not touch a row twice): the highest
  // version.
  std::map<int64_t, CredentialsRevocation> latest;
  for (const CredentialsRevocation& r : revocations) {
    auto [it, inserted] = latest.emplace(r.user_id, r);
    if (!inserted && r.min_version > it->second.min_version) it->second = r;
  }
  std::vector<int64_t> ids, versions, micros;
  for (const auto& [id, r] : latest) {
    ids.push_back(id);
    versions.push_back(r.min_version);
    micros.push_back(r.applied_micros);
  }
  pool.Exec(tx, kUpsertRevocations, BigintArray(ids), BigintArray(versions), BigintArray(micros));
}

}  // namespace

void PostgresDeletedAuthorsStore::PrepareStatements(pqxx::connection& connection) {
  PrepareAll(connection, kStatements);
}

absl::StatusOr<std::string> PostgresDeletedAuthorsStore::ReadCursor(const std::string& feed,
                                                                    Clock::time_point deadline) {
  return pool_.Run<std::string>(deadline, [&](pqxx::connection& c) -> absl::StatusOr<std::string> {
    pqxx::nontransaction tx(c);
    const pqxx::result rows = pool_.Exec(tx, kReadCursor, feed);
    if (rows.empty()) {
      return absl::FailedPreconditionError("no cursor row for feed " + feed +
                                           " (is the posts database migrated?)");
    }
    return rows[0][0].as<std::string>();
  });
}

absl::StatusOr<FeedPageResult> PostgresDeletedAuthorsStore::ApplyFeedPage(
    const std::string& feed, const std::string& from, const std::string& to,
    const std::vector<DeletedAuthor>& authors,
    const std::vector<CredentialsRevocation>& revocations, Clock::time_point deadline) {
  return pool_.Run<FeedPageResult>(
      deadline, [&](pqxx::connection& c) -> absl::StatusOr<FeedPageResult> {
        pqxx::work tx(c);
        const pqxx::result cursor = pool_.Exec(tx, kLockCursor, feed);
        FeedPageResult result;
        if (cursor.empty()) {
          result.outcome = FeedPageResult::kBusy;
          return result;
        }
        if (cursor[0][0].as<std::string>() != from) {
          result.outcome = FeedPageResult::kMoved;
          return result;
        }
        result.posts_removed = RemoveWithin(pool_, tx, authors, RemovalSource::kEvent);
        RevokeWithin(pool_, tx, revocations);
        pool_.Exec(tx, kMoveCursor, feed, to);
        tx.commit();
        return result;
      });
}

absl::Status PostgresDeletedAuthorsStore::ResetCursor(const std::string& feed,
                                                      const std::string& from,
                                                      Clock::time_point deadline) {
  return pool_.RunStatus(deadline, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    pool_.Exec(tx, kResetCursor, feed, from);
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> PostgresDeletedAuthorsStore::RemoveAuthors(
    const std::vector<DeletedAuthor>& authors, RemovalSource source, Clock::time_point deadline) {
  return pool_.Run<int64_t>(deadline, [&](pqxx::connection& c) -> absl::StatusOr<int64_t> {
    pqxx::work tx(c);
    const int64_t removed = RemoveWithin(pool_, tx, authors, source);
    tx.commit();
    return removed;
  });
}

absl::StatusOr<std::vector<CredentialsRevocation>> PostgresDeletedAuthorsStore::RevocationsSince(
    int64_t after_micros, Clock::time_point deadline) {
  using Revocations = std::vector<CredentialsRevocation>;
  return pool_.Run<Revocations>(deadline, [&](pqxx::connection& c) -> absl::StatusOr<Revocations> {
    pqxx::nontransaction tx(c);
    Revocations out;
    for (const pqxx::row& row : pool_.Exec(tx, kRevocationsSince, after_micros)) {
      out.push_back({row["user_id"].as<int64_t>(), row["min_version"].as<int64_t>(),
                     row["micros"].as<int64_t>()});
    }
    return out;
  });
}

absl::StatusOr<std::vector<int64_t>> PostgresDeletedAuthorsStore::AuthorsAfter(
    int64_t after, int limit, Clock::time_point deadline) {
  using Ids = std::vector<int64_t>;
  return pool_.Run<Ids>(deadline, [&](pqxx::connection& c) -> absl::StatusOr<Ids> {
    pqxx::nontransaction tx(c);
    Ids ids;
    for (const pqxx::row& row : pool_.Exec(tx, kAuthorsAfter, after, limit)) {
      ids.push_back(row[0].as<int64_t>());
    }
    return ids;
  });
}

}  // namespace post
}  // namespace microblog
