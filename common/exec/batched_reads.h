// Batched reads of single records by id (GetUser, GetPost): a Batcher
// (common/exec/batcher.h) whose items carry where they may be read
// (common/base/read_from.h).
#ifndef MICROBLOG_COMMON_EXEC_BATCHED_READS_H_
#define MICROBLOG_COMMON_EXEC_BATCHED_READS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "common/base/metrics.h"
#include "common/base/read_from.h"
#include "common/base/status.h"
#include "common/exec/batcher.h"
#include "common/exec/worker_pool.h"

namespace microblog {

// Reads of single records by id (GetUser, GetPost), batched: one
// `get_by_ids` query (on `workers`) for the reads that arrive together; each
// read gets its record, or NOT_FOUND naming `resource_type` and the id (with
// a google.rpc.ResourceInfo), or the query's error. `Record` has an `id`.
// Each read says where it may be served (common/base/read_from.h); the batch's
// query gets the strictest of them.
//
//   BatchedReadsById<PostRecord> reads(db_workers, "post",
//       [&](const std::vector<int64_t>& ids, const ReadFrom& from,
//           Clock::time_point deadline) {
//         return store.GetByIds(ids, from, deadline);  // the records found, any order
//       }, /*max_batch=*/100, /*max_batches_in_flight=*/2);
//   reads.Read(42, ReadFrom::Replica(), deadline,
//              [](absl::StatusOr<PostRecord> post) { ... });
//
// Thread-safety, lifetime and metrics: as Batcher's.
template <typename Record>
class BatchedReadsById {
 public:
  using GetByIds = std::function<absl::StatusOr<std::vector<Record>>(
      const std::vector<int64_t>& ids, const ReadFrom& from, Clock::time_point deadline)>;
  using Done = typename Batcher<Routed<int64_t>, Record>::Done;

  BatchedReadsById(WorkerPool& workers, const char* resource_type, GetByIds get_by_ids,
                   std::size_t max_batch, std::size_t max_batches_in_flight,
                   Histogram* sizes = nullptr)
      : batcher_(
            Batcher<Routed<int64_t>, Record>::OnWorkers(
                workers,
                [resource_type, get_by_ids = std::move(get_by_ids)](
                    const std::vector<Routed<int64_t>>& reads, Clock::time_point deadline) {
                  const std::vector<int64_t> ids = ItemsOf(reads);
                  return InKeyOrder(
                      ids, get_by_ids(ids, Combined(reads), deadline),
                      [](const Record& record) { return record.id; },
                      [resource_type](int64_t id) { return NotFoundResource(resource_type, id); });
                }),
            max_batch, max_batches_in_flight, sizes) {}

  // Reads record `id` where `from` allows; `done` gets it exactly once, on
  // a worker thread.
  void Read(int64_t id, const ReadFrom& from, Clock::time_point deadline, Done done) {
    batcher_.Add({id, from}, deadline, std::move(done));
  }

 private:
  Batcher<Routed<int64_t>, Record> batcher_;
};

}  // namespace microblog

#endif  // MICROBLOG_COMMON_EXEC_BATCHED_READS_H_
