#include "common/service/metrics_server.h"

#include <civetweb.h>

#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace microblog {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address,
                                                                    const Registry& registry) {
  const std::size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("METRICS_ADDRESS \"", address, "\" is not host:port with a port 1-65535"));
  }
  // civetweb writes "0.0.0.0:9464"-style addresses as they are.
  static const bool initialized = [] {
    mg_init_library(0);
    return true;
  }();
  (void)initialized;
  std::unique_ptr<MetricsServer> server(new MetricsServer(registry));
  const std::string ports = address;
  // civetweb gives each connection one worker thread from accept to close;
  // a connection waits in civetweb's queue while every worker is taken.
  // So: threads for a handful of idle or slow clients next to the real
  // scrapers, and a deadline for the request (see the header for why these
  // numbers).
  const std::string threads = std::to_string(kWorkerThreads);
  const std::string request_timeout = std::to_string(kRequestTimeoutMs);
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads", threads.c_str(),
                           "request_timeout_ms", request_timeout.c_str(),
                           // One request per connection (what we answer with
                           // "Connection: close" anyway): no idle keep-alive
                           // connection holds a worker after its scrape.
                           "enable_keep_alive", "no", nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof callbacks);
  server->context_ = mg_start(&callbacks, nullptr, options);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, " (address in use or not local)"));
  }
  mg_set_request_handler(server->context_, "/metrics$", &MetricsServer::HandleMetrics,
                         server.get());
  return server;
}

MetricsServer::~MetricsServer() {
  if (context_ != nullptr) mg_stop(context_);
}

int MetricsServer::HandleMetrics(mg_connection* connection, void* self) {
  const mg_request_info* request = mg_get_request_info(connection);
  if (request == nullptr || std::strcmp(request->request_method, "GET") != 0) {
    mg_send_http_error(connection, 405, "%s", "only GET\n");
    return 405;
  }
  const std::string body = static_cast<MetricsServer*>(self)->registry_.Render();
  mg_printf(connection,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: %zu\r\n"
            "Connection: close\r\n\r\n",
            body.size());
  mg_write(connection, body.data(), body.size());
  return 200;
}

}  // namespace microblog
