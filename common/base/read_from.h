// Where a read may be served: the primary, or a read replica (optionally
// one that replayed the WAL up to a position), and the consistency tokens
// that carry such positions between a client's write and its next read.
//
// Read-your-writes rule: a write RPC answers a `consistency_token` (the
// primary's WAL position once the write committed); a read RPC given that
// token is served by a replica only when the replica replayed at least that
// far, otherwise by the primary. A read without a token tolerates the lag
// the replicas are allowed (DB_REPLICA_MAX_LAG_MS).
//
//   absl::StatusOr<ReadFrom> from = ReadFromToken(request.consistency_token());
//   if (!from.ok()) return from.status();       // INVALID_ARGUMENT
//   router.Run<T>(*from, deadline, fn);        // common/db/read_router.h
//
// Batched reads (common/exec/batcher.h) carry each request's ReadFrom in a
// Routed<Item>; the batch is served where all of them may be (Combined()).
//
// Thread-safety: values and free functions only.
#ifndef MICROBLOG_COMMON_BASE_READ_FROM_H_
#define MICROBLOG_COMMON_BASE_READ_FROM_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace microblog {

// A PostgreSQL WAL position (pg_lsn), as a number.
using Lsn = uint64_t;

// pg_lsn's text form "16/B374D848" <-> Lsn. Parse: INVALID_ARGUMENT when
// `text` is not two hexadecimal numbers of at most 8 digits around a '/'.
absl::StatusOr<Lsn> ParseLsn(std::string_view text);
std::string FormatLsn(Lsn lsn);

struct ReadFrom {
  // Only the primary may serve the read (it must see the latest write).
  bool primary_only = true;
  // Otherwise: a replica that replayed at least this far (0: any usable one).
  Lsn min_lsn = 0;

  static ReadFrom Primary() { return {true, 0}; }
  static ReadFrom Replica(Lsn min_lsn = 0) { return {false, min_lsn}; }

  // Where a read satisfying both `*this` and `other` may be served.
  ReadFrom And(const ReadFrom& other) const {
    if (primary_only || other.primary_only) return Primary();
    return Replica(std::max(min_lsn, other.min_lsn));
  }
  bool operator==(const ReadFrom& other) const {
    return primary_only == other.primary_only && min_lsn == other.min_lsn;
  }
};

// The ReadFrom of a read RPC's `consistency_token` field: empty -> any usable
// replica; a token from a write RPC of the same service -> a replica that
// replayed it. INVALID_ARGUMENT (google.rpc.BadRequest on field
// "consistency_token") for anything else.
absl::StatusOr<ReadFrom> ReadFromToken(const std::string& token);

// The token written for a write that committed at or before `lsn`.
inline std::string ConsistencyToken(Lsn lsn) { return FormatLsn(lsn); }

// The token a write answers when its WAL position could not be read after
// it committed: no replica ever reaches it, so the next read with it goes to
// the primary, which has the write.
inline constexpr char kPrimaryOnlyToken[] = "FFFFFFFF/FFFFFFFF";

// One request of a batch of reads, with where it may be served.
template <typename Item>
struct Routed {
  Item item;
  ReadFrom from;
};

// Where a whole batch may be served: the strictest of its requests.
template <typename Item>
ReadFrom Combined(const std::vector<Routed<Item>>& batch) {
  if (batch.empty()) return ReadFrom::Primary();
  ReadFrom from = batch.front().from;
  for (const Routed<Item>& request : batch) from = from.And(request.from);
  return from;
}

// The items of a batch, without their routing.
template <typename Item>
std::vector<Item> ItemsOf(const std::vector<Routed<Item>>& batch) {
  std::vector<Item> items;
  items.reserve(batch.size());
  for (const Routed<Item>& request : batch) items.push_back(request.item);
  return items;
}

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_READ_FROM_H_
