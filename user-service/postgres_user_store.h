// The PostgreSQL implementation of UserStore (user_store.h): its
// NamedStatements (all kept together in postgres_user_store.cc) run through
// a ConnectionPool (ConnectionPool::Exec: prepared or unnamed, as the pool
// says), and the reads that say so on a read replica (ReadRouter):
//
//   ConnectionPoolOptions options;
//   options.url = url;
//   options.prepare = &PostgresUserStore::PrepareStatements;
//   ConnectionPool pool(std::move(options));
//   ReadRouter router(pool, std::move(read_options));
//   PostgresUserStore store(router);
//   absl::StatusOr<UserRecord> user = store.GetByUsername("alice", deadline);
//
// Thread-safety: thread-safe, as UserStore requires.
#ifndef MICROBLOG_USER_SERVICE_POSTGRES_USER_STORE_H_
#define MICROBLOG_USER_SERVICE_POSTGRES_USER_STORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/connection>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/read_from.h"
#include "common/db/connection_pool.h"
#include "common/db/read_router.h"
#include "user-service/user_store.h"

namespace microblog {
namespace user {

class PostgresUserStore final : public UserStore {
 public:
  // Prepares every statement the store uses on a new connection: pass it as
  // ConnectionPoolOptions::prepare. Throws pqxx exceptions.
  static void PrepareStatements(pqxx::connection& connection);

  // `router` is borrowed, must outlive the store, and its pools must
  // prepare their connections with PrepareStatements().
  explicit PostgresUserStore(ReadRouter& router) : router_(router), pool_(router.primary()) {}

  PostgresUserStore(const PostgresUserStore&) = delete;
  PostgresUserStore& operator=(const PostgresUserStore&) = delete;

  absl::StatusOr<UserRecord> Create(const std::string& username, const std::string& email,
                                    const std::string& password_hash,
                                    Clock::time_point deadline) override;
  absl::StatusOr<UserRecord> GetByUsername(const std::string& username,
                                           Clock::time_point deadline) override;
  absl::StatusOr<UserRecord> GetByEmail(const std::string& email,
                                        Clock::time_point deadline) override;
  std::vector<absl::StatusOr<UserRecord>> GetByLogins(const std::vector<Login>& logins,
                                                      const ReadFrom& from,
                                                      Clock::time_point deadline) override;
  absl::StatusOr<UserCredentials> GetCredentials(LoginField field, const std::string& login,
                                                 Clock::time_point deadline) override;
  absl::StatusOr<std::vector<UserRecord>> ListAfter(int64_t after_id, int limit,
                                                    const ReadFrom& from,
                                                    Clock::time_point deadline) override;
  absl::StatusOr<std::vector<UserRecord>> GetByIds(const std::vector<int64_t>& ids,
                                                   const ReadFrom& from,
                                                   Clock::time_point deadline) override;
  absl::StatusOr<UserRecord> Update(int64_t id, const UserChanges& changes,
                                    Clock::time_point deadline) override;
  absl::Status Delete(int64_t id, std::optional<int64_t> if_credentials_version,
                      Clock::time_point deadline) override;
  std::string WriteToken(Clock::time_point deadline) override;

 private:
  ReadRouter& router_;
  ConnectionPool& pool_;  // the primary
};

}  // namespace user
}  // namespace microblog

#endif  // MICROBLOG_USER_SERVICE_POSTGRES_USER_STORE_H_
