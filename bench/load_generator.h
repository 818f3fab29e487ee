// The load generator: keeps N calls in flight against user-service and
// post-service over M channels each, using gRPC's callback API, and reports
// throughput, latency percentiles and the count of every status code.
//
// Each of the N "slots" sends one call, and from that call's completion
// callback the next one, so exactly N calls are in flight at any moment
// (closed loop, as pgbench's clients). Slot i uses channel i % M; every
// channel has its own TCP connection.
//
// Paced (open loop, `rate` > 0): the run sends `rate` calls per second in
// all, each slot on its own fixed schedule (one call every in_flight/rate
// seconds, the slots' schedules evenly staggered), and a call's latency is
// counted from the moment it was due, not from when it went out: a call
// held back because its slot's previous one was slow counts that wait too
// (no coordinated omission, as wrk2 measures). This is the latency of a
// service at a given load; the closed loop measures it at saturation, where
// latency is in_flight / throughput.
//
// Time-bounded (the benchmark): a warm-up whose calls are not counted, then
// `duration` of measured calls.
// Count-bounded (the smoke test): `max_calls` calls in all, every one counted.
//
//   LoadOptions options;
//   options.scenario = Scenario::kGetPost;
//   options.post_address = "127.0.0.1:50052";
//   options.in_flight = 64;
//   absl::StatusOr<LoadReport> report = RunLoad(options);
//
// RunLoad blocks until the run is over; it is thread-safe in the sense that
// independent runs may proceed on different threads.
#ifndef MICROBLOG_BENCH_LOAD_GENERATOR_H_
#define MICROBLOG_BENCH_LOAD_GENERATOR_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>

#include "absl/status/statusor.h"
#include "bench/call_stats.h"
#include "bench/scenario.h"
#include "bench/token_book.h"

namespace microblog {
namespace bench {

struct LoadOptions {
  Scenario scenario = Scenario::kGetUser;
  // host:port of the services; only those the scenario uses are needed.
  std::string user_address;
  std::string post_address;
  // How the channels connect (BenchChannelCredentials, main.cc): plaintext
  // when null; with `server_name`, the name the server's certificate is
  // checked against (the address is an IP).
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string server_name;

  int in_flight = 16;  // N: calls kept in flight (paced: at most)
  double rate = 0;     // calls per second in all; 0: closed loop
  int channels = 4;    // M: channels (connections) per service

  // Time-bounded run (used when max_calls == 0).
  std::chrono::milliseconds warmup{std::chrono::seconds(3)};
  std::chrono::milliseconds duration{std::chrono::seconds(10)};
  // Count-bounded run: stop after this many calls (no warm-up).
  std::int64_t max_calls = 0;

  // Deadline of each call.
  std::chrono::milliseconds call_timeout{std::chrono::seconds(10)};

  // The data set (see dataset.h): ids are drawn uniformly from 1..users and
  // 1..posts; VerifyPassword logs in as verify accounts 0..verify_accounts-1.
  std::int64_t users = 10000;
  std::int64_t posts = 100000;
  int verify_accounts = 16;
  // VerifyPassword as a hostile client would: each call a login no account
  // has (a fresh one, so that the login throttle does not answer it) with a
  // wrong password; every call costs a (dummy) hash, and answers
  // UNAUTHENTICATED or, when refused, RESOURCE_EXHAUSTED.
  bool verify_wrong_password = false;
  // A slot whose call was refused with RESOURCE_EXHAUSTED and a
  // google.rpc.RetryInfo waits the delay it says before its next call, as
  // the API contract asks clients to; otherwise it calls again at once.
  bool honor_retry_info = false;
  // ListPosts page size ("one user's newest 20").
  int page_size = 20;
  // The users' access tokens (borrowed): CreatePost sends its author's
  // (without a book it is refused, UNAUTHENTICATED); with tokens_on_reads
  // every other call sends a random user's too, as a logged-in client does.
  TokenBook* tokens = nullptr;
  bool tokens_on_reads = false;

  // Seeds the per-slot random generators; names of created users and the
  // request ids of created posts also carry a per-run tag derived from the
  // clock, so that runs against the same database never collide.
  std::uint64_t seed = 1;
};

// The outcome of one operation (RPC) within a run.
struct OperationReport {
  std::int64_t calls = 0;
  LatencySummary latency;
  std::map<std::string, std::int64_t> status_counts;  // by StatusCodeName
};

struct LoadReport {
  std::string scenario;  // ScenarioName
  int in_flight = 0;
  int channels = 0;
  double rate = 0;     // paced rate asked for; 0: closed loop
  double seconds = 0;  // measured wall time
  std::int64_t calls = 0;
  double calls_per_second = 0;
  LatencySummary latency;
  std::map<std::string, std::int64_t> status_counts;
  // Per RPC; one entry except for the mix.
  std::map<std::string, OperationReport> operations;
  // CPU time (user + system) the generator's own process used while
  // measuring, in seconds: how much of the machine the client took.
  double client_cpu_seconds = 0;
};

// Runs the load. INVALID_ARGUMENT for options that make no sense (no
// address for a service the scenario needs, in_flight < 1, ...). Call
// failures are not errors of RunLoad: they are counted in the report.
absl::StatusOr<LoadReport> RunLoad(const LoadOptions& options);

}  // namespace bench
}  // namespace microblog

#endif  // MICROBLOG_BENCH_LOAD_GENERATOR_H_
