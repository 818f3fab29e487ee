#include "common/proto_time.h"

#include <google/protobuf/util/time_util.h>

namespace microblog {

google::protobuf::Timestamp TimestampFromMicros(int64_t micros_since_epoch) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(micros_since_epoch);
}

}  // namespace microblog
