#include "bench/load_generator.h"

#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/alarm.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "bench/dataset.h"
#include "common/rpc/grpc_status.h"
#include "microblog/post/v1/post_service.grpc.pb.h"
#include "microblog/user/v1/user_service.grpc.pb.h"

namespace microblog {
namespace bench {
namespace {

using Clock = std::chrono::steady_clock;
using microblog::post::v1::CreatePostRequest;
using microblog::post::v1::CreatePostResponse;
using microblog::post::v1::GetPostRequest;
using microblog::post::v1::GetPostResponse;
using microblog::post::v1::ListPostsRequest;
using microblog::post::v1::ListPostsResponse;
using microblog::post::v1::PostService;
using microblog::user::v1::CreateUserRequest;
using microblog::user::v1::CreateUserResponse;
using microblog::user::v1::GetUserRequest;
using microblog::user::v1::GetUserResponse;
using microblog::user::v1::LookupUserRequest;
using microblog::user::v1::LookupUserResponse;
using microblog::user::v1::UserService;
using microblog::user::v1::VerifyPasswordRequest;
using microblog::user::v1::VerifyPasswordResponse;

// A post body as long as an average seeded one (see dataset.cc).
constexpr char kPostBody[] =
    "Benchmark post: the quick brown fox jumps over the lazy dog, then checks its timeline.";

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// A channel with its own TCP connection: without a local subchannel pool,
// channels to the same address would share one connection.
std::shared_ptr<grpc::Channel> NewChannel(const LoadOptions& options, const std::string& address,
                                          int index) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("microblog.bench.channel_index", index);
  if (!options.server_name.empty()) args.SetSslTargetNameOverride(options.server_name);
  return grpc::CreateCustomChannel(
      address,
      options.credentials != nullptr ? options.credentials : grpc::InsecureChannelCredentials(),
      args);
}

// What the slots of one run share: whether to send more calls, whether
// completions count, and how many slots are still busy.
class RunState {
 public:
  RunState(int slots, std::int64_t max_calls)
      : busy_slots_(slots), count_bounded_(max_calls > 0), remaining_(max_calls) {}

  RunState(const RunState&) = delete;
  RunState& operator=(const RunState&) = delete;

  // Whether a slot may send another call; when count-bounded, claims it.
  bool ClaimCall() {
    if (stopping_.load(std::memory_order_relaxed)) return false;
    return !count_bounded_ || remaining_.fetch_sub(1, std::memory_order_relaxed) > 0;
  }
  void StopSending() { stopping_.store(true, std::memory_order_relaxed); }

  bool measuring() const { return measuring_.load(std::memory_order_relaxed); }
  void set_measuring(bool on) { measuring_.store(on, std::memory_order_relaxed); }

  // A slot calls this once, when it sends nothing more.
  void SlotFinished() {
    absl::MutexLock lock(&mu_);
    --busy_slots_;  // at 0, WaitAllFinished() returns
  }
  void WaitAllFinished() {
    absl::MutexLock lock(&mu_);
    const auto all_finished = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return busy_slots_ == 0; };
    mu_.Await(absl::Condition(&all_finished));
  }

 private:
  absl::Mutex mu_;
  int busy_slots_ ABSL_GUARDED_BY(mu_);
  const bool count_bounded_;
  std::atomic<std::int64_t> remaining_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> measuring_{false};
};

// One call in flight: gRPC's callback API needs the context, request and
// response to live until the completion callback runs.
template <typename Request, typename Response>
struct PendingCall {
  grpc::ClientContext context;
  Request request;
  Response response;
  Operation operation;
  Clock::time_point start;
};

// One of the N call slots: sends a call, and from its completion the next.
// Only one call of a slot is in flight at a time, so its members need no
// lock; gRPC's callback ordering makes each completion see the previous one's
// writes.
class Slot {
 public:
  Slot(const LoadOptions& options, RunState& state, int index, UserService::Stub* users,
       PostService::Stub* posts, const std::string& run_tag)
      : options_(options),
        state_(state),
        users_(users),
        posts_(posts),
        picker_(options.scenario),
        rng_(options.seed * 1000003 + static_cast<std::uint64_t>(index)),
        name_prefix_("b" + run_tag + "_" + std::to_string(index) + "_") {}

  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

