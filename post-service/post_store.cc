#include "post-service/post_store.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <unordered_map>
#include <utility>

#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include "absl/strings/str_cat.h"
#include "common/batch_loader.h"
#include "common/proto_time.h"
#include "common/status.h"

namespace microblog {
namespace post {
namespace {

using microblog::post::v1::Post;

// --- Every SQL statement of post-service, by name. ---------------------------
// Posts are selected as (id, user_id, body, create micros); timestamps travel
// as microseconds since the epoch, the precision PostgreSQL stores.
#define POST_COLUMNS "id, user_id, body, (extract(epoch FROM created_at) * 1000000)::bigint"
// The keyset position ($micros, $id) as a row comparable with
// (created_at, id). The timestamp is rebuilt from microseconds exactly
// (float8 holds every integer below 2^53, far beyond any plausible date), and
// the comparison stays on the bare columns so the indexes serve it.
#define AFTER_KEY(micros, id) \
  "(created_at, id) < ('epoch'::timestamptz + " micros "::bigint * interval '1 microsecond', " id ")"
#define NEWEST_FIRST " ORDER BY created_at DESC, id DESC "

constexpr char kCreate[] = "post_create";
constexpr char kGetByRequestId[] = "post_get_by_request_id";
constexpr char kGetMany[] = "post_get_many";
constexpr char kDelete[] = "post_delete";
constexpr char kListFirst[] = "post_list_first";
constexpr char kListAfter[] = "post_list_after";
constexpr char kListUserFirst[] = "post_list_user_first";
constexpr char kListUserAfter[] = "post_list_user_after";
constexpr char kListUsersFirst[] = "post_list_users_first";

const std::pair<const char*, const char*> kStatements[] = {
    // DO NOTHING on a taken request_id returns no row; the caller then reads
    // the post holding it. The partial unique index decides races.
    {kCreate,
     "INSERT INTO posts (user_id, body, request_id) VALUES ($1, $2, $3) "
     "ON CONFLICT (request_id) WHERE request_id IS NOT NULL DO NOTHING "
     "RETURNING " POST_COLUMNS},
    {kGetByRequestId, "SELECT " POST_COLUMNS " FROM posts WHERE request_id = $1"},
    {kGetMany, "SELECT " POST_COLUMNS " FROM posts WHERE id = ANY ($1::bigint[])"},
    {kDelete, "DELETE FROM posts WHERE id = $1"},
    {kListFirst, "SELECT " POST_COLUMNS " FROM posts" NEWEST_FIRST "LIMIT $1"},
    {kListAfter,
     "SELECT " POST_COLUMNS " FROM posts WHERE " AFTER_KEY("$1", "$2") NEWEST_FIRST "LIMIT $3"},
    {kListUserFirst,
     "SELECT " POST_COLUMNS " FROM posts WHERE user_id = $1" NEWEST_FIRST "LIMIT $2"},
    {kListUserAfter,
     "SELECT " POST_COLUMNS " FROM posts WHERE user_id = $1 AND " AFTER_KEY("$2", "$3")
         NEWEST_FIRST "LIMIT $4"},
    // The first page of several users at once: $1 user ids, $2 row limits
    // (page size + 1), pairwise. Column 4 tells whose page a row is on (its
    // position in $1, from 1); each page's rows come newest first.
    {kListUsersFirst,
     "SELECT p.id, p.user_id, p.body, (extract(epoch FROM p.created_at) * 1000000)::bigint, "
     "u.ord FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS u(user_id, lim, ord) "
     "CROSS JOIN LATERAL (SELECT id, user_id, body, created_at FROM posts "
     "WHERE posts.user_id = u.user_id" NEWEST_FIRST "LIMIT u.lim) p "
     "ORDER BY u.ord, p.created_at DESC, p.id DESC"},
};

#undef POST_COLUMNS
#undef AFTER_KEY
#undef NEWEST_FIRST

// Column 3 of a POST_COLUMNS row.
int64_t CreateMicros(const pqxx::row& row) { return row[3].as<int64_t>(); }

Post PostFromRow(const pqxx::row& row) {
  Post post;
  post.set_id(row[0].as<int64_t>());
  post.set_user_id(row[1].as<int64_t>());
  post.set_body(row[2].as<std::string>());
  *post.mutable_create_time() = TimestampFromMicros(CreateMicros(row));
  return post;
}

absl::Status PostNotFound(int64_t id) {
  const std::string name = std::to_string(id);
  return NotFoundResource("post", name, absl::StrCat("post ", name, " does not exist"));
}

// A page of at most `page_size` posts from `rows`, a pqxx::result or a
// vector of its rows (newest first; one row more than the page when another
// page follows).
template <typename Rows>
PostPage PageFromRows(const Rows& rows, int page_size) {
  PostPage page;
  const std::size_t page_rows = std::min<std::size_t>(rows.size(), page_size);
  page.posts.reserve(page_rows);
  for (std::size_t i = 0; i < page_rows; ++i) page.posts.push_back(PostFromRow(rows[i]));
  if (rows.size() > page_rows) {
    const pqxx::row& last = rows[page_rows - 1];
    page.next = PageKey{CreateMicros(last), last[0].as<int64_t>()};
  }
  return page;
}

// Inserts one post within `tx`, honouring its request_id (see Create()).
absl::StatusOr<Post> InsertPost(pqxx::transaction_base& tx, const NewPost& post) {
  // An empty request_id is no key at all: NULL is outside the unique index.
  std::optional<std::string> key;
  if (!post.request_id.empty()) key = post.request_id;
  // Two rounds at most: if the post holding the key is deleted between
  // the conflict and the read, the key is free again and the insert wins.
  for (int round = 0; round < 2; ++round) {
    pqxx::result inserted = tx.exec_prepared(kCreate, post.user_id, post.body, key);
    if (!inserted.empty()) return PostFromRow(inserted[0]);
    // Each statement takes a new snapshot (READ COMMITTED): this one sees
    // the row of the transaction the insert waited for.
    pqxx::result existing = tx.exec_prepared(kGetByRequestId, key);
    if (existing.empty()) continue;
    Post stored = PostFromRow(existing[0]);
    if (stored.user_id() != post.user_id || stored.body() != post.body) {
      return absl::AlreadyExistsError(absl::StrCat(
          "request_id \"", post.request_id, "\" was already used for another post (id ",
          stored.id(), ") with a different user_id or body"));
    }
    return stored;
  }
  return absl::AbortedError("request_id kept changing hands; retry");
}

}  // namespace

void PostStore::PrepareStatements(pqxx::connection& connection) {
  for (const auto& [name, sql] : kStatements) connection.prepare(name, sql);
}

absl::StatusOr<Post> PostStore::Create(const NewPost& post, Clock::time_point deadline) {
  return pool_.Run<Post>(deadline, [&](pqxx::connection& c) -> absl::StatusOr<Post> {
    // Autocommit: the insert is one statement, atomic on its own, and an
    // explicit transaction would cost two more round trips (BEGIN, COMMIT).
    pqxx::nontransaction tx(c);
    return InsertPost(tx, post);
  });
}

std::vector<absl::StatusOr<Post>> PostStore::CreateMany(const std::vector<NewPost>& posts,
                                                       Clock::time_point deadline) {
  if (posts.size() == 1) return {Create(posts[0], deadline)};
  // Rows are locked in request_id order, so that two batches holding some
  // of the same keys wait for each other instead of deadlocking.
  std::vector<std::size_t> order(posts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return posts[a].request_id < posts[b].request_id;
  });
  using Results = std::vector<absl::StatusOr<Post>>;
  absl::StatusOr<Results> stored =
      pool_.Run<Results>(deadline, [&](pqxx::connection& c) -> absl::StatusOr<Results> {
        // One transaction: one commit, one WAL flush for the whole batch.
        pqxx::work tx(c);
        Results results(posts.size(), absl::InternalError("not stored"));
        for (std::size_t i : order) results[i] = InsertPost(tx, posts[i]);
        tx.commit();
        return results;
      });
  if (!stored.ok()) return Results(posts.size(), stored.status());
  return *std::move(stored);
}

std::vector<absl::StatusOr<Post>> PostStore::GetMany(const std::vector<int64_t>& ids,
                                                    Clock::time_point deadline) {
  absl::StatusOr<std::vector<Post>> found =
      pool_.Run<std::vector<Post>>(deadline, [&](pqxx::connection& c) {
        pqxx::nontransaction tx(c);
        std::vector<Post> posts;
        for (const pqxx::row& row : tx.exec_prepared(kGetMany, BigintArray(ids))) {
          posts.push_back(PostFromRow(row));
        }
        return posts;
      });
  return InKeyOrder(
      ids, std::move(found), [](const Post& post) { return post.id(); }, PostNotFound);
}

absl::StatusOr<PostPage> PostStore::List(const ListPostsQuery& query,
                                         Clock::time_point deadline) {
  // One row more than the page tells whether another page follows.
  const int64_t limit = int64_t{query.page_size} + 1;
  return pool_.Run<PostPage>(deadline, [&](pqxx::connection& c) -> absl::StatusOr<PostPage> {
    pqxx::nontransaction tx(c);
    pqxx::result r;
    if (query.user_id == 0) {
      r = query.after ? tx.exec_prepared(kListAfter, query.after->create_micros,
                                         query.after->id, limit)
                      : tx.exec_prepared(kListFirst, limit);
    } else {
      r = query.after ? tx.exec_prepared(kListUserAfter, query.user_id,
                                         query.after->create_micros, query.after->id, limit)
                      : tx.exec_prepared(kListUserFirst, query.user_id, limit);
    }
    return PageFromRows(r, query.page_size);
  });
}

std::vector<absl::StatusOr<PostPage>> PostStore::ListFirstPages(
    const std::vector<FirstPageKey>& keys, Clock::time_point deadline) {
  std::vector<int64_t> user_ids;
  std::vector<int64_t> limits;
  for (const FirstPageKey& key : keys) {
    user_ids.push_back(key.user_id);
    limits.push_back(int64_t{key.page_size} + 1);  // one more tells whether a page follows
  }
  using Pages = std::vector<absl::StatusOr<PostPage>>;
  absl::StatusOr<Pages> pages =
      pool_.Run<Pages>(deadline, [&](pqxx::connection& c) -> absl::StatusOr<Pages> {
        pqxx::nontransaction tx(c);
        std::vector<std::vector<pqxx::row>> rows(keys.size());
        const pqxx::result r =
            tx.exec_prepared(kListUsersFirst, BigintArray(user_ids), BigintArray(limits));
        for (const pqxx::row& row : r) {
          const auto ord = row[4].as<std::size_t>();
          if (ord < 1 || ord > keys.size()) return absl::InternalError("row of no page");
          rows[ord - 1].push_back(row);
        }
        Pages out;
        out.reserve(keys.size());
        for (std::size_t i = 0; i < keys.size(); ++i) {
          out.push_back(PageFromRows(rows[i], keys[i].page_size));
        }
        return out;
      });
  if (!pages.ok()) return Pages(keys.size(), pages.status());
  return *std::move(pages);
}

absl::Status PostStore::Delete(int64_t id, Clock::time_point deadline) {
  return pool_.RunStatus(deadline, [&](pqxx::connection& c) -> absl::Status {
    pqxx::nontransaction tx(c);  // one statement: autocommit
    pqxx::result r = tx.exec_prepared(kDelete, id);
    if (r.affected_rows() == 0) return PostNotFound(id);
    return absl::OkStatus();
  });
}

}  // namespace post
}  // namespace microblog
