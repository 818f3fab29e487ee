#include "common/base/proto_time.h"

#include <google/protobuf/util/time_util.h>

namespace microblog {

google::protobuf::Timestamp TimestampFromMicros(int64_t micros_since_epoch) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(micros_since_epoch);
}

int64_t MicrosFromTimestamp(const google::protobuf::Timestamp& timestamp) {
  return timestamp.seconds() * 1000000 + timestamp.nanos() / 1000;
}

}  // namespace microblog