  // Paced runs: the slot's first call is due at `first`, then one every
  // `period`.
  void Pace(Clock::time_point first, Clock::duration period) {
    due_ = first;
    period_ = period;
  }

  // Sends the next call (paced: when it is due), or reports the slot
  // finished.
  void SendNext() {
    if (!state_.ClaimCall()) {
      state_.SlotFinished();
      return;
    }
    if (period_ == Clock::duration::zero()) return SendNow(Clock::now());
    const Clock::time_point due = due_;
    due_ += period_;
    if (due <= Clock::now()) return SendNow(due);  // late: the wait counts
    pace_alarm_.Set(std::chrono::system_clock::now() + (due - Clock::now()),
                    [this, due](bool /*fired*/) { SendNow(due); });
  }

  const CallStats& stats(Operation operation) const {
    return stats_[static_cast<std::size_t>(operation)];
  }

 private:
  // Sends one call of the scenario; its latency counts from `counted_from`.
  void SendNow(Clock::time_point counted_from) {
    counted_from_ = counted_from;
    const Operation operation = picker_.Next(rng_);
    switch (operation) {
      case Operation::kGetUser: {
        GetUserRequest request;
        request.set_id(RandomId(options_.users));
        Send<GetUserRequest, GetUserResponse>(operation, std::move(request),
                                              [this](auto* c, auto* q, auto* r, auto done) {
                                                users_->async()->GetUser(c, q, r, done);
                                              });
        break;
      }
      case Operation::kLookupUser: {
        // Half by username, half by email: they use different indexes.
        LookupUserRequest request;
        const std::int64_t id = RandomId(options_.users);
        if (rng_() % 2 == 0) {
          request.set_username(SeededUsername(id));
        } else {
          request.set_email(SeededEmail(id));
        }
        Send<LookupUserRequest, LookupUserResponse>(operation, std::move(request),
                                                    [this](auto* c, auto* q, auto* r, auto done) {
                                                      users_->async()->LookupUser(c, q, r, done);
                                                    });
        break;
      }
      case Operation::kCreateUser: {
        CreateUserRequest request;
        const std::string name = NextUniqueName();
        request.set_username(name);
        request.set_email(name + "@bench.example.com");
        request.set_password(kBenchPassword);
        Send<CreateUserRequest, CreateUserResponse>(operation, std::move(request),
                                                    [this](auto* c, auto* q, auto* r, auto done) {
                                                      users_->async()->CreateUser(c, q, r, done);
                                                    });
        break;
      }
      case Operation::kVerifyPassword: {
        VerifyPasswordRequest request;
        if (options_.verify_wrong_password) {
          request.set_login(NextUniqueName());
          request.set_password("not the password");
        } else {
          request.set_login(VerifyLogin(static_cast<int>(rng_() % options_.verify_accounts)));
          request.set_password(kBenchPassword);
        }
        Send<VerifyPasswordRequest, VerifyPasswordResponse>(
            operation, std::move(request), [this](auto* c, auto* q, auto* r, auto done) {
              users_->async()->VerifyPassword(c, q, r, done);
            });
        break;
      }
      case Operation::kCreatePost: {
        CreatePostRequest request;
        request.set_user_id(RandomId(options_.users));
        token_user_ = request.user_id();
        request.set_body(kPostBody);
        request.set_request_id(NextUniqueName());
        Send<CreatePostRequest, CreatePostResponse>(operation, std::move(request),
                                                    [this](auto* c, auto* q, auto* r, auto done) {
                                                      posts_->async()->CreatePost(c, q, r, done);
                                                    });
        break;
      }
      case Operation::kGetPost: {
        GetPostRequest request;
        request.set_id(RandomId(options_.posts));
        Send<GetPostRequest, GetPostResponse>(operation, std::move(request),
                                              [this](auto* c, auto* q, auto* r, auto done) {
                                                posts_->async()->GetPost(c, q, r, done);
                                              });
        break;
      }
      case Operation::kListPosts: {
        ListPostsRequest request;
        request.set_user_id(RandomId(options_.users));
        request.set_page_size(options_.page_size);
        Send<ListPostsRequest, ListPostsResponse>(operation, std::move(request),
                                                  [this](auto* c, auto* q, auto* r, auto done) {
                                                    posts_->async()->ListPosts(c, q, r, done);
                                                  });
        break;
      }
    }
  }

