#include "support/shared_cluster.h"

#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace microblog {
namespace test_support {
namespace {

// Holds the cluster; GoogleTest calls TearDown once the tests are over.
class SharedClusterEnvironment final : public ::testing::Environment {
 public:
  PgCluster& Get() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_.empty()) throw std::runtime_error(error_);
    if (cluster_ == nullptr) {
      try {
        cluster_ = PgCluster::Start();
      } catch (const std::exception& e) {
        error_ = std::string("the shared PostgreSQL cluster did not start: ") + e.what();
        throw std::runtime_error(error_);
      }
    }
    return *cluster_;
  }

  // With --gtest_repeat, the next round starts a fresh cluster.
  void TearDown() override {
    std::lock_guard<std::mutex> lock(mu_);
    cluster_.reset();
    error_.clear();
  }

 private:
  std::mutex mu_;
  std::unique_ptr<PgCluster> cluster_;  // guarded by mu_
  std::string error_;                   // guarded by mu_; why Start() failed
};

SharedClusterEnvironment& Environment() {
  // GoogleTest owns its environments (and keeps them to the end).
  static SharedClusterEnvironment* const environment = [] {
    auto* created = new SharedClusterEnvironment();
    ::testing::AddGlobalTestEnvironment(created);
    return created;
  }();
  return *environment;
}

// Registered before main() runs, as GoogleTest asks of environments (in
// every binary that links this file, i.e. that calls SharedCluster()).
[[maybe_unused]] SharedClusterEnvironment& registered = Environment();

}  // namespace

PgCluster& SharedCluster() { return Environment().Get(); }

}  // namespace test_support
}  // namespace microblog
