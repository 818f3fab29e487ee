// Conversions between PostgreSQL timestamps and google.protobuf.Timestamp.
// Queries select timestamptz columns as microseconds since the Unix epoch:
//   (extract(epoch from created_at) * 1000000)::bigint
// which keeps the full precision PostgreSQL stores.
#ifndef MICROBLOG_COMMON_BASE_PROTO_TIME_H_
#define MICROBLOG_COMMON_BASE_PROTO_TIME_H_

#include <cstdint>

#include <google/protobuf/timestamp.pb.h>

namespace microblog {

google::protobuf::Timestamp TimestampFromMicros(int64_t micros_since_epoch);
// The inverse, truncating to whole microseconds.
int64_t MicrosFromTimestamp(const google::protobuf::Timestamp& timestamp);

}  // namespace microblog

#endif  // MICROBLOG_COMMON_BASE_PROTO_TIME_H_
