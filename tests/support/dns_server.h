// A tiny authoritative DNS server on 127.0.0.1 (UDP) whose answer a test
// controls: every A query, whatever the name, is answered with the current
// list of IPv4 addresses; every other query with no records. It stands in
// for a Kubernetes headless Service, whose DNS name lists the ready pods:
// gRPC's c-ares resolver can be pointed at it through the target's
// authority, so replicas can be added and removed under a client's feet.
//
//   FakeDns dns({"127.0.0.1"});
//   auto channel = grpc::CreateChannel(dns.Target("replicas.test", port), ...);
//   dns.SetAddresses({"127.0.0.1", "127.0.0.2"});   // a replica added
//
// Thread-safety: SetAddresses() and queries() may be called from any thread;
// the server answers on a thread of its own until destroyed.
// Errors: the constructor throws std::runtime_error when it cannot bind.
#ifndef MICROBLOG_TESTS_SUPPORT_DNS_SERVER_H_
#define MICROBLOG_TESTS_SUPPORT_DNS_SERVER_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace microblog {
namespace test_support {

class FakeDns {
 public:
  explicit FakeDns(std::vector<std::string> ipv4_addresses);
  ~FakeDns();
  FakeDns(const FakeDns&) = delete;
  FakeDns& operator=(const FakeDns&) = delete;

  // The addresses of later answers (dotted IPv4).
  void SetAddresses(std::vector<std::string> ipv4_addresses);
  // A gRPC target resolving `host` through this server:
  // "dns://127.0.0.1:<dns port>/<host>:<port>".
  std::string Target(const std::string& host, int port) const;
  // A queries answered so far.
  int queries() const { return queries_; }

 private:
  void Serve();
  // The answer to one query datagram; empty when it is not a query.
  std::string Answer(const std::string& query);

  int fd_ = -1;
  int port_ = 0;
  std::mutex mu_;
  std::vector<uint32_t> addresses_;  // network byte order; guarded by mu_
  std::atomic<int> queries_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_DNS_SERVER_H_
