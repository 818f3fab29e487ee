#include "post-service/postgres_post_store.h"

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <optional>
#include <string>
#include <utility>

#include <pqxx/nontransaction>
#include <pqxx/result>

#include "absl/strings/str_cat.h"
#include "common/base/batch_failure.h"
#include "common/base/status.h"
#include "common/db/array_literal.h"
#include "common/db/named_statement.h"

namespace microblog {
namespace post {
namespace {

// --- Every SQL statement of post-service. ------------------------------------
// A post row is (id, user_id, body, create_micros): created_at travels as
// microseconds since the epoch, the precision PostgreSQL stores (see
// PostFromRow). Listings go newest first, by (created_at, id) descending; a
// page after a key compares the bare columns with the key rebuilt as a
// timestamp (exact: float8 holds every integer below 2^53, which the page
// token check enforces), so that the indexes serve it.

// CreatePost's batches: insert_posts() (migrations/post/0003) takes the
// authors' shared locks, refuses tombstoned authors and inserts each post,
// in one round trip and one statement, so one commit (cascade/author_locks.h).
// $1 user ids, $2 bodies, $3 request ids (NULL: none), pairwise, in
// insertion order. One row per post: `ord` (its position, from 1),
// `outcome` ('inserted', 'removed': its author is deleted, 'taken': its
// request_id is held by another post, which InsertMany then reads) and
// the post when inserted. The partial unique index decides races.
constexpr NamedStatement kInsertBatch{
    "posts_insert_batch",
    "SELECT ord, outcome, post_id AS id, post_user_id AS user_id, post_body AS body, "
    "create_micros FROM insert_posts($1::bigint[], $2::text[], $3::text[])"};
constexpr NamedStatement kGetByRequestId{
    "post_get_by_request_id",
    "SELECT id, user_id, body, (extract(epoch FROM created_at) * 1000000)::bigint AS create_micros "
    "FROM posts WHERE request_id = $1"};
constexpr NamedStatement kGetByIds{
    "post_get_by_ids",
    "SELECT id, user_id, body, (extract(epoch FROM created_at) * 1000000)::bigint AS create_micros "
    "FROM posts WHERE id = ANY ($1::bigint[])"};
// $2: the owner the post must have (NULL: any); a tombstoned owner deletes
// nothing. One row: the post's owner (NULL: no such post), whether $2 is
// tombstoned, and how many rows went.
constexpr NamedStatement kDelete{
    "post_delete",
    "WITH target AS (SELECT id, user_id FROM posts WHERE id = $1), "
    "removed AS (SELECT 1 FROM user_tombstones WHERE user_id = $2::bigint), "
    "deleted AS (DELETE FROM posts p USING target t WHERE p.id = t.id "
    "AND ($2::bigint IS NULL OR t.user_id = $2::bigint) AND NOT EXISTS (SELECT 1 FROM removed) "
    "RETURNING p.id) "
    "SELECT (SELECT user_id FROM target) AS owner, EXISTS (SELECT 1 FROM removed) AS removed, "
    "(SELECT count(*) FROM deleted) AS deleted"};
// $1 limit.
constexpr NamedStatement kListFirst{
    "post_list_first",
    "SELECT id, user_id, body, (extract(epoch FROM created_at) * 1000000)::bigint AS create_micros "
    "FROM posts ORDER BY created_at DESC, id DESC LIMIT $1"};
// $1 key micros, $2 key id, $3 limit.
constexpr NamedStatement kListAfter{
    "post_list_after",
    "SELECT id, user_id, body, (extract(epoch FROM created_at) * 1000000)::bigint AS create_micros "
    "FROM posts "
    "WHERE (created_at, id) < ('epoch'::timestamptz + $1::bigint * interval '1 microsecond', $2) "
    "ORDER BY created_at DESC, id DESC LIMIT $3"};
// $1 user id, $2 limit.
constexpr NamedStatement kListUserFirst{
    "post_list_user_first",
    "SELECT id, user_id, body, (extract(epoch FROM created_at) * 1000000)::bigint AS create_micros "
    "FROM posts WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"};
// $1 user id, $2 key micros, $3 key id, $4 limit.
constexpr NamedStatement kListUserAfter{
    "post_list_user_after",
    "SELECT id, user_id, body, (extract(epoch FROM created_at) * 1000000)::bigint AS create_micros "
    "FROM posts WHERE user_id = $1 "
    "AND (created_at, id) < ('epoch'::timestamptz + $2::bigint * interval '1 microsecond', $3) "
    "ORDER BY created_at DESC, id DESC LIMIT $4"};
// The first pages of several users at once: $1 user ids, $2 row limits,
// pairwise. `page` says whose page a row is on (its position in $1, from
// 1); each page's rows come newest first.
constexpr NamedStatement kListFirstPages{
    "post_list_first_pages",
    "SELECT p.id, p.user_id, p.body, "
    "(extract(epoch FROM p.created_at) * 1000000)::bigint AS create_micros, u.page "
    "FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS u(user_id, lim, page) "
    "CROSS JOIN LATERAL (SELECT id, user_id, body, created_at FROM posts "
    "WHERE posts.user_id = u.user_id ORDER BY created_at DESC, id DESC LIMIT u.lim) p "
    "ORDER BY u.page, p.created_at DESC, p.id DESC"};

constexpr NamedStatement kStatements[] = {
    kInsertBatch, kGetByRequestId, kGetByIds,      kDelete,         kListFirst,
    kListAfter,   kListUserFirst,  kListUserAfter, kListFirstPages,
};

// The one reader of a post row (the columns every statement above returns).
PostRecord PostFromRow(const pqxx::row& row) {
  PostRecord post;
  post.id = row["id"].as<int64_t>();
  post.user_id = row["user_id"].as<int64_t>();
  post.body = row["body"].as<std::string>();
  post.create_micros = row["create_micros"].as<int64_t>();
  return post;
}

// The posts of `rows` (a pqxx::result or a vector of its rows), in order.
template <typename Rows>
std::vector<PostRecord> PostsFromRows(const Rows& rows) {
  std::vector<PostRecord> posts;
  posts.reserve(rows.size());
  for (const auto& row : rows) posts.push_back(PostFromRow(row));
  return posts;
}

// What insert_posts() said of one post.
enum class InsertOutcome { kInserted, kRemoved, kTaken };

// Runs insert_posts() on `posts` (in that order); one outcome per post, with
// the stored post when inserted.
absl::StatusOr<std::vector<std::pair<InsertOutcome, PostRecord>>> InsertBatch(
    const ConnectionPool& pool, pqxx::connection& c, const std::vector<const NewPost*>& posts) {
  std::vector<int64_t> user_ids;
  std::vector<std::optional<std::string>> bodies;
  std::vector<std::optional<std::string>> request_ids;
  for (const NewPost* post : posts) {
    user_ids.push_back(post->user_id);
    bodies.emplace_back(post->body);
    // An empty request_id is no key at all: NULL is outside the unique index.
    request_ids.push_back(post->request_id.empty() ? std::nullopt
                                                   : std::optional<std::string>(post->request_id));
  }
  // One statement: autocommit is atomic and saves BEGIN/COMMIT round trips.
  pqxx::nontransaction tx(c);
  const pqxx::result rows =
      pool.Exec(tx, kInsertBatch, BigintArray(user_ids), TextArray(bodies), TextArray(request_ids));
  using Outcomes = std::vector<std::pair<InsertOutcome, PostRecord>>;
  Outcomes outcomes(posts.size(), {InsertOutcome::kTaken, PostRecord{}});
  if (rows.size() != posts.size()) return absl::InternalError("insert_posts: wrong row count");
  for (const pqxx::row& row : rows) {
    const auto ord = row["ord"].as<std::size_t>();
    if (ord < 1 || ord > posts.size()) return absl::InternalError("insert_posts: bad ord");
    const std::string outcome = row["outcome"].as<std::string>();
    if (outcome == "inserted") {
      outcomes[ord - 1] = {InsertOutcome::kInserted, PostFromRow(row)};
    } else if (outcome == "removed") {
      outcomes[ord - 1].first = InsertOutcome::kRemoved;
    } else if (outcome != "taken") {
      return absl::InternalError("insert_posts: unknown outcome " + outcome);
    }
  }
  return outcomes;
}

// The answer for `post`, whose request_id insert_posts() found taken: the
// post holding it when user_id and body match (a retry), ALREADY_EXISTS when
// they do not. The holder committed (the insert waited for it), so this
// later statement sees it; if it was deleted meanwhile, the key is free
// again and the post is inserted once more (two rounds at most).
absl::StatusOr<PostRecord> ResolveTakenKey(const ConnectionPool& pool, pqxx::connection& c,
                                           const NewPost& post) {
  for (int round = 0; round < 2; ++round) {
    {
      pqxx::nontransaction tx(c);
      const pqxx::result existing = pool.Exec(tx, kGetByRequestId, post.request_id);
      if (!existing.empty()) {
        PostRecord stored = PostFromRow(existing[0]);
        if (stored.user_id != post.user_id || stored.body != post.body) {
          return absl::AlreadyExistsError(absl::StrCat(
              "request_id \"", post.request_id, "\" was already used for another post (id ",
              stored.id, ") with a different user_id or body"));
        }
        return stored;
      }
    }
    absl::StatusOr<std::vector<std::pair<InsertOutcome, PostRecord>>> again =
        InsertBatch(pool, c, {&post});
    if (!again.ok()) return again.status();
    switch ((*again)[0].first) {
      case InsertOutcome::kInserted:
        return std::move((*again)[0].second);
      case InsertOutcome::kRemoved:
        return NotFoundResource("user", post.user_id);
      case InsertOutcome::kTaken:
        break;
    }
  }
  return absl::AbortedError("request_id kept changing hands; retry");
}

}  // namespace

void PostgresPostStore::PrepareStatements(pqxx::connection& connection) {
  PrepareAll(connection, kStatements);
}

std::vector<absl::StatusOr<PostRecord>> PostgresPostStore::InsertMany(
    const std::vector<NewPost>& posts, Clock::time_point deadline) {
  using Results = std::vector<absl::StatusOr<PostRecord>>;
  // Rows are locked in request_id order, so that two batches holding some
  // of the same keys wait for each other instead of deadlocking.
  std::vector<std::size_t> order(posts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return posts[a].request_id < posts[b].request_id;
  });
  std::vector<const NewPost*> ordered;
  for (std::size_t i : order) ordered.push_back(&posts[i]);
  using Outcomes = std::vector<std::pair<InsertOutcome, PostRecord>>;
  absl::StatusOr<Outcomes> outcomes = pool_.Run<Outcomes>(
      deadline, [&](pqxx::connection& c) { return InsertBatch(pool_, c, ordered); });
  // An error of the statement is every post's, and then none is stored;
  // the Batcher finds the post that caused it (common/exec/batcher.h).
  if (!outcomes.ok()) return Results(posts.size(), WholeBatchFailure(outcomes.status()));
  Results results(posts.size(), absl::InternalError("not stored"));
  for (std::size_t k = 0; k < ordered.size(); ++k) {
    const NewPost& post = *ordered[k];
    auto& [outcome, record] = (*outcomes)[k];
    switch (outcome) {
      case InsertOutcome::kInserted:
        results[order[k]] = std::move(record);
        break;
      case InsertOutcome::kRemoved:
        // The same answer as user-service's "no such user" (AuthorChecker).
        results[order[k]] = NotFoundResource("user", post.user_id);
        break;
      case InsertOutcome::kTaken:
        // Rare (a retried request): on its own, after the batch committed,
        // so that its failure is its own.
        results[order[k]] = pool_.Run<PostRecord>(
            deadline, [&](pqxx::connection& c) { return ResolveTakenKey(pool_, c, post); });
        break;
    }
  }
  return results;
}

absl::StatusOr<std::vector<PostRecord>> PostgresPostStore::GetByIds(const std::vector<int64_t>& ids,
                                                                    const ReadFrom& from,
                                                                    Clock::time_point deadline) {
  return router_.Run<std::vector<PostRecord>>(from, deadline, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    std::vector<PostRecord> posts;
    for (const pqxx::row& row : router_.Exec(tx, kGetByIds, BigintArray(ids))) {
      posts.push_back(PostFromRow(row));
    }
    return posts;
  });
}

