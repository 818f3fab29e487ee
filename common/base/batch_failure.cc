#include "common/base/batch_failure.h"

#include <utility>

#include "absl/strings/cord.h"

namespace microblog {
namespace {

// The payload that marks a whole-batch failure; internal to the process:
// Batcher removes it before any request is answered.
constexpr char kWholeBatchFailure[] = "microblog.internal/whole-batch-failure";

bool ItemMayCause(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::Status WholeBatchFailure(absl::Status status) {
  const absl::StatusCode code = status.code();
  return WholeBatchFailure(std::move(status), code);
}

absl::Status WholeBatchFailure(absl::Status status, absl::StatusCode split_on) {
  if (!status.ok() && ItemMayCause(split_on)) status.SetPayload(kWholeBatchFailure, absl::Cord());
  return status;
}

bool IsWholeBatchFailure(const absl::Status& status) {
  return status.GetPayload(kWholeBatchFailure).has_value();
}

absl::Status WithoutBatchMark(absl::Status status) {
  status.ErasePayload(kWholeBatchFailure);
  return status;
}

}  // namespace microblog