  // Starts `request` with `start(context, request, response, on_done)`, which
  // calls the stub's async() method.
  template <typename Request, typename Response, typename Start>
  void Send(Operation operation, Request request, Start start) {
    auto* call = new PendingCall<Request, Response>();
    call->request = std::move(request);
    call->operation = operation;
    call->context.set_deadline(std::chrono::system_clock::now() + options_.call_timeout);
    if (options_.tokens != nullptr) {
      if (token_user_ == 0 && options_.tokens_on_reads) token_user_ = RandomId(options_.users);
      if (token_user_ != 0) {
        call->context.AddMetadata("authorization",
                                  "Bearer " + options_.tokens->TokenFor(token_user_));
      }
    }
    token_user_ = 0;
    call->start = counted_from_;
    start(&call->context, &call->request, &call->response,
          std::function<void(grpc::Status)>([this, call](grpc::Status status) {
            const Clock::time_point end = Clock::now();
            std::unique_ptr<PendingCall<Request, Response>> finished(call);
            if (state_.measuring()) {
              stats_[static_cast<std::size_t>(finished->operation)].Record(end - finished->start,
                                                                           status.error_code());
            }
            finished.reset();
            const std::chrono::milliseconds wait = RetryDelay(status);
            if (wait <= std::chrono::milliseconds::zero()) return SendNext();
            retry_alarm_.Set(std::chrono::system_clock::now() + wait,
                             [this](bool /*fired*/) { SendNext(); });
          }));
  }

  // How long to wait after `status` before the next call: RetryInfo's
  // delay when honoured, else nothing.
  std::chrono::milliseconds RetryDelay(const grpc::Status& status) const {
    if (!options_.honor_retry_info || status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) {
      return std::chrono::milliseconds::zero();
    }
    return RetryDelayOf(status).value_or(std::chrono::milliseconds::zero());
  }

  std::int64_t RandomId(std::int64_t max) {
    return std::uniform_int_distribution<std::int64_t>(1, max)(rng_);
  }

  // Unique within the run and across runs (the run tag).
  std::string NextUniqueName() { return name_prefix_ + std::to_string(++sent_unique_); }

  const LoadOptions& options_;
  RunState& state_;
  UserService::Stub* const users_;
  PostService::Stub* const posts_;
  OperationPicker picker_;
  std::mt19937_64 rng_;
  const std::string name_prefix_;
  std::int64_t sent_unique_ = 0;
  std::array<CallStats, kOperationCount> stats_;
  Clock::time_point counted_from_;  // the latency of the call being sent counts from here
  std::int64_t token_user_ = 0;     // the user whose token the call being built sends (0: none)
  Clock::time_point due_;           // paced: when the next call is due
  Clock::duration period_{};        // paced: between a slot's calls; 0: closed loop
  grpc::Alarm retry_alarm_;         // one call (or wait) of a slot at a time
  grpc::Alarm pace_alarm_;          // a paced slot waiting for its next call's time
};

absl::Status Validate(const LoadOptions& o) {
  if (UsesUserService(o.scenario) && o.user_address.empty()) {
    return absl::InvalidArgumentError(std::string(ScenarioName(o.scenario)) +
                                      " needs the user-service address");
  }
  if (UsesPostService(o.scenario) && o.post_address.empty()) {
    return absl::InvalidArgumentError(std::string(ScenarioName(o.scenario)) +
                                      " needs the post-service address");
  }
  if (o.in_flight < 1 || o.channels < 1) {
    return absl::InvalidArgumentError("in_flight and channels must be at least 1");
  }
  if (!(o.rate >= 0) || o.rate > 1e7) {
    return absl::InvalidArgumentError("rate must be between 0 (closed loop) and 1e7 calls/s");
  }
  if (o.max_calls < 0 || (o.max_calls == 0 && o.duration.count() <= 0)) {
    return absl::InvalidArgumentError("need a positive duration or max_calls");
  }
  if (o.users < 1 || o.posts < 1 || o.verify_accounts < 1 || o.page_size < 1) {
    return absl::InvalidArgumentError("users, posts, verify_accounts and page_size must be >= 1");
  }
  return absl::OkStatus();
}

// A short tag that differs between runs (names of created rows carry it).
std::string RunTag(std::uint64_t seed) {
  const auto now =
      static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  char tag[17];
  std::snprintf(tag, sizeof(tag), "%x", static_cast<unsigned>((now ^ (seed << 20)) & 0xffffffffu));
  return tag;
}

OperationReport Summarize(CallStats stats) {
  OperationReport report;
  report.calls = stats.calls();
  report.status_counts = stats.StatusCounts();
  report.latency = stats.Summarize();
  return report;
}

}  // namespace

