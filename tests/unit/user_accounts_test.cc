// Unit tests of UserAccounts, the logic of user-service, on an in-memory fake store:
// what the end-to-end tests (e2e/user_service_test.cc) cannot force from
// outside, such as the store's row order, its failures, and proof that
// invalid requests never reach it.
#include "user-service/user_accounts.h"

#include <algorithm>
#include <future>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "common/base/status.h"
#include "common/rpc/grpc_status.h"
#include "user-service/password_hasher.h"
#include "user-service/user_store.h"

namespace microblog {
namespace user {
namespace {

namespace v1 = ::microblog::user::v1;

// Keeps users in a map; counts calls; can be told to fail every call.
class FakeUserStore final : public UserStore {
 public:
  int calls = 0;
  absl::Status fail_with = absl::OkStatus();
  bool reverse_rows = false;  // return multi-row results in descending id order
  int last_list_limit = 0;
  ReadFrom last_from;        // where the last GetByIds/ListAfter was asked to run
  int credential_reads = 0;  // calls of GetCredentials, the one read of a hash
  std::map<int64_t, UserCredentials> users;

  void Add(int64_t id, const std::string& name) {
    users[id] = {{id, name, name + "@x.io", 1700000000000000}, "hash"};
  }

  absl::StatusOr<UserRecord> Create(const std::string& username, const std::string& email,
                                    const std::string& password_hash, Clock::time_point) override {
    if (!Begin()) return fail_with;
    const int64_t id = users.empty() ? 1 : users.rbegin()->first + 1;
    users[id] = {{id, username, email, 0}, password_hash};
    return users[id].user;
  }
  absl::StatusOr<UserRecord> GetByUsername(const std::string& username,
                                           Clock::time_point deadline) override {
    absl::StatusOr<UserCredentials> found = Find(LoginField::kUsername, username, deadline);
    if (!found.ok()) return found.status();
    return found->user;
  }
  absl::StatusOr<UserRecord> GetByEmail(const std::string& email,
                                        Clock::time_point deadline) override {
    absl::StatusOr<UserCredentials> found = Find(LoginField::kEmail, email, deadline);
    if (!found.ok()) return found.status();
    return found->user;
  }
  absl::StatusOr<UserCredentials> GetCredentials(LoginField field, const std::string& login,
                                                 Clock::time_point deadline) override {
    ++credential_reads;
    return Find(field, login, deadline);
  }
  absl::StatusOr<std::vector<UserRecord>> ListAfter(int64_t after_id, int limit,
                                                    const ReadFrom& from,
                                                    Clock::time_point) override {
    if (!Begin()) return fail_with;
    last_from = from;
    last_list_limit = limit;
    std::vector<UserRecord> out;
    for (auto it = users.upper_bound(after_id);
         it != users.end() && static_cast<int>(out.size()) < limit; ++it) {
      out.push_back(it->second.user);
    }
    return out;
  }
  absl::StatusOr<std::vector<UserRecord>> GetByIds(const std::vector<int64_t>& ids,
                                                   const ReadFrom& from,
                                                   Clock::time_point) override {
    if (!Begin()) return fail_with;
    last_from = from;
    std::vector<UserRecord> out;
    for (const auto& [id, account] : users) {
      if (std::find(ids.begin(), ids.end(), id) != ids.end()) out.push_back(account.user);
    }
    if (reverse_rows) std::reverse(out.begin(), out.end());
    return out;
  }
  absl::StatusOr<UserRecord> Update(int64_t id, const UserChanges& changes,
                                    Clock::time_point) override {
    if (!Begin()) return fail_with;
    auto it = users.find(id);
    if (it == users.end()) return absl::NotFoundError("no such user");
    if (changes.username) it->second.user.username = *changes.username;
    if (changes.email) it->second.user.email = *changes.email;
    if (changes.password_hash) it->second.password_hash = *changes.password_hash;
    return it->second.user;
  }
  absl::Status Delete(int64_t id, Clock::time_point) override {
    if (!Begin()) return fail_with;
    return users.erase(id) == 1 ? absl::OkStatus() : absl::NotFoundError("no such user");
  }

