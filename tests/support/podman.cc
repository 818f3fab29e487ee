#include "support/podman.h"

#include <unistd.h>

#include <sstream>
#include <stdexcept>

namespace microblog {
namespace test_support {
namespace {

std::string TrimTrailingNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string CommandLine(const std::vector<std::string>& args) {
  std::string line = "podman";
  for (const std::string& arg : args) line += " " + arg;
  return line;
}

}  // namespace

RunResult Podman(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  return RunToCompletion("podman", args, {}, timeout);
}

std::string PodmanOrThrow(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  RunResult result = Podman(args, timeout);
  if (result.exit_code != 0) {
    throw std::runtime_error(CommandLine(args) + " failed (exit " +
                             std::to_string(result.exit_code) + "):\n" + result.output);
  }
  return TrimTrailingNewlines(result.output);
}

PodmanNetwork::PodmanNetwork() {
  static int counter = 0;
  name_ = "mbimg-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
  PodmanOrThrow({"network", "create", name_});
  std::istringstream facts(PodmanOrThrow({"network", "inspect", name_, "--format",
                                          "{{range .Subnets}}{{.Subnet}} {{.Gateway}}{{end}}"}));
  facts >> subnet_ >> gateway_;
  if (subnet_.empty() || gateway_.empty()) {
    throw std::runtime_error("podman network " + name_ + " has no IPv4 subnet and gateway");
  }
}

PodmanNetwork::~PodmanNetwork() { Podman({"network", "rm", "--force", name_}); }

std::string PodmanNetwork::Address(int host_number) const {
  std::string base = subnet_.substr(0, subnet_.find('/'));
  return base.substr(0, base.rfind('.') + 1) + std::to_string(host_number);
}

std::string ContainerIp(const std::string& name, const std::string& network) {
  return InspectContainer(
      name, "{{with index .NetworkSettings.Networks \"" + network + "\"}}{{.IPAddress}}{{end}}");
}

std::string InspectContainer(const std::string& name, const std::string& format) {
  RunResult result = Podman({"inspect", "--type", "container", "--format", format, name});
  if (result.exit_code != 0) return "";
  return TrimTrailingNewlines(result.output);
}

}  // namespace test_support
}  // namespace microblog
