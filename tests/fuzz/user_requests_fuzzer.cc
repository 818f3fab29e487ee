// Fuzz target: the request checks of UserService
// (user-service/user_validation.h). The first byte picks the RPC; the rest is
// parsed as its request message, so any combination of fields is reached.
// Each check must answer OK or INVALID_ARGUMENT naming a field, and what it
// accepts must be usable (a resolved page size in range, a page token that
// is the canonical one for the key it carries, an update naming a field).
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "user-service/user_validation.h"

namespace {

namespace user = ::microblog::user;
namespace v1 = ::microblog::user::v1;
using ::microblog::fuzz::CheckRequestVerdict;
using ::microblog::fuzz::WithRequest;

void CheckListUsers(const v1::ListUsersRequest& request) {
  const absl::StatusOr<user::ListUsersQuery> query = user::ParseListUsersRequest(request);
  CheckRequestVerdict(query.status());
  if (!query.ok()) return;
  FUZZ_CHECK(query->page_size >= 1 && query->page_size <= ::microblog::kMaxPageSize);
  if (request.page_token().empty()) {
    FUZZ_CHECK(query->after_id == 0);
  } else {
    FUZZ_CHECK(user::EncodeListUsersToken(query->after_id) == request.page_token());
  }
}

void CheckUpdateUser(const v1::UpdateUserRequest& request) {
  const absl::StatusOr<user::UpdatedFields> fields = user::ValidateUpdateUser(request);
  CheckRequestVerdict(fields.status());
  if (!fields.ok()) return;
  FUZZ_CHECK(fields->username || fields->email || fields->password);
  FUZZ_CHECK(request.id() > 0);
}

void CheckListUserEvents(const v1::ListUserEventsRequest& request) {
  const absl::StatusOr<user::ListUserEventsQuery> query = user::ParseListUserEventsRequest(request);
  CheckRequestVerdict(query.status());
  if (!query.ok()) return;
  FUZZ_CHECK(query->page_size >= 1 && query->page_size <= user::kMaxEventPageSize);
  FUZZ_CHECK(query->wait.count() >= 0 && query->wait <= user::kMaxEventWait);
  if (request.page_token().empty()) {
    FUZZ_CHECK(!query->after.has_value());
  } else {
    FUZZ_CHECK(query->after.has_value() &&
               user::EncodeUserEventsToken(*query->after) == request.page_token());
  }
}

// Checks the request of UserService's RPC number `rpc` (in the order of the
// service's definition) that `data` holds.
void CheckRequestOf(uint8_t rpc, const uint8_t* data, size_t size) {
  switch (rpc % 9) {
    case 0:
      return WithRequest<v1::CreateUserRequest>(
          data, size, [](const auto& r) { CheckRequestVerdict(user::ValidateCreateUser(r)); });
    case 1:
      return WithRequest<v1::GetUserRequest>(
          data, size, [](const auto& r) { CheckRequestVerdict(user::ValidateUserId(r.id())); });
    case 2:
      return WithRequest<v1::LookupUserRequest>(
          data, size, [](const auto& r) { CheckRequestVerdict(user::ValidateLookupUser(r)); });
    case 3:
      return WithRequest<v1::ListUsersRequest>(data, size, CheckListUsers);
    case 4:
      return WithRequest<v1::UpdateUserRequest>(data, size, CheckUpdateUser);
    case 5:
      return WithRequest<v1::DeleteUserRequest>(
          data, size, [](const auto& r) { CheckRequestVerdict(user::ValidateUserId(r.id())); });
    case 6:
      return WithRequest<v1::BatchGetUsersRequest>(
          data, size, [](const auto& r) { CheckRequestVerdict(user::ValidateBatchGetUsers(r)); });
    case 7:
      return WithRequest<v1::VerifyPasswordRequest>(
          data, size, [](const auto& r) { CheckRequestVerdict(user::ValidateVerifyPassword(r)); });
    case 8:
      return WithRequest<v1::ListUserEventsRequest>(data, size, CheckListUserEvents);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  CheckRequestOf(data[0], data + 1, size - 1);
  return 0;
}
