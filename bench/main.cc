// microblog-bench: the load generator of bench/run.sh, and its helpers.
//
//   microblog-bench run --scenario=GetPost --post_address=127.0.0.1:50052
//       --in_flight=64 --channels=4 --warmup=3s --duration=10s [--rate=N] [--json_out=FILE]
//   microblog-bench seed-sql --table=users|posts [--users=10000 --posts=100000]
//   microblog-bench create-verify-accounts --user_address=... [--verify_accounts=16]
//   microblog-bench pwhash [--threads=2 --duration=5s] [--json_out=FILE]
//   microblog-bench wait-serving --address=HOST:PORT [--timeout=60s]
//   microblog-bench deletion-latency --user_address=... --post_address=...
//       [--trials=200 --posts_per_user=3 --label=idle --json_out=FILE]
//
// `run` prints a readable report; --json_out appends one JSON line per run
// (see report.h). Exit codes: 0 done, 1 failure, 2 bad command line.
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bench/dataset.h"
#include "bench/deletion_latency.h"
#include "bench/load_generator.h"
#include "bench/pwhash_speed.h"
#include "bench/report.h"
#include "bench/token_book.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, scenario, "GetUser",
          "GetUser, LookupUser, CreateUser, VerifyPassword, CreatePost, GetPost, ListPosts or mix");
ABSL_FLAG(std::string, user_address, "", "user-service host:port");
ABSL_FLAG(std::string, post_address, "", "post-service host:port");
ABSL_FLAG(int, in_flight, 16, "calls kept in flight (with --rate: at most)");
ABSL_FLAG(double, rate, 0,
          "calls per second in all, each slot on a fixed schedule, latency from the due time "
          "(open loop); 0: closed loop");
ABSL_FLAG(int, channels, 4, "channels (TCP connections) per service");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(3), "warm-up, not measured");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "measured time");
ABSL_FLAG(int64_t, max_calls, 0, "stop after this many calls instead (no warm-up)");
ABSL_FLAG(absl::Duration, call_timeout, absl::Seconds(10), "deadline of each call");
ABSL_FLAG(int64_t, users, 10000, "seeded users (ids 1..users)");
ABSL_FLAG(int64_t, posts, 100000, "seeded posts (ids 1..posts)");
ABSL_FLAG(int, verify_accounts, 16, "verify accounts VerifyPassword logs in as");
ABSL_FLAG(bool, verify_wrong_password, false,
          "VerifyPassword with a fresh unknown login and a wrong password per call (a flood)");
ABSL_FLAG(
    bool, honor_retry_info, false,
    "after RESOURCE_EXHAUSTED with a google.rpc.RetryInfo, wait its delay before the next call");
ABSL_FLAG(uint64_t, seed, 1, "random seed");
ABSL_FLAG(std::string, token_signing_key, "",
          "the services' TOKEN_SIGNING_KEY_FILE: the load generator signs its users' access "
          "tokens with it (CreatePost and deletion-latency need them)");
ABSL_FLAG(bool, tokens_on_reads, false,
          "send a user's access token on every call, as a logged-in client does");
ABSL_FLAG(std::string, tls_ca, "",
          "mTLS: the CA that signed the services' certificates (with --tls_cert, --tls_key; "
          "without them, plaintext)");
ABSL_FLAG(std::string, tls_cert, "", "mTLS: the client certificate the load generator presents");
ABSL_FLAG(std::string, tls_key, "", "mTLS: the key of --tls_cert");
ABSL_FLAG(std::string, tls_server_name, "localhost",
          "mTLS: the name the services' certificates are checked against");
ABSL_FLAG(std::string, json_out, "", "append the JSON report as one line to this file");
ABSL_FLAG(std::string, table, "users", "seed-sql: users or posts");
ABSL_FLAG(int, threads, 2, "pwhash: hashing threads");
ABSL_FLAG(std::string, address, "", "wait-serving: host:port of the service");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(60), "wait-serving: how long to wait");
ABSL_FLAG(int, trials, 200, "deletion-latency: users deleted, one after the other");
ABSL_FLAG(int, posts_per_user, 3, "deletion-latency: posts of each deleted user");
ABSL_FLAG(std::string, label, "", "deletion-latency: label of the JSON line (e.g. idle)");