absl::StatusOr<std::vector<PostRecord>> PostgresPostStore::List(const PostRange& range,
                                                                const ReadFrom& from,
                                                                Clock::time_point deadline) {
  const int64_t limit = range.limit;
  return router_.Run<std::vector<PostRecord>>(from, deadline, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    pqxx::result rows;
    if (range.user_id == 0 && !range.after) {
      rows = router_.Exec(tx, kListFirst, limit);
    } else if (range.user_id == 0) {
      rows = router_.Exec(tx, kListAfter, range.after->create_micros, range.after->id, limit);
    } else if (!range.after) {
      rows = router_.Exec(tx, kListUserFirst, range.user_id, limit);
    } else {
      rows = router_.Exec(tx, kListUserAfter, range.user_id, range.after->create_micros,
                          range.after->id, limit);
    }
    return PostsFromRows(rows);
  });
}

absl::StatusOr<std::vector<std::vector<PostRecord>>> PostgresPostStore::ListFirstPages(
    const std::vector<FirstPageKey>& keys, const ReadFrom& from, Clock::time_point deadline) {
  std::vector<int64_t> user_ids;
  std::vector<int64_t> limits;
  for (const FirstPageKey& key : keys) {
    user_ids.push_back(key.user_id);
    limits.push_back(key.limit);
  }
  using Pages = std::vector<std::vector<PostRecord>>;
  return router_.Run<Pages>(from, deadline, [&](pqxx::connection& c) -> absl::StatusOr<Pages> {
    pqxx::nontransaction tx(c);
    const pqxx::result result =
        router_.Exec(tx, kListFirstPages, BigintArray(user_ids), BigintArray(limits));
    std::vector<std::vector<pqxx::row>> rows_by_page(keys.size());
    for (const pqxx::row& row : result) {
      const auto page = row["page"].as<std::size_t>();
      if (page < 1 || page > keys.size()) return absl::InternalError("row of no page");
      rows_by_page[page - 1].push_back(row);
    }
    Pages pages;
    pages.reserve(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      pages.push_back(PostsFromRows(rows_by_page[i]));
    }
    return pages;
  });
}

absl::StatusOr<DeleteOutcome> PostgresPostStore::Delete(int64_t id, std::optional<int64_t> owner,
                                                        Clock::time_point deadline) {
  return pool_.Run<DeleteOutcome>(deadline,
                                  [&](pqxx::connection& c) -> absl::StatusOr<DeleteOutcome> {
                                    pqxx::nontransaction tx(c);  // one statement: autocommit
                                    const pqxx::result rows = pool_.Exec(tx, kDelete, id, owner);
                                    const pqxx::row row = rows.at(0);
                                    if (row["owner"].is_null()) return NotFoundResource("post", id);
                                    if (row["deleted"].as<int64_t>() > 0)
                                      return DeleteOutcome::kDeleted;
                                    if (row["removed"].as<bool>())
                                      return DeleteOutcome::kOwnerRemoved;
                                    return DeleteOutcome::kOtherOwner;
                                  });
}

std::string PostgresPostStore::WriteToken(Clock::time_point deadline) {
  return router_.WriteToken(deadline);
}

}  // namespace post
}  // namespace microblog
