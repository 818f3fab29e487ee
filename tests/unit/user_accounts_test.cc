// Unit tests of UserAccounts, the logic of user-service, on an in-memory fake store:
// what the end-to-end tests (e2e/user_service_test.cc) cannot force from
// outside, such as the store's row order, its failures, and proof that
// invalid requests never reach it.
#include "user-service/user_accounts.h"

#include <algorithm>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "common/base/status.h"
#include "common/rpc/grpc_status.h"
#include "support/test_tokens.h"
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
    users[id] = {{id, name, name + "@x.io", 1700000000000000, 1}, "hash"};
  }

  absl::StatusOr<UserRecord> Create(const std::string& username, const std::string& email,
                                    const std::string& password_hash, Clock::time_point) override {
    if (!Begin()) return fail_with;
    const int64_t id = users.empty() ? 1 : users.rbegin()->first + 1;
    users[id] = {{id, username, email, 0, 1}, password_hash};
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
    if (it == users.end() ||
        (changes.if_credentials_version &&
         *changes.if_credentials_version != it->second.user.credentials_version)) {
      return absl::NotFoundError("no such user");
    }
    if (changes.username) it->second.user.username = *changes.username;
    if (changes.email) it->second.user.email = *changes.email;
    if (changes.password_hash) {
      it->second.password_hash = *changes.password_hash;
      ++it->second.user.credentials_version;
    }
    return it->second.user;
  }
  absl::Status Delete(int64_t id, std::optional<int64_t> if_credentials_version,
                      Clock::time_point) override {
    if (!Begin()) return fail_with;
    auto it = users.find(id);
    if (it == users.end() || (if_credentials_version &&
                              *if_credentials_version != it->second.user.credentials_version)) {
      return absl::NotFoundError("no such user");
    }
    users.erase(it);
    return absl::OkStatus();
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
    accounts_.GetUser(request, caller_, Deadline(), response,
                      [&answered](const absl::Status& status) { answered.set_value(status); });
    return answered.get_future().get();
  }

  // LookupUser too.
  absl::Status LookupUser(const v1::LookupUserRequest& request, v1::LookupUserResponse& response) {
    std::promise<absl::Status> answered;
    accounts_.LookupUser(request, caller_, Deadline(), response,
                         [&answered](const absl::Status& status) { answered.set_value(status); });
    return answered.get_future().get();
  }

  // Who calls: privileged by default (acts for anyone, sees every e-mail
  // address), so that the tests of the RPCs' own rules need no token; the
  // access rules have tests of their own below.
  Caller caller_{0, 0, /*privileged=*/true};
  FakeUserStore store_;
  PasswordHasher hasher_{1};
  WorkerPool db_workers_{"test-db", 2};
  test_support::TestKey key_ = test_support::NewTestKey();
  UserAccounts accounts_{store_, hasher_, db_workers_, *key_.signer};
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
  EXPECT_EQ(accounts_.ListUsers(list, caller_, Deadline(), list_response).code(),
            absl::StatusCode::kInvalidArgument);

  v1::UpdateUserRequest update;
  update.set_id(1);
  update.mutable_update_mask()->add_paths("create_time");
  v1::UpdateUserResponse update_response;
  EXPECT_EQ(accounts_.UpdateUser(update, caller_, Deadline(), update_response).code(),
            absl::StatusCode::kInvalidArgument);

  v1::DeleteUserRequest del;
  del.set_id(-1);
  v1::DeleteUserResponse delete_response;
  EXPECT_EQ(accounts_.DeleteUser(del, caller_, Deadline(), delete_response).code(),
            absl::StatusCode::kInvalidArgument);

  v1::BatchGetUsersRequest batch;
  batch.add_ids(0);
  v1::BatchGetUsersResponse batch_response;
  EXPECT_EQ(accounts_.BatchGetUsers(batch, caller_, Deadline(), batch_response).code(),
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
  ASSERT_TRUE(accounts_.BatchGetUsers(request, caller_, Deadline(), response).ok());
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
  absl::Status status = accounts_.BatchGetUsers(request, caller_, Deadline(), response);
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
  ASSERT_TRUE(accounts_.ListUsers(request, caller_, Deadline(), exact).ok());
  EXPECT_EQ(store_.last_list_limit, 4);
  EXPECT_EQ(exact.users_size(), 3);
  EXPECT_TRUE(exact.next_page_token().empty());  // no empty last page to fetch

  request.set_page_size(2);
  v1::ListUsersResponse first;
  ASSERT_TRUE(accounts_.ListUsers(request, caller_, Deadline(), first).ok());
  ASSERT_FALSE(first.next_page_token().empty());
  request.set_page_token(first.next_page_token());
  v1::ListUsersResponse second;
  ASSERT_TRUE(accounts_.ListUsers(request, caller_, Deadline(), second).ok());
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
  ASSERT_TRUE(accounts_.UpdateUser(request, caller_, Deadline(), response).ok());
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
  ASSERT_TRUE(accounts_.ListUsers(list, caller_, Deadline(), listed).ok());
  EXPECT_EQ(store_.last_from, ReadFrom::Replica(5));

  // post-service's author checks must see an account created a moment ago.
  v1::BatchGetUsersRequest batch;
  batch.add_ids(1);
  v1::BatchGetUsersResponse batch_response;
  ASSERT_TRUE(accounts_.BatchGetUsers(batch, caller_, Deadline(), batch_response).ok());
  EXPECT_EQ(store_.last_from, ReadFrom::Primary());

  get.set_consistency_token("not a token");
  const absl::Status bad = GetUser(get, got);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(FieldViolationsOf(bad).size(), 1u);
  EXPECT_EQ(FieldViolationsOf(bad)[0].field, "consistency_token");
}

