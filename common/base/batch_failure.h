// The mark by which a batch's work tells the Batcher (common/exec/batcher.h)
// that the batch failed as a whole, for a reason one of its items may have
// caused, so that the Batcher splits it and finds the guilty items: the
// rule "a request fails only for its own content" for batched work.
//
//   if (!rows.ok()) return Results(ids.size(), WholeBatchFailure(rows.status()));
//
// The mark is a payload of the absl::Status, private to the process: the
// Batcher removes it before it answers a request, so it never reaches a
// client.
//
// Thread-safety: free functions without shared state.
#ifndef MICROBLOG_COMMON_BASE_BATCH_FAILURE_H_
#define MICROBLOG_COMMON_BASE_BATCH_FAILURE_H_

#include "absl/status/status.h"

namespace microblog {

// `status` (the error of a whole batch's statement or call) marked as one
// the Batcher should split the batch for, when its code is one that an
// item's content can cause: INTERNAL, UNKNOWN, DATA_LOSS, INVALID_ARGUMENT,
// OUT_OF_RANGE. Any other code (UNAVAILABLE, DEADLINE_EXCEEDED, ...) is
// returned unmarked: retrying halves cannot help. `split_on`, when given,
// decides instead which failures to split on: e.g. the code a peer answered
// while `status` is what the callers get.
absl::Status WholeBatchFailure(absl::Status status);
absl::Status WholeBatchFailure(absl::Status status, absl::StatusCode split_on);
// Whether `status` carries that mark.
bool IsWholeBatchFailure(const absl::Status& status);
// `status` without the mark (what a request is answered).
absl::Status WithoutBatchMark(absl::Status status);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_BATCH_FAILURE_H_
