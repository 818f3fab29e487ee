// Driving podman from tests (tests/e2e/images_test.cc): commands, a private
// network per test, and the facts of a running container.
//
//   PodmanNetwork net;                       // podman network create mbimg-<pid>-<n>
//   RunResult r = Podman({"run", "--rm", "--network", net.name(), image, "true"});
//   std::string ip = ContainerIp(name);
//
// The containers of a network reach each other and the host (gateway()),
// and, with rootful podman, the host reaches them at their addresses: no
// port has to be published, so tests running at the same time never race
// for host ports. podman comes from PATH. Not thread-safe.
//
// Errors: PodmanOrThrow() and the PodmanNetwork constructor throw
// std::runtime_error carrying podman's output.
#ifndef MICROBLOG_TESTS_SUPPORT_PODMAN_H_
#define MICROBLOG_TESTS_SUPPORT_PODMAN_H_

#include <chrono>
#include <string>
#include <vector>

#include "support/child_process.h"

namespace microblog {
namespace test_support {

// `podman ARGS...` until it exits or `timeout` passes (then killed,
// exit_code -1). stdout and stderr interleaved.
RunResult Podman(const std::vector<std::string>& args,
                 std::chrono::milliseconds timeout = std::chrono::minutes(2));

// The same; throws unless podman exits 0. Returns its output without the
// trailing newline.
std::string PodmanOrThrow(const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout = std::chrono::minutes(2));

// A podman bridge network of our own, removed (with any container still on
// it) by the destructor.
class PodmanNetwork {
 public:
  PodmanNetwork();
  ~PodmanNetwork();
  PodmanNetwork(const PodmanNetwork&) = delete;
  PodmanNetwork& operator=(const PodmanNetwork&) = delete;

  const std::string& name() const { return name_; }
  // e.g. "10.89.3.0/24" and "10.89.3.1" (the host's address on it).
  const std::string& subnet() const { return subnet_; }
  const std::string& gateway() const { return gateway_; }
  // The address `host_number` of the subnet (a /24 or larger): for static
  // addresses, e.g. Address(201) = "10.89.3.201".
  std::string Address(int host_number) const;

 private:
  std::string name_;
  std::string subnet_;
  std::string gateway_;
};

// The address of container `name` on `network`; empty while it has none.
std::string ContainerIp(const std::string& name, const std::string& network);

// `podman inspect --format FORMAT NAME`; empty when the container is gone.
std::string InspectContainer(const std::string& name, const std::string& format);

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_PODMAN_H_