absl::StatusOr<LoadReport> RunLoad(const LoadOptions& options) {
  if (absl::Status valid = Validate(options); !valid.ok()) return valid;

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<UserService::Stub>> user_stubs;
  std::vector<std::unique_ptr<PostService::Stub>> post_stubs;
  for (int i = 0; i < options.channels; ++i) {
    if (UsesUserService(options.scenario)) {
      channels.push_back(NewChannel(options, options.user_address, i));
      user_stubs.push_back(UserService::NewStub(channels.back()));
    }
    if (UsesPostService(options.scenario)) {
      channels.push_back(NewChannel(options, options.post_address, i));
      post_stubs.push_back(PostService::NewStub(channels.back()));
    }
  }

  RunState state(options.in_flight, options.max_calls);
  const std::string tag = RunTag(options.seed);
  std::vector<std::unique_ptr<Slot>> slots;
  for (int i = 0; i < options.in_flight; ++i) {
    const auto channel = static_cast<std::size_t>(i % options.channels);
    slots.push_back(std::make_unique<Slot>(
        options, state, i, user_stubs.empty() ? nullptr : user_stubs[channel].get(),
        post_stubs.empty() ? nullptr : post_stubs[channel].get(), tag));
  }

  const bool count_bounded = options.max_calls > 0;
  if (count_bounded) state.set_measuring(true);
  Clock::time_point measure_start = Clock::now();
  double cpu_start = ProcessCpuSeconds();
  if (options.rate > 0) {
    const auto period = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(options.in_flight / options.rate));
    for (std::size_t i = 0; i < slots.size(); ++i) {
      slots[i]->Pace(measure_start + period * static_cast<long>(i) / options.in_flight, period);
    }
  }
  for (auto& slot : slots) slot->SendNext();

  Clock::time_point measure_end;
  double cpu_end = 0;
  if (count_bounded) {
    state.WaitAllFinished();
    measure_end = Clock::now();
    cpu_end = ProcessCpuSeconds();
  } else {
    std::this_thread::sleep_for(options.warmup);
    state.set_measuring(true);
    measure_start = Clock::now();
    cpu_start = ProcessCpuSeconds();
    std::this_thread::sleep_for(options.duration);
    state.set_measuring(false);
    measure_end = Clock::now();
    cpu_end = ProcessCpuSeconds();
    state.StopSending();
    state.WaitAllFinished();
  }

  LoadReport report;
  report.scenario = ScenarioName(options.scenario);
  report.in_flight = options.in_flight;
  report.channels = options.channels;
  report.rate = options.rate;
  report.seconds = std::chrono::duration<double>(measure_end - measure_start).count();
  report.client_cpu_seconds = cpu_end - cpu_start;
  CallStats total;
  for (std::size_t op = 0; op < kOperationCount; ++op) {
    CallStats merged;
    for (const auto& slot : slots) merged.Merge(slot->stats(static_cast<Operation>(op)));
    if (merged.calls() == 0) continue;
    total.Merge(merged);
    report.operations[OperationName(static_cast<Operation>(op))] = Summarize(std::move(merged));
  }
  report.calls = total.calls();
  report.calls_per_second =
      report.seconds > 0 ? static_cast<double>(report.calls) / report.seconds : 0;
  report.status_counts = total.StatusCounts();
  report.latency = total.Summarize();
  return report;
}

}  // namespace bench
}  // namespace microblog