 private:
  bool Begin() {
    ++calls;
    return fail_with.ok();
  }
  absl::StatusOr<UserCredentials> Find(LoginField field, const std::string& login,
                                       Clock::time_point) {
    if (!Begin()) return fail_with;
    for (const auto& [id, account] : users) {
      const std::string& value =
          field == LoginField::kUsername ? account.user.username : account.user.email;
      if (value == login) return account;
    }
    return absl::NotFoundError("no such user");
  }
};

class UserAccountsTest : public ::testing::Test {
 protected:
  static std::chrono::system_clock::time_point Deadline() {
    return std::chrono::system_clock::now() + std::chrono::seconds(30);
  }

  // GetUser answers through a callback: wait for it.
  absl::Status GetUser(const v1::GetUserRequest& request, v1::GetUserResponse& response) {
    std::promise<absl::Status> answered;
    accounts_.GetUser(request, Deadline(), response,
                      [&answered](const absl::Status& status) { answered.set_value(status); });
    return answered.get_future().get();
  }

  // LookupUser too.
  absl::Status LookupUser(const v1::LookupUserRequest& request, v1::LookupUserResponse& response) {
    std::promise<absl::Status> answered;
    accounts_.LookupUser(request, Deadline(), response,
                         [&answered](const absl::Status& status) { answered.set_value(status); });
    return answered.get_future().get();
  }