namespace {

using microblog::bench::LoadOptions;

std::chrono::milliseconds Millis(absl::Duration d) { return absl::ToChronoMilliseconds(d); }

bool AppendJsonLine(const std::string& json) {
  const std::string path = absl::GetFlag(FLAGS_json_out);
  if (path.empty()) return true;
  std::ofstream out(path, std::ios::app);
  out << json << "\n";
  if (!out) {
    std::cerr << "cannot write " << path << "\n";
    return false;
  }
  return true;
}

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The credentials of --tls_ca/--tls_cert/--tls_key: mTLS, as the services
// run deployed (TRANSPORT_SECURITY=mtls); plaintext without --tls_ca.
std::shared_ptr<grpc::ChannelCredentials> BenchCredentials() {
  if (absl::GetFlag(FLAGS_tls_ca).empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadWhole(absl::GetFlag(FLAGS_tls_ca));
  ssl.pem_cert_chain = ReadWhole(absl::GetFlag(FLAGS_tls_cert));
  ssl.pem_private_key = ReadWhole(absl::GetFlag(FLAGS_tls_key));
  return grpc::SslCredentials(ssl);
}

// One channel to `address` with BenchCredentials().
std::shared_ptr<grpc::Channel> BenchChannel(const std::string& address) {
  grpc::ChannelArguments args;
  if (!absl::GetFlag(FLAGS_tls_ca).empty()) {
    args.SetSslTargetNameOverride(absl::GetFlag(FLAGS_tls_server_name));
  }
  return grpc::CreateCustomChannel(address, BenchCredentials(), args);
}

// The token book of --token_signing_key, if given; false (after saying why)
// when it cannot be opened.
bool OpenTokens(std::unique_ptr<microblog::bench::TokenBook>& tokens) {
  const std::string key_file = absl::GetFlag(FLAGS_token_signing_key);
  if (key_file.empty()) return true;
  absl::StatusOr<std::unique_ptr<microblog::bench::TokenBook>> book =
      microblog::bench::TokenBook::Open(key_file);
  if (!book.ok()) {
    std::cerr << "--token_signing_key: " << book.status().ToString() << "\n";
    return false;
  }
  tokens = *std::move(book);
  return true;
}

int Run() {
  const std::optional<microblog::bench::Scenario> scenario =
      microblog::bench::ParseScenario(absl::GetFlag(FLAGS_scenario));
  if (!scenario) {
    std::cerr << "unknown --scenario " << absl::GetFlag(FLAGS_scenario) << "\n";
    return 2;
  }
  LoadOptions options;
  options.scenario = *scenario;
  options.user_address = absl::GetFlag(FLAGS_user_address);
  if (!absl::GetFlag(FLAGS_tls_ca).empty()) {
    options.credentials = BenchCredentials();
    options.server_name = absl::GetFlag(FLAGS_tls_server_name);
  }
  options.post_address = absl::GetFlag(FLAGS_post_address);
  options.in_flight = absl::GetFlag(FLAGS_in_flight);
  options.channels = absl::GetFlag(FLAGS_channels);
  options.rate = absl::GetFlag(FLAGS_rate);
  options.warmup = Millis(absl::GetFlag(FLAGS_warmup));
  options.duration = Millis(absl::GetFlag(FLAGS_duration));
  options.max_calls = absl::GetFlag(FLAGS_max_calls);
  options.call_timeout = Millis(absl::GetFlag(FLAGS_call_timeout));
  options.users = absl::GetFlag(FLAGS_users);
  options.posts = absl::GetFlag(FLAGS_posts);
  options.verify_accounts = absl::GetFlag(FLAGS_verify_accounts);
  options.verify_wrong_password = absl::GetFlag(FLAGS_verify_wrong_password);
  options.honor_retry_info = absl::GetFlag(FLAGS_honor_retry_info);
  options.seed = absl::GetFlag(FLAGS_seed);
  std::unique_ptr<microblog::bench::TokenBook> tokens;
  if (!OpenTokens(tokens)) return 2;
  options.tokens = tokens.get();
  options.tokens_on_reads = absl::GetFlag(FLAGS_tokens_on_reads);

  absl::StatusOr<microblog::bench::LoadReport> report = microblog::bench::RunLoad(options);
  if (!report.ok()) {
    std::cerr << report.status().ToString() << "\n";
    return report.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::cout << microblog::bench::ReportText(*report) << std::flush;
  return AppendJsonLine(microblog::bench::ReportJson(*report)) ? 0 : 1;
}

int SeedSql() {
  const std::string table = absl::GetFlag(FLAGS_table);
  if (table == "users") {
    absl::StatusOr<std::string> hash = microblog::bench::HashBenchPassword();
    if (!hash.ok()) {
      std::cerr << hash.status().ToString() << "\n";
      return 1;
    }
    std::cout << microblog::bench::SeedUsersSql(absl::GetFlag(FLAGS_users), *hash);
    return 0;
  }
  if (table == "posts") {
    std::cout << microblog::bench::SeedPostsSql(absl::GetFlag(FLAGS_posts),
                                                absl::GetFlag(FLAGS_users));
    return 0;
  }
  std::cerr << "--table must be users or posts\n";
  return 2;
}

int CreateVerifyAccounts() {
  const std::string address = absl::GetFlag(FLAGS_user_address);
  if (address.empty()) {
    std::cerr << "--user_address is required\n";
    return 2;
  }
  auto stub = microblog::user::v1::UserService::NewStub(BenchChannel(address));
  const absl::Status status = microblog::bench::CreateVerifyAccounts(
      *stub, absl::GetFlag(FLAGS_verify_accounts), Millis(absl::GetFlag(FLAGS_call_timeout)));
  if (!status.ok()) {
    std::cerr << status.ToString() << "\n";
    return 1;
  }
  std::cout << "verify accounts ready: " << absl::GetFlag(FLAGS_verify_accounts) << "\n";
  return 0;
}

int Pwhash() {
  absl::StatusOr<microblog::bench::PwhashSpeed> speed = microblog::bench::MeasurePwhash(
      absl::GetFlag(FLAGS_threads), Millis(absl::GetFlag(FLAGS_duration)));
  if (!speed.ok()) {
    std::cerr << speed.status().ToString() << "\n";
    return 1;
  }
  std::cout << "crypto_pwhash_str (Argon2id, opslimit " << speed->opslimit << ", memlimit "
            << speed->memlimit_bytes / (1024 * 1024) << " MiB) on " << speed->threads
            << " threads: " << speed->hashes << " hashes in " << speed->seconds
            << " s = " << speed->hashes_per_second << " hashes/s\n";
  return AppendJsonLine(microblog::bench::PwhashJson(*speed)) ? 0 : 1;
}

// Polls grpc.health.v1.Health/Check (service "") until it answers SERVING.
int WaitServing() {
  const std::string address = absl::GetFlag(FLAGS_address);
  if (address.empty()) {
    std::cerr << "--address is required\n";
    return 2;
  }
  auto stub = grpc::health::v1::Health::NewStub(BenchChannel(address));
  const auto give_up = std::chrono::steady_clock::now() + Millis(absl::GetFlag(FLAGS_timeout));
  std::string last_error;
  while (std::chrono::steady_clock::now() < give_up) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    if (status.ok() && response.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return 0;
    }
    last_error =
        status.ok() ? "status " + std::to_string(response.status()) : status.error_message();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::cerr << address << " not SERVING in time: " << last_error << "\n";
  return 1;
}

int DeletionLatency() {
  const std::string user_address = absl::GetFlag(FLAGS_user_address);
  const std::string post_address = absl::GetFlag(FLAGS_post_address);
  if (user_address.empty() || post_address.empty()) {
    std::cerr << "--user_address and --post_address are required\n";
    return 2;
  }
  auto users = microblog::user::v1::UserService::NewStub(BenchChannel(user_address));
  auto posts = microblog::post::v1::PostService::NewStub(BenchChannel(post_address));
  microblog::bench::DeletionLatencyOptions options;
  options.trials = absl::GetFlag(FLAGS_trials);
  options.posts_per_user = absl::GetFlag(FLAGS_posts_per_user);
  options.call_timeout = Millis(absl::GetFlag(FLAGS_call_timeout));
  options.seed = absl::GetFlag(FLAGS_seed);
  std::unique_ptr<microblog::bench::TokenBook> tokens;
  if (!OpenTokens(tokens)) return 2;
  options.tokens = tokens.get();
  absl::StatusOr<microblog::bench::DeletionLatencyReport> report =
      microblog::bench::MeasureDeletionLatency(*users, *posts, options);
  if (!report.ok()) {
    std::cerr << report.status().ToString() << "\n";
    return 1;
  }
  std::cout << microblog::bench::DeletionLatencyText(*report) << std::flush;
  return AppendJsonLine(
             microblog::bench::DeletionLatencyJson(*report, options, absl::GetFlag(FLAGS_label)))
             ? 0
             : 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "microblog-bench run|seed-sql|create-verify-accounts|pwhash|wait-serving|deletion-latency "
      "[--flags]\n"
      "Load generator for user-service and post-service; see bench/README.md.");
  // Debian's Abseil is built with Mutex deadlock detection on (no NDEBUG):
  // every lock gRPC takes then updates a lock graph, a few per cent of the
  // generator's CPU on a machine it shares with the services it measures.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() != 2) {
    std::cerr << "usage: microblog-bench run|seed-sql|create-verify-accounts|pwhash|wait-serving|"
                 "deletion-latency [--flags]\n";
    return 2;
  }
  const std::string command = positional[1];
  if (command == "run") return Run();
  if (command == "seed-sql") return SeedSql();
  if (command == "create-verify-accounts") return CreateVerifyAccounts();
  if (command == "pwhash") return Pwhash();
  if (command == "wait-serving") return WaitServing();
  if (command == "deletion-latency") return DeletionLatency();
  std::cerr << "unknown command " << command << "\n";
  return 2;
}
