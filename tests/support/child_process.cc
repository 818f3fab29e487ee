#include "support/child_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/read_file.h"

extern char** environ;

namespace microblog {
namespace test_support {
namespace {

std::string ErrnoMessage(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

// Builds "KEY=VALUE" strings: our environment with `extra` overriding it.
std::vector<std::string> MergedEnvironment(const EnvVars& extra) {
  std::vector<std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string line(*entry);
    std::string key = line.substr(0, line.find('='));
    if (extra.count(key) == 0) merged.push_back(std::move(line));
  }
  for (const auto& [key, value] : extra) merged.push_back(key + "=" + value);
  return merged;
}

std::vector<char*> CStringArray(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// posix_spawn file actions and attributes, released on every path out.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attr() { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

}  // namespace

ChildProcess::ChildProcess(const std::string& path, const std::vector<std::string>& args,
                           const EnvVars& env, const std::string& working_dir) {
  char name_template[] = "/tmp/mbchild-XXXXXX";
  int fd = mkstemp(name_template);
  if (fd < 0) throw std::runtime_error(ErrnoMessage("mkstemp for child output", errno));
  close(fd);
  output_path_ = name_template;

  SpawnSetup setup;
  posix_spawn_file_actions_addopen(setup.actions(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(setup.actions(), STDOUT_FILENO, output_path_.c_str(),
                                   O_WRONLY | O_APPEND, 0);
  posix_spawn_file_actions_adddup2(setup.actions(), STDOUT_FILENO, STDERR_FILENO);
  if (!working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(setup.actions(), working_dir.c_str());
  }
  // The child must not inherit signals the test runner blocks or ignores.
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigfillset(&defaults);
  posix_spawnattr_setsigmask(setup.attr(), &none);
  posix_spawnattr_setsigdefault(setup.attr(), &defaults);
  posix_spawnattr_setflags(setup.attr(), POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> argv_strings;
  argv_strings.push_back(path);
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<std::string> env_strings = MergedEnvironment(env);
  std::vector<char*> argv = CStringArray(argv_strings);
  std::vector<char*> envp = CStringArray(env_strings);

  int err =
      posix_spawnp(&pid_, path.c_str(), setup.actions(), setup.attr(), argv.data(), envp.data());
  if (err != 0) {
    pid_ = -1;
    std::remove(output_path_.c_str());
    throw std::runtime_error(ErrnoMessage("cannot spawn " + path, err));
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_code_.has_value()) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (!output_path_.empty()) std::remove(output_path_.c_str());
}

std::string ChildProcess::ReadOutput() const { return ReadFile(output_path_); }

void ChildProcess::Signal(int signal) {
  if (pid_ > 0 && !exit_code_.has_value()) kill(pid_, signal);
}

bool ChildProcess::TryReap() {
  if (exit_code_.has_value()) return true;
  int status = 0;
  pid_t reaped = waitpid(pid_, &status, WNOHANG);
  if (reaped == pid_) {
    exit_code_ = DecodeWaitStatus(status);
    return true;
  }
  return false;
}

bool ChildProcess::Running() { return !TryReap(); }

std::optional<int> ChildProcess::WaitExit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Polling keeps this free of SIGCHLD handlers, which would interfere with
  // other children the test binary may own.
  while (!TryReap()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return exit_code_;
}

RunResult RunToCompletion(const std::string& path, const std::vector<std::string>& args,
                          const EnvVars& env, std::chrono::milliseconds timeout,
                          const std::string& working_dir) {
  ChildProcess child(path, args, env, working_dir);
  RunResult result;
  std::optional<int> code = child.WaitExit(timeout);
  if (!code.has_value()) {
    child.Signal(SIGKILL);
    child.WaitExit(std::chrono::seconds(10));
    result.exit_code = -1;
    result.output = child.ReadOutput() + "\n[killed after timeout]\n";
    return result;
  }
  result.exit_code = *code;
  result.output = child.ReadOutput();
  return result;
}

int FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error(ErrnoMessage("socket", errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    close(fd);
    throw std::runtime_error(ErrnoMessage("bind 127.0.0.1:0", err));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace test_support
}  // namespace microblog
