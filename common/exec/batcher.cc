#include "common/exec/batcher.h"

namespace microblog {

Histogram* BatchSizeHistogram(Registry* registry, const std::string& loader) {
  if (registry == nullptr) return nullptr;
  return &registry
              ->AddHistogram("microblog_batch_size",
                             "Items per batch of a batching loader: how many calls shared one "
                             "query or one call to user-service.",
                             {"loader"}, {1, 2, 4, 8, 16, 32, 64, 100})
              .WithLabels({loader});
}

}  // namespace microblog
