#include "common/rpc/deadline.h"

#include <algorithm>

namespace microblog {

std::chrono::system_clock::time_point EffectiveDeadline(const grpc::ServerContextBase& context,
                                                        std::chrono::milliseconds max_deadline) {
  return std::min(context.deadline(), std::chrono::system_clock::now() + max_deadline);
}

}  // namespace microblog