  FakeUserStore store_;
  PasswordHasher hasher_{1};
  WorkerPool db_workers_{"test-db", 2};
  UserAccounts accounts_{store_, hasher_, db_workers_};
};

TEST_F(UserAccountsTest, InvalidRequestsNeverReachTheStore) {
  v1::CreateUserRequest create;
  create.set_username("no spaces allowed");
  v1::CreateUserResponse create_response;
  EXPECT_EQ(accounts_.CreateUser(create, Deadline(), create_response).code(),
            absl::StatusCode::kInvalidArgument);

  v1::GetUserRequest get;
  v1::GetUserResponse get_response;
  EXPECT_EQ(GetUser(get, get_response).code(), absl::StatusCode::kInvalidArgument);

  v1::LookupUserRequest lookup;
  v1::LookupUserResponse lookup_response;
  EXPECT_EQ(LookupUser(lookup, lookup_response).code(), absl::StatusCode::kInvalidArgument);

  v1::ListUsersRequest list;
  list.set_page_token("not a token");
  v1::ListUsersResponse list_response;
  EXPECT_EQ(accounts_.ListUsers(list, Deadline(), list_response).code(),
            absl::StatusCode::kInvalidArgument);

  v1::UpdateUserRequest update;
  update.set_id(1);
  update.mutable_update_mask()->add_paths("create_time");
  v1::UpdateUserResponse update_response;
  EXPECT_EQ(accounts_.UpdateUser(update, Deadline(), update_response).code(),
            absl::StatusCode::kInvalidArgument);

  v1::DeleteUserRequest del;
  del.set_id(-1);
  v1::DeleteUserResponse delete_response;
  EXPECT_EQ(accounts_.DeleteUser(del, Deadline(), delete_response).code(),
            absl::StatusCode::kInvalidArgument);

  v1::BatchGetUsersRequest batch;
  batch.add_ids(0);
  v1::BatchGetUsersResponse batch_response;
  EXPECT_EQ(accounts_.BatchGetUsers(batch, Deadline(), batch_response).code(),
            absl::StatusCode::kInvalidArgument);

  v1::VerifyPasswordRequest verify;
  v1::VerifyPasswordResponse verify_response;
  EXPECT_EQ(accounts_.VerifyPassword(verify, "ip:192.0.2.1", Deadline(), verify_response).code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(store_.calls, 0);
}

TEST_F(UserAccountsTest, StoreInternalErrorsReachClientsAsGenericMessage) {
  store_.fail_with = absl::InternalError("sql error 42501: permission denied for table users");
  v1::GetUserRequest request;
  request.set_id(1);
  v1::GetUserResponse response;
  grpc::Status status = ToGrpcStatus(GetUser(request, response));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(status.error_message(), "internal error");
}

TEST_F(UserAccountsTest, StoreUnavailabilityReachesClientsAsUnavailable) {
  store_.fail_with = absl::UnavailableError("database unavailable; retry later");
  v1::VerifyPasswordRequest request;
  request.set_login("someone");
  request.set_password("some password");
  v1::VerifyPasswordResponse response;
  grpc::Status status =
      ToGrpcStatus(accounts_.VerifyPassword(request, "ip:192.0.2.1", Deadline(), response));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(UserAccountsTest, BatchGetUsersOrdersByFirstAppearanceWhateverTheStoreOrder) {
  for (int64_t id = 1; id <= 4; ++id) store_.Add(id, "u" + std::to_string(id));
  store_.reverse_rows = true;
  v1::BatchGetUsersRequest request;
  for (int64_t id : {2, 4, 1, 2, 9, 4}) request.add_ids(id);
  v1::BatchGetUsersResponse response;
  ASSERT_TRUE(accounts_.BatchGetUsers(request, Deadline(), response).ok());
  std::vector<int64_t> ids;
  for (const v1::User& user : response.users()) ids.push_back(user.id());
  EXPECT_EQ(ids, (std::vector<int64_t>{2, 4, 1}));
}

// The details of 100 bad ids would not fit in the metadata a gRPC client
// accepts (it would see RESOURCE_EXHAUSTED): the first ten are named.
TEST_F(UserAccountsTest, BatchGetUsersNamesAtMostTenBadIds) {
  v1::BatchGetUsersRequest request;
  for (int64_t id = 0; id > -100; --id) request.add_ids(id);
  v1::BatchGetUsersResponse response;
  absl::Status status = accounts_.BatchGetUsers(request, Deadline(), response);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  std::vector<FieldViolation> violations = FieldViolationsOf(status);
  ASSERT_EQ(violations.size(), 10u);
  EXPECT_EQ(violations.front().field, "ids[0]");
  EXPECT_EQ(violations.back().field, "ids[9]");
  EXPECT_EQ(store_.calls, 0);
}

TEST_F(UserAccountsTest, ListUsersReadsOneExtraRowToDecideOnANextPage) {
  for (int64_t id = 1; id <= 3; ++id) store_.Add(id, "u" + std::to_string(id));
  v1::ListUsersRequest request;
  request.set_page_size(3);
  v1::ListUsersResponse exact;
  ASSERT_TRUE(accounts_.ListUsers(request, Deadline(), exact).ok());
  EXPECT_EQ(store_.last_list_limit, 4);
  EXPECT_EQ(exact.users_size(), 3);
  EXPECT_TRUE(exact.next_page_token().empty());  // no empty last page to fetch

  request.set_page_size(2);
  v1::ListUsersResponse first;
  ASSERT_TRUE(accounts_.ListUsers(request, Deadline(), first).ok());
  ASSERT_FALSE(first.next_page_token().empty());
  request.set_page_token(first.next_page_token());
  v1::ListUsersResponse second;
  ASSERT_TRUE(accounts_.ListUsers(request, Deadline(), second).ok());
  ASSERT_EQ(second.users_size(), 1);
  EXPECT_EQ(second.users(0).id(), 3);
  EXPECT_TRUE(second.next_page_token().empty());
}

TEST_F(UserAccountsTest, UpdateUserHashesANewPasswordAndKeepsOtherFields) {
  store_.Add(1, "walter");
  v1::UpdateUserRequest request;
  request.set_id(1);
  request.set_username("ignored because not in the mask");
  request.set_password("new password");
  request.mutable_update_mask()->add_paths("password");
  v1::UpdateUserResponse response;
  ASSERT_TRUE(accounts_.UpdateUser(request, Deadline(), response).ok());
  EXPECT_EQ(store_.users[1].user.username, "walter");
  EXPECT_EQ(store_.users[1].password_hash.rfind("$argon2id$", 0), 0u);
  auto match = hasher_.Verify(store_.users[1].password_hash, "new password",
                              std::chrono::system_clock::now() + std::chrono::seconds(30));
  ASSERT_TRUE(match.ok());
  EXPECT_TRUE(*match);
}

TEST_F(UserAccountsTest, OnlyVerifyPasswordReadsThePasswordHash) {
  store_.Add(1, "walter");
  v1::LookupUserRequest lookup;
  lookup.set_username("walter");
  v1::LookupUserResponse lookup_response;
  ASSERT_TRUE(LookupUser(lookup, lookup_response).ok());
  lookup.set_email("walter@x.io");
  ASSERT_TRUE(LookupUser(lookup, lookup_response).ok());
  v1::GetUserRequest get;
  get.set_id(1);
  v1::GetUserResponse get_response;
  ASSERT_TRUE(GetUser(get, get_response).ok());
  EXPECT_EQ(store_.credential_reads, 0);

  absl::StatusOr<std::string> hash = hasher_.Hash("right password", Deadline());
  ASSERT_TRUE(hash.ok());
  store_.users[1].password_hash = *hash;
  v1::VerifyPasswordRequest verify;
  verify.set_login("walter@x.io");
  verify.set_password("right password");
  v1::VerifyPasswordResponse verify_response;
  ASSERT_TRUE(accounts_.VerifyPassword(verify, "ip:192.0.2.1", Deadline(), verify_response).ok());
  EXPECT_EQ(verify_response.user().id(), 1);
  EXPECT_EQ(store_.credential_reads, 1);
}

TEST_F(UserAccountsTest, ThrottledLoginIsNeitherQueriedNorHashedAndLooksTheSameWhetherItExists) {
  store_.Add(1, "walter");
  absl::StatusOr<std::string> hash = hasher_.Hash("right password", Deadline());
  ASSERT_TRUE(hash.ok());
  store_.users[1].password_hash = *hash;
  auto verify = [&](const std::string& login, const std::string& password,
                    const std::string& source) {
    v1::VerifyPasswordRequest request;
    request.set_login(login);
    request.set_password(password);
    v1::VerifyPasswordResponse response;
    return accounts_.VerifyPassword(request, source, Deadline(), response);
  };
  std::map<std::string, absl::Status> refusals;
  for (const std::string login : {"walter", "ghost"}) {
    for (int i = 0; i < LoginThrottle::kFreeFailures; ++i) {
      ASSERT_EQ(verify(login, "wrong password", "ip:attacker").code(),
                absl::StatusCode::kUnauthenticated);
    }
    const int reads = store_.credential_reads;
    // Even the right password: the source must wait.
    refusals[login] = verify(login, "right password", "ip:attacker");
    EXPECT_EQ(refusals[login].code(), absl::StatusCode::kResourceExhausted);
    EXPECT_TRUE(RetryDelayOf(refusals[login]).has_value());
    EXPECT_EQ(store_.credential_reads, reads);
  }
  EXPECT_EQ(refusals["walter"].message(), refusals["ghost"].message());
  // The owner, from another source, is not locked out.
  EXPECT_TRUE(verify("walter", "right password", "ip:owner").ok());
}

TEST_F(UserAccountsTest, ReadsGoWhereTheirConsistencyTokenSaysAndBatchGetUsersToThePrimary) {
  store_.Add(1, "ada");
  v1::GetUserRequest get;
  get.set_id(1);
  v1::GetUserResponse got;
  ASSERT_TRUE(GetUser(get, got).ok());
  EXPECT_EQ(store_.last_from, ReadFrom::Replica());
  get.set_consistency_token("A/FF");
  ASSERT_TRUE(GetUser(get, got).ok());
  EXPECT_EQ(store_.last_from, ReadFrom::Replica((uint64_t{0xA} << 32) | 0xFF));

  v1::ListUsersRequest list;
  list.set_consistency_token("0/5");
  v1::ListUsersResponse listed;
  ASSERT_TRUE(accounts_.ListUsers(list, Deadline(), listed).ok());
  EXPECT_EQ(store_.last_from, ReadFrom::Replica(5));

  // post-service's author checks must see an account created a moment ago.
  v1::BatchGetUsersRequest batch;
  batch.add_ids(1);
  v1::BatchGetUsersResponse batch_response;
  ASSERT_TRUE(accounts_.BatchGetUsers(batch, Deadline(), batch_response).ok());
  EXPECT_EQ(store_.last_from, ReadFrom::Primary());

  get.set_consistency_token("not a token");
  const absl::Status bad = GetUser(get, got);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(FieldViolationsOf(bad).size(), 1u);
  EXPECT_EQ(FieldViolationsOf(bad)[0].field, "consistency_token");
}

}  // namespace
}  // namespace user
}  // namespace microblog
