// End-to-end tests of post-service's author checks against user-service:
// unknown and deleted authors, user-service slow, failing, down and back,
// trace context forwarded to it, and reaching it by DNS and over mutual TLS.
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "common/base/trace_context.h"
#include "e2e/both_services_fixture.h"
#include "google/rpc/error_details.pb.h"
#include "support/eventually.h"
#include "support/rpc_details.h"
#include "support/test_certificates.h"

namespace microblog {
namespace test_support {
namespace {

using namespace std::chrono_literals;

constexpr char kTraceparent[] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
constexpr char kTracestate[] = "congo=t61rcWkgMzE";

// The token of a user user-service does not know (its NOT_FOUND, with a
// google.rpc.ResourceInfo, reaches privileged callers only: the logic's
// unit tests) grants nothing.
TEST_F(BothServicesTest, ATokenOfAnUnknownUserIsRevokedAndStoresNothing) {
  StartServices();
  grpc::Status status = CreatePost(987654, "who am I?");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  EXPECT_EQ(status.error_message(), "access token revoked");
  EXPECT_EQ(CountPosts(), 0);
}

TEST_F(BothServicesTest, DeletedAuthorIsRefusedAtOnce) {
  StartServices();
  const int64_t bob = CreateUser("bob");
  Post old_post;
  ASSERT_TRUE(CreatePost(bob, "before leaving", "", &old_post).ok());

  microblog::user::v1::DeleteUserRequest request;
  request.set_id(bob);
  microblog::user::v1::DeleteUserResponse response;
  ASSERT_TRUE(user_stub_->DeleteUser(NewContextAs(bob).get(), request, &response).ok());

  // Its token is refused at once: user-service no longer knows bob.
  grpc::Status status = CreatePost(bob, "after leaving");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  EXPECT_EQ(status.error_message(), "access token revoked");
  // No author cache: the very next post is refused, and stores nothing. (The
  // old post goes with the cascade: deletion_cascade_test.cc.)
  EXPECT_EQ(CountPosts("body = 'after leaving'"), 0);
}

TEST_F(BothServicesTest, MaxDeadlineCapsWhatTheCallerAllows) {
  FakeUserServer fake;
  fake.service().set_delay(120s);
  // The caller allows 30 s and the author check 60 s: only MAX_DEADLINE_MS
  // (300 ms) can end the call early.
  StartPostService(fake.address(),
                   {{"USER_SERVICE_TIMEOUT_MS", "60000"}, {"MAX_DEADLINE_MS", "300"}});
  const auto start = std::chrono::steady_clock::now();
  grpc::Status status = CreatePost(FakeUserService::kKnownUser, "in a hurry");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  // Not a speed assertion: 20 s is far above the cap and far below the
  // caller's 30 s, so only the cap can explain an answer in that window.
  EXPECT_LT(elapsed, 20s);
  EXPECT_EQ(CountPosts(), 0);
}

// --- user-service going away and coming back -------------------------------------

TEST_F(BothServicesTest, UserServiceDownRefusesCreatesButServesReadsAndStaysHealthy) {
  StartServices();
  const int64_t alice = CreateUser("alice");
  Post kept;
  ASSERT_TRUE(CreatePost(alice, "before the outage", "", &kept).ok());
  const std::string address = users_->address();

  users_->Signal(SIGKILL);
  ASSERT_TRUE(users_->WaitExit(10s).has_value());

  // The author cannot be checked: UNAVAILABLE, promptly (the call returns
  // within its generous deadline rather than hanging), and nothing stored.
  grpc::Status status = CreatePost(alice, "during the outage");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  // The channel's own message (internal addresses) stays in the log.
  EXPECT_EQ(status.error_message(), "user-service unavailable; retry later");
  EXPECT_NE(posts_->output().find("author check failed"), std::string::npos);
  status = CreatePost(alice, "during the outage", "retry-me");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(CountPosts(), 1);
  // Validation still comes first.
  EXPECT_EQ(CreatePost(alice, " ").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // Reads do not need user-service, and readiness does not depend on it.
  Post read;
  EXPECT_TRUE(GetPost(kept.id(), &read).ok());
  ListPostsResponse page;
  ASSERT_TRUE(ListPosts(alice, 0, "", &page).ok());
  EXPECT_EQ(page.posts_size(), 1);
  EXPECT_EQ(posts_->CheckHealth(), HealthStatus::SERVING);

  // user-service comes back on the same address: post-service reconnects by
  // itself (its channel was never rebuilt).
  EnvVars env = UserServiceEnv();
  env["LISTEN_ADDRESS"] = address;
  env["METRICS_ADDRESS"] = "";  // not the default port: tests run in parallel
  ChildProcess restarted(kUserServiceBin, {}, env);
  ASSERT_TRUE(WaitUntilServing(address, kWaitTimeout)) << restarted.ReadOutput();
  EXPECT_TRUE(Eventually([&] {
    status = CreatePost(alice, "after the outage", "retry-me");
    return status.error_code() != grpc::StatusCode::UNAVAILABLE;
  }));
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(CountPosts(), 2);
  EXPECT_TRUE(posts_->Running());
}

TEST_F(BothServicesTest, SlowUserServiceIsUnavailableWithinTheCheckTimeout) {
  FakeUserServer fake;
  fake.service().set_delay(120s);
  // The caller allows 30 s and the server 60 s: only USER_SERVICE_TIMEOUT_MS
  // can end the check early, which makes the answer UNAVAILABLE rather than
  // the client's own DEADLINE_EXCEEDED.
  StartPostService(fake.address(),
                   {{"USER_SERVICE_TIMEOUT_MS", "300"}, {"MAX_DEADLINE_MS", "60000"}});
  grpc::Status status = CreatePost(FakeUserService::kKnownUser, "anyone there?");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_NE(status.error_message().find("user-service"), std::string::npos);
  EXPECT_EQ(CountPosts(), 0);
}

TEST_F(BothServicesTest, UnavailableAnswersOfUserServiceAreRetriedByTheChannel) {
  FakeUserServer fake;
  StartPostService(fake.address());
  fake.service().FailNext(1);
  grpc::Status status = CreatePost(FakeUserService::kKnownUser, "second time lucky");
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(fake.service().calls(), 2);

  // The retry budget is finite: a user-service that keeps failing yields
  // UNAVAILABLE, never a post.
  fake.service().FailNext(1000);
  status = CreatePost(FakeUserService::kKnownUser, "never stored");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(CountPosts(), 1);
}

// --- Trace context ---------------------------------------------------------------

TEST_F(BothServicesTest, TraceContextIsForwardedToUserService) {
  FakeUserServer fake;
  StartPostService(fake.address());
  CreatePostRequest request;
  request.set_user_id(FakeUserService::kKnownUser);
  request.set_body("traced");
  CreatePostResponse response;
  auto context = NewContextAs(FakeUserService::kKnownUser);
  context->AddMetadata("traceparent", kTraceparent);
  context->AddMetadata("tracestate", kTracestate);
  grpc::Status status = stub_->CreatePost(context.get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, std::string> seen = fake.service().last_metadata();
  // The same trace, flags and state; the call to user-service is a span of
  // its own.
  const std::optional<Traceparent> sent = ParseTraceparent(seen["traceparent"]);
  const std::optional<Traceparent> caller = ParseTraceparent(kTraceparent);
  ASSERT_TRUE(sent.has_value()) << seen["traceparent"];
  EXPECT_EQ(sent->trace_id, caller->trace_id);
  EXPECT_NE(sent->parent_id, caller->parent_id);
  EXPECT_EQ(sent->flags, caller->flags);
  EXPECT_EQ(seen["tracestate"], kTracestate);

  // Nothing is invented when the caller sent none.
  ASSERT_TRUE(CreatePost(FakeUserService::kKnownUser, "untraced").ok());
  seen = fake.service().last_metadata();
  EXPECT_EQ(seen.count("traceparent"), 0u);
  EXPECT_EQ(seen.count("tracestate"), 0u);
}

TEST_F(BothServicesTest, TraceContextReachesTheRealUserServiceLog) {
  StartServices();
  const int64_t alice = CreateUser("tracy");
  CreatePostRequest request;
  request.set_user_id(alice);
  request.set_body("traced end to end");
  CreatePostResponse response;
  auto context = NewContextAs(alice);
  context->AddMetadata("traceparent", kTraceparent);
  ASSERT_TRUE(stub_->CreatePost(context.get(), request, &response).ok());
  // Both services' per-RPC log lines carry the trace (OpenTelemetry's field
  // names): post-service's with the caller's span, user-service's with the
  // span of post-service's call to it.
  const std::optional<Traceparent> caller = ParseTraceparent(kTraceparent);
  ASSERT_TRUE(caller.has_value());
  const std::string trace_id = "\"trace_id\":\"" + caller->trace_id + "\"";
  const std::string caller_span = "\"span_id\":\"" + caller->parent_id + "\"";
  const std::string post_log = posts_->output();
  EXPECT_NE(post_log.find(trace_id + "," + caller_span + ",\"trace_flags\":\"01\""),
            std::string::npos)
      << post_log;
  // user-service logged its BatchGetUsers before answering it, so before
  // post-service answered us (stderr is unbuffered).
  const std::string user_log = users_->output();
  const std::size_t batch_line = user_log.find("/microblog.user.v1.UserService/BatchGetUsers");
  ASSERT_NE(batch_line, std::string::npos) << user_log;
  const std::string line =
      user_log.substr(batch_line, user_log.find('\n', batch_line) - batch_line);
  EXPECT_NE(line.find(trace_id), std::string::npos) << line;
  EXPECT_NE(line.find("\"span_id\":\""), std::string::npos) << line;
  EXPECT_EQ(line.find(caller_span), std::string::npos) << line;
}

// The lines of `log` from offset `from` on that contain `text`.
std::vector<std::string> LinesWith(const std::string& log, std::size_t from,
                                   const std::string& text) {
  std::vector<std::string> lines;
  for (std::size_t at = log.find(text, from); at != std::string::npos;
       at = log.find(text, at + 1)) {
    const std::size_t start = log.rfind('\n', at) + 1;  // npos + 1 == 0
    lines.push_back(log.substr(start, log.find('\n', at) - start));
  }
  return lines;
}

// Whether one of `lines` contains `text`.
bool AnyContains(const std::vector<std::string>& lines, const std::string& text) {
  for (const std::string& line : lines) {
    if (line.find(text) != std::string::npos) return true;
  }
  return false;
}

// Not only the per-RPC line: whatever a service logs while it serves a
// traced call carries the trace, whether the work ran in a batch
// (GetPost), on a worker (LookupUser) or while answering (the internal
// error's cause); lines of untraced calls carry none. (The deletion
// consumer's own lines about the same killed connections carry none
// either: they serve no call.)
TEST_F(BothServicesTest, EveryLineWrittenForATracedCallCarriesItsTrace) {
  // Readiness checks only at start-up: a periodic ping would find the
  // killed connections first and the calls below would get fresh ones.
  const EnvVars no_periodic_ping = {{"HEALTH_CHECK_INTERVAL_MS", "3600000"}};
  StartServices(no_periodic_ping, no_periodic_ping);
  const int64_t alice = CreateUser("lines");
  ASSERT_TRUE(CreatePost(alice, "kept").ok());
  const std::optional<Traceparent> caller = ParseTraceparent(kTraceparent);
  ASSERT_TRUE(caller.has_value());
  const std::string trace_fields = "\"trace_id\":\"" + caller->trace_id + "\",\"span_id\":\"" +
                                   caller->parent_id + "\",\"trace_flags\":\"01\"";
  const std::string kill_connections =
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()";
  const auto traced_context = [] {
    auto context = NewContext();
    context->AddMetadata("traceparent", kTraceparent);
    return context;
  };

  // A batched read whose pooled connection was killed.
  QueryPosts(kill_connections);
  std::size_t from = posts_->output().size();
  GetPostRequest get;
  get.set_id(1);
  GetPostResponse got;
  EXPECT_EQ(stub_->GetPost(traced_context().get(), get, &got).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(
      AnyContains(LinesWith(posts_->output(), from, "database connection lost"), trace_fields))
      << posts_->output().substr(from);

  // Blocking work on a worker thread, in user-service.
  QueryUsers(kill_connections);
  from = users_->output().size();
  microblog::user::v1::LookupUserRequest lookup;
  lookup.set_username("lines");
  microblog::user::v1::LookupUserResponse looked_up;
  EXPECT_EQ(user_stub_->LookupUser(traced_context().get(), lookup, &looked_up).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(
      AnyContains(LinesWith(users_->output(), from, "database connection lost"), trace_fields))
      << users_->output().substr(from);

  // An internal error's cause, logged as the call is answered.
  QueryPosts("ALTER TABLE posts RENAME COLUMN body TO text_body");
  from = posts_->output().size();
  ListPostsRequest list;
  list.set_user_id(alice);
  list.set_page_size(5);
  ListPostsResponse listed;
  EXPECT_EQ(stub_->ListPosts(traced_context().get(), list, &listed).error_code(),
            grpc::StatusCode::INTERNAL);
  EXPECT_TRUE(
      AnyContains(LinesWith(posts_->output(), from, "\"msg\":\"internal error\""), trace_fields))
      << posts_->output().substr(from);

  // The same without a trace: no trace fields at all.
  from = posts_->output().size();
  EXPECT_EQ(stub_->ListPosts(NewContext().get(), list, &listed).error_code(),
            grpc::StatusCode::INTERNAL);
  const std::vector<std::string> untraced =
      LinesWith(posts_->output(), from, "\"msg\":\"internal error\"");
  EXPECT_FALSE(untraced.empty()) << posts_->output().substr(from);
  EXPECT_FALSE(AnyContains(untraced, "trace_id")) << posts_->output().substr(from);
  QueryPosts("ALTER TABLE posts RENAME COLUMN text_body TO body");
}

// --- Reaching user-service: DNS, mutual TLS --------------------------------------

TEST_F(BothServicesTest, ResolvesUserServiceThroughDnsTargets) {
  FakeUserServer fake;
  // localhost may resolve to ::1 as well, where nothing listens: round-robin
  // only uses the addresses that connect.
  const std::string port = fake.address().substr(fake.address().rfind(':') + 1);
  StartPostService("dns:///localhost:" + port);
  grpc::Status status = CreatePost(FakeUserService::kKnownUser, "resolved");
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(fake.service().calls(), 1);
}

TEST_F(BothServicesTest, ChecksAuthorsOverMutualTls) {
  TestCertificates certs;
  grpc::SslServerCredentialsOptions tls(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = certs.Read("ca.crt");
  tls.pem_key_cert_pairs.push_back({certs.Read("server.key"), certs.Read("server.crt")});
  FakeUserServer fake(grpc::SslServerCredentials(tls));

  StartPostService(fake.address(), {{"USER_SERVICE_TLS_CA_FILE", certs.Path("ca.crt")},
                                    {"USER_SERVICE_TLS_CERT_FILE", certs.Path("client.crt")},
                                    {"USER_SERVICE_TLS_KEY_FILE", certs.Path("client.key")}});
  grpc::Status status = CreatePost(FakeUserService::kKnownUser, "over TLS");
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(fake.service().calls(), 1);

  // Without a client certificate the server refuses the handshake: the
  // author cannot be checked, and the call says so.
  posts_.reset();
  StartPostService(fake.address(), {{"USER_SERVICE_TLS_CA_FILE", certs.Path("ca.crt")}});
  status = CreatePost(FakeUserService::kKnownUser, "no client certificate");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(fake.service().calls(), 1);
}

TEST_F(BothServicesTest, RealServicesTalkOverMutualTls) {
  // user-service itself serves TLS and requires client certificates
  // (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE); post-service presents
  // its own (USER_SERVICE_TLS_*).
  TestCertificates certs;
  user_db_ = PrepareUserDatabase(pg());
  EnvVars env = UserServiceEnv();
  const std::string address = "127.0.0.1:" + std::to_string(FreeTcpPort());
  env["LISTEN_ADDRESS"] = address;
  env["TLS_CERT_FILE"] = certs.Path("server.crt");
  env["TLS_KEY_FILE"] = certs.Path("server.key");
  env["TLS_CLIENT_CA_FILE"] = certs.Path("ca.crt");
  env["TRANSPORT_SECURITY"] = "mtls";
  // Any caller with a certificate: what this test is about is the
  // transport (service_identity_test.cc tests the policy).
  const std::string policy = certs.Path("allow-all.json");
  std::ofstream(policy) << R"({"name": "test", "allow_rules": [{"name": "all"}]})";
  env["AUTHZ_POLICY_FILE"] = policy;
  env["METRICS_ADDRESS"] = "";  // not the default port: tests run in parallel
  ChildProcess users(kUserServiceBin, {}, env);
  grpc::SslCredentialsOptions with_cert;
  with_cert.pem_root_certs = certs.Read("ca.crt");
  with_cert.pem_cert_chain = certs.Read("client.crt");
  with_cert.pem_private_key = certs.Read("client.key");
  ASSERT_TRUE(WaitUntilServing(address, kWaitTimeout, grpc::SslCredentials(with_cert)))
      << users.ReadOutput();

  // Neither plaintext nor TLS without a client certificate gets through.
  grpc::SslCredentialsOptions without_cert;
  without_cert.pem_root_certs = certs.Read("ca.crt");
  for (const auto& credentials :
       {grpc::InsecureChannelCredentials(), grpc::SslCredentials(without_cert)}) {
    auto stub = UserService::NewStub(grpc::CreateChannel(address, credentials));
    microblog::user::v1::GetUserRequest request;
    request.set_id(1);
    microblog::user::v1::GetUserResponse response;
    EXPECT_EQ(stub->GetUser(NewContext().get(), request, &response).error_code(),
              grpc::StatusCode::UNAVAILABLE);
  }

  user_stub_ = UserService::NewStub(grpc::CreateChannel(address, grpc::SslCredentials(with_cert)));
  const int64_t author = CreateUser("tess");
  StartPostService(address, {{"USER_SERVICE_TLS_CA_FILE", certs.Path("ca.crt")},
                             {"USER_SERVICE_TLS_CERT_FILE", certs.Path("client.crt")},
                             {"USER_SERVICE_TLS_KEY_FILE", certs.Path("client.key")}});
  grpc::Status status = CreatePost(author, "checked over mutual TLS");
  EXPECT_TRUE(status.ok()) << status.error_message();
  // user-service's "no such user" comes back over mutual TLS too.
  status = CreatePost(author + 1000, "unknown author, over mutual TLS");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  EXPECT_EQ(status.error_message(), "access token revoked");
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
