// Fuzz target: the request checks of PostService
// (post-service/post_validation.h). The first byte picks the RPC; the rest is
// parsed as its request message, so any combination of fields is reached.
// Each check must answer OK or INVALID_ARGUMENT naming a field; a ListPosts
// request it accepts must resolve to a page size in range and resume only
// from a token that is the canonical one for its user and key.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "post-service/post_validation.h"

namespace {

namespace post = ::microblog::post;
namespace v1 = ::microblog::post::v1;
using ::microblog::fuzz::CheckRequestVerdict;
using ::microblog::fuzz::WithRequest;

void CheckListPosts(const v1::ListPostsRequest& request) {
  const absl::StatusOr<post::ListPostsQuery> query = post::ParseListPostsRequest(request);
  CheckRequestVerdict(query.status());
  if (!query.ok()) return;
  FUZZ_CHECK(query->user_id >= 0);
  FUZZ_CHECK(query->page_size >= 1 && query->page_size <= ::microblog::kMaxPageSize);
  FUZZ_CHECK(query->after.has_value() == !request.page_token().empty());
  if (query->after.has_value()) {
    FUZZ_CHECK(query->after->id > 0);
    FUZZ_CHECK(post::EncodeListPostsToken(query->user_id, *query->after) == request.page_token());
  }
}

// Checks the request of PostService's RPC number `rpc` (in the order of the
// service's definition) that `data` holds.
void CheckRequestOf(uint8_t rpc, const uint8_t* data, size_t size) {
  switch (rpc % 4) {
    case 0:
      return WithRequest<v1::CreatePostRequest>(
          data, size, [](const auto& r) { CheckRequestVerdict(post::ValidateCreatePost(r)); });
    case 1:
      return WithRequest<v1::GetPostRequest>(
          data, size, [](const auto& r) { CheckRequestVerdict(post::ValidatePostId(r.id())); });
    case 2:
      return WithRequest<v1::ListPostsRequest>(data, size, CheckListPosts);
    case 3:
      return WithRequest<v1::DeletePostRequest>(
          data, size, [](const auto& r) { CheckRequestVerdict(post::ValidatePostId(r.id())); });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  CheckRequestOf(data[0], data + 1, size - 1);
  return 0;
}
