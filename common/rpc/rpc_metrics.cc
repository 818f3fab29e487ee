#include "common/rpc/rpc_metrics.h"

#include <chrono>

#include <google/protobuf/descriptor.h>

#include "absl/strings/str_cat.h"

namespace microblog {
namespace {

// grpc::StatusCode 0..16 as Go prints them.
constexpr const char* kGoCodeNames[] = {
    "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated"};

// "/pkg.Service/Method" -> {"pkg.Service", "Method"}.
std::pair<std::string, std::string> SplitPath(std::string_view path) {
  if (!path.empty() && path[0] == '/') path.remove_prefix(1);
  const std::size_t slash = path.find('/');
  if (slash == std::string_view::npos) return {std::string(path), ""};
  return {std::string(path.substr(0, slash)), std::string(path.substr(slash + 1))};
}

}  // namespace

RpcMetrics::RpcMetrics(Registry& registry, Side side, const std::vector<std::string>& services)
    : started_(registry.AddCounter(
          side == Side::kServer ? "grpc_server_started_total" : "grpc_client_started_total",
          side == Side::kServer ? "Total number of RPCs started on the server."
                                : "Total number of RPCs started on the client.",
          {"grpc_type", "grpc_service", "grpc_method"})),
      handled_(registry.AddCounter(
          side == Side::kServer ? "grpc_server_handled_total" : "grpc_client_handled_total",
          side == Side::kServer
              ? "Total number of RPCs completed on the server, regardless of success or failure."
              : "Total number of RPCs completed by the client, regardless of success or failure.",
          {"grpc_type", "grpc_service", "grpc_method", "grpc_code"})),
      handling_(registry.AddHistogram(
          side == Side::kServer ? "grpc_server_handling_seconds" : "grpc_client_handling_seconds",
          side == Side::kServer
              ? "Histogram of response latency (seconds) of gRPC that had been application-level "
                "handled by the server."
              : "Histogram of response latency (seconds) of the gRPC until it is finished by the "
                "application.",
          {"grpc_type", "grpc_service", "grpc_method"}, DefaultLatencyBuckets())) {
  for (const std::string& name : services) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* method = service->method(i);
      if (method->client_streaming() || method->server_streaming()) continue;
      unary_.emplace(absl::StrCat("/", name, "/", method->name()),
                     Create(name, method->name(), "unary"));
    }
  }
}

RpcMetrics::MethodSeries RpcMetrics::Create(const std::string& service, const std::string& method,
                                            const char* type) {
  MethodSeries series;
  series.started = &started_.WithLabels({type, service, method});
  for (std::size_t code = 0; code < series.handled.size(); ++code) {
    series.handled[code] = &handled_.WithLabels({type, service, method, kGoCodeNames[code]});
  }
  series.handling = &handling_.WithLabels({type, service, method});
  return series;
}

RpcMetrics::MethodSeries& RpcMetrics::Series(std::string_view path, const char* type) {
  if (std::string_view(type) == "unary") {
    auto it = unary_.find(std::string(path));
    if (it != unary_.end()) return it->second;
  }
  absl::MutexLock lock(&mu_);
  const std::string key = absl::StrCat(type, " ", std::string(path));
  auto it = others_.find(key);
  if (it == others_.end()) {
    auto [service, method] = SplitPath(path);
    it = others_.emplace(key, Create(service, method, type)).first;
  }
  return it->second;
}

RpcMetrics::MethodSeries& RpcMetrics::RecordStart(std::string_view path, const char* type) {
  MethodSeries& series = Series(path, type);
  series.started->Increment();
  return series;
}

void RpcMetrics::RecordEnd(MethodSeries& series, grpc::StatusCode code, double seconds) {
  const auto index = static_cast<std::size_t>(code);
  // gRPC never finishes a call with a code outside the canonical 17.
  if (index < series.handled.size()) series.handled[index]->Increment();
  series.handling->Observe(seconds);
}

namespace {

class ClientMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  ClientMetricsInterceptor(grpc::experimental::ClientRpcInfo* info, RpcMetrics& metrics)
      : series_(metrics.RecordStart(info->method(), GrpcTypeName(info->type()))),
        metrics_(metrics),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_STATUS)) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      metrics_.RecordEnd(series_, methods->GetRecvStatus()->error_code(), seconds);
    }
    methods->Proceed();
  }

 private:
  RpcMetrics::MethodSeries& series_;
  RpcMetrics& metrics_;
  std::chrono::steady_clock::time_point start_;
};

class ClientMetricsInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit ClientMetricsInterceptorFactory(RpcMetrics& metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new ClientMetricsInterceptor(info, metrics_);
  }

 private:
  RpcMetrics& metrics_;
};

}  // namespace

std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
ClientMetricsInterceptors(RpcMetrics& metrics) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<ClientMetricsInterceptorFactory>(metrics));
  return factories;
}

}  // namespace microblog
