// The test binary's one throwaway PostgreSQL cluster, shared by its tests.
//
// Starting a cluster takes seconds (pg_cluster.h), so a test binary starts
// one and gives each test its own database:
//
//   void SetUp() override { db_ = PrepareUserDatabase(SharedCluster()); }
//   ...
//   const std::string url = SharedCluster().CreateDatabase("scratch");
//
// The first call starts the cluster (PgCluster::Start(): socket only);
// later calls return the same one. It is stopped and its directory removed
// when the tests are over: by a GoogleTest environment's TearDown, after the
// last suite's TearDownTestSuite (so services a suite kept running stop
// first), or by PgCluster's watchdog if the process dies. CTest runs each
// test in a process of its own, so there every test that calls it gets a
// fresh cluster; run by hand, the binary's tests share one. A test that
// needs a cluster of its own (other settings, TCP, replicas) starts one with
// PgCluster::Start() or StartReplica().
//
// Tests may Stop() and Restart() it (the database-down tests): each restarts
// it before it ends, whatever happens, for the tests after it.
//
// Errors: when the cluster cannot start, the call throws std::runtime_error
// carrying PgCluster's message, which GoogleTest reports as the failure of
// the test or set-up that called; later calls throw the same error at once,
// without trying again. Thread-safe; the PgCluster it returns is not (see
// pg_cluster.h).
#ifndef MICROBLOG_TESTS_SUPPORT_SHARED_CLUSTER_H_
#define MICROBLOG_TESTS_SUPPORT_SHARED_CLUSTER_H_

#include "support/pg_cluster.h"

namespace microblog {
namespace test_support {

// The binary's cluster, started on the first call.
PgCluster& SharedCluster();

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_SHARED_CLUSTER_H_
