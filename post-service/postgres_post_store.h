// The PostgreSQL implementation of PostStore (post_store.h): its
// NamedStatements (all kept together in postgres_post_store.cc) run through
// a ConnectionPool (ConnectionPool::Exec: prepared or unnamed, as the pool
// says), and the reads that say so on a read replica (ReadRouter):
//
//   ConnectionPoolOptions options;
//   options.url = url;
//   options.prepare = &PostgresPostStore::PrepareStatements;
//   ConnectionPool pool(std::move(options));
//   ReadRouter router(pool, std::move(read_options));
//   PostgresPostStore store(router);
//   absl::StatusOr<std::vector<PostRecord>> posts =
//       store.GetByIds({1, 2}, ReadFrom::Replica(), deadline);
//
// Thread-safety: thread-safe, as PostStore requires.
#ifndef MICROBLOG_POST_SERVICE_POSTGRES_POST_STORE_H_
#define MICROBLOG_POST_SERVICE_POSTGRES_POST_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/connection>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "common/base/read_from.h"
#include "common/db/connection_pool.h"
#include "common/db/read_router.h"
#include "post-service/post_records.h"
#include "post-service/post_store.h"

namespace microblog {
namespace post {

class PostgresPostStore final : public PostStore {
 public:
  // Prepares every statement the store uses on a new connection: pass it as
  // ConnectionPoolOptions::prepare. Throws pqxx exceptions.
  static void PrepareStatements(pqxx::connection& connection);

  // `router` is borrowed, must outlive the store, and its pools must
  // prepare their connections with PrepareStatements().
  explicit PostgresPostStore(ReadRouter& router) : router_(router), pool_(router.primary()) {}

  PostgresPostStore(const PostgresPostStore&) = delete;
  PostgresPostStore& operator=(const PostgresPostStore&) = delete;

  std::vector<absl::StatusOr<PostRecord>> InsertMany(const std::vector<NewPost>& posts,
                                                     Clock::time_point deadline) override;
  absl::StatusOr<std::vector<PostRecord>> GetByIds(const std::vector<int64_t>& ids,
                                                   const ReadFrom& from,
                                                   Clock::time_point deadline) override;
  absl::StatusOr<std::vector<PostRecord>> List(const PostRange& range, const ReadFrom& from,
                                               Clock::time_point deadline) override;
  absl::StatusOr<std::vector<std::vector<PostRecord>>> ListFirstPages(
      const std::vector<FirstPageKey>& keys, const ReadFrom& from,
      Clock::time_point deadline) override;
  absl::StatusOr<DeleteOutcome> Delete(int64_t id, std::optional<int64_t> owner,
                                       Clock::time_point deadline) override;
  std::string WriteToken(Clock::time_point deadline) override;

 private:
  ReadRouter& router_;
  ConnectionPool& pool_;  // the primary
};

}  // namespace post
}  // namespace microblog

#endif  // MICROBLOG_POST_SERVICE_POSTGRES_POST_STORE_H_