// --- Who may do what (common/base/caller.h) ---

Caller TokenOf(int64_t user_id, int64_t version = 1) { return Caller{user_id, version, false}; }

TEST_F(UserAccountsTest, ChangingAnAccountNeedsItsOwnTokenAndCostsNothingOtherwise) {
  store_.Add(1, "walter");
  store_.Add(2, "jesse");
  v1::UpdateUserRequest update;
  update.set_id(1);
  update.set_password("new password");
  update.mutable_update_mask()->add_paths("password");
  v1::DeleteUserRequest del;
  del.set_id(1);
  v1::UpdateUserResponse updated;
  v1::DeleteUserResponse deleted;
  const int calls_before = store_.calls;

  caller_ = Caller{};  // no token
  EXPECT_EQ(accounts_.UpdateUser(update, caller_, Deadline(), updated).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(accounts_.DeleteUser(del, caller_, Deadline(), deleted).code(),
            absl::StatusCode::kUnauthenticated);
  caller_ = TokenOf(2);  // another account's
  const absl::Status denied = accounts_.UpdateUser(update, caller_, Deadline(), updated);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.message(), "the access token does not allow changing user 1");
  EXPECT_EQ(accounts_.DeleteUser(del, caller_, Deadline(), deleted).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(store_.calls, calls_before) << "refused before any store call (and any hash)";
  EXPECT_EQ(store_.users[1].password_hash, "hash");

  caller_ = TokenOf(1);
  EXPECT_TRUE(accounts_.UpdateUser(update, caller_, Deadline(), updated).ok());
  EXPECT_EQ(store_.users[1].user.credentials_version, 2);
}

TEST_F(UserAccountsTest, APasswordChangeRevokesTheTokensIssuedBefore) {
  store_.Add(1, "walter");
  v1::UpdateUserRequest update;
  update.set_id(1);
  update.set_password("new password");
  update.mutable_update_mask()->add_paths("password");
  v1::UpdateUserResponse updated;
  caller_ = TokenOf(1, 1);
  ASSERT_TRUE(accounts_.UpdateUser(update, caller_, Deadline(), updated).ok());

  // The old token (ver 1) grants nothing any more.
  update.mutable_update_mask()->Clear();
  update.mutable_update_mask()->add_paths("username");
  update.set_username("heisenberg");
  const absl::Status stale = accounts_.UpdateUser(update, caller_, Deadline(), updated);
  EXPECT_EQ(stale.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(stale.message(), "access token revoked");
  v1::GetUserRequest get;
  get.set_id(1);
  v1::GetUserResponse got;
  EXPECT_EQ(GetUser(get, got).code(), absl::StatusCode::kUnauthenticated);
  v1::DeleteUserRequest del;
  del.set_id(1);
  v1::DeleteUserResponse deleted;
  EXPECT_EQ(accounts_.DeleteUser(del, caller_, Deadline(), deleted).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(store_.users.count(1), 1u);

  // A token of the new version works.
  caller_ = TokenOf(1, 2);
  EXPECT_TRUE(accounts_.UpdateUser(update, caller_, Deadline(), updated).ok());
  EXPECT_TRUE(accounts_.DeleteUser(del, caller_, Deadline(), deleted).ok());
}

TEST_F(UserAccountsTest, EmailAddressesAreShownOnlyToTheirOwnerAndPrivilegedCallers) {
  store_.Add(1, "walter");
  store_.Add(2, "jesse");
  v1::GetUserRequest get;
  get.set_id(1);
  v1::ListUsersRequest list;
  v1::BatchGetUsersRequest batch;
  batch.add_ids(1);
  batch.add_ids(2);
  v1::LookupUserRequest lookup;
  lookup.set_username("walter");

  struct Case {
    Caller caller;
    std::string walter_email;
    std::string jesse_email;
  };
  for (const Case& c : {Case{Caller{}, "", ""}, Case{TokenOf(2), "", "jesse@x.io"},
                        Case{TokenOf(1), "walter@x.io", ""},
                        Case{Caller{0, 0, true}, "walter@x.io", "jesse@x.io"}}) {
    caller_ = c.caller;
    SCOPED_TRACE(testing::Message()
                 << "user " << c.caller.user_id << " privileged " << c.caller.privileged);
    v1::GetUserResponse got;
    ASSERT_TRUE(GetUser(get, got).ok());
    EXPECT_EQ(got.user().email(), c.walter_email);
    EXPECT_EQ(got.user().username(), "walter");
    v1::LookupUserResponse looked_up;
    ASSERT_TRUE(LookupUser(lookup, looked_up).ok());
    EXPECT_EQ(looked_up.user().email(), c.walter_email);
    v1::ListUsersResponse listed;
    ASSERT_TRUE(accounts_.ListUsers(list, caller_, Deadline(), listed).ok());
    ASSERT_EQ(listed.users_size(), 2);
    EXPECT_EQ(listed.users(0).email(), c.walter_email);
    EXPECT_EQ(listed.users(1).email(), c.jesse_email);
    v1::BatchGetUsersResponse batched;
    ASSERT_TRUE(accounts_.BatchGetUsers(batch, caller_, Deadline(), batched).ok());
    ASSERT_EQ(batched.users_size(), 2);
    EXPECT_EQ(batched.users(0).email(), c.walter_email);
    EXPECT_EQ(batched.users(1).email(), c.jesse_email);
  }
}

TEST_F(UserAccountsTest, VerifyPasswordIssuesATokenOfTheAccountAtItsCredentialsVersion) {
  store_.Add(1, "walter");
  absl::StatusOr<std::string> hash = hasher_.Hash("right password", Deadline());
  ASSERT_TRUE(hash.ok());
  store_.users[1].password_hash = *hash;
  store_.users[1].user.credentials_version = 3;
  v1::VerifyPasswordRequest verify;
  verify.set_login("walter");
  verify.set_password("right password");
  v1::VerifyPasswordResponse response;
  ASSERT_TRUE(accounts_.VerifyPassword(verify, "ip:192.0.2.1", Deadline(), response).ok());
  EXPECT_EQ(response.user().email(), "walter@x.io");
  absl::StatusOr<std::shared_ptr<const KeySet>> keys = KeySet::FromJwks(key_.jwks);
  ASSERT_TRUE(keys.ok());
  absl::StatusOr<TokenClaims> claims =
      (*keys)->Verify(response.access_token(), TokenSettings{}, Clock::now());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->user_id, 1);
  EXPECT_EQ(claims->credentials_version, 3);
  EXPECT_EQ(claims->expires_at - claims->issued_at, 900);
  EXPECT_EQ(response.access_token_expire_time().seconds(), claims->expires_at);
}

}  // namespace
}  // namespace user
}  // namespace microblog
