// Child processes for tests that drive the real binaries (migrate, the services).
//
// A ChildProcess spawns one binary with extra environment variables, captures its
// stdout and stderr (interleaved, in one file), and lets a test signal it and wait
// for it with a timeout. The destructor SIGKILLs and reaps a child that is still
// running, so a failing test never leaks processes.
//
//   microblog::test_support::ChildProcess child(MIGRATE_BIN, {"status"},
//                                           {{"USER_DATABASE_URL", url}});
//   std::optional<int> code = child.WaitExit(std::chrono::seconds(30));
//   ASSERT_EQ(code, 0) << child.ReadOutput();
//
// For the common "run it and give me the exit code and output" case use
// RunToCompletion(). Not thread-safe: use one ChildProcess from one thread.
#ifndef MICROBLOG_TESTS_SUPPORT_CHILD_PROCESS_H_
#define MICROBLOG_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace microblog {
namespace test_support {

// Environment entries added to (or overriding) the test's own environment.
using EnvVars = std::map<std::string, std::string>;

class ChildProcess {
 public:
  // Spawns `path` (looked up in PATH when it has no '/') with `args` (argv[1..]),
  // the current environment plus `env`, and `working_dir` as its current
  // directory (empty: inherit ours). stdout and stderr both go to a fresh temp
  // file, removed by the destructor. Throws std::runtime_error if the process
  // cannot be spawned (e.g. the binary does not exist).
  ChildProcess(const std::string& path, const std::vector<std::string>& args,
               const EnvVars& env = {}, const std::string& working_dir = "");
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The file collecting the child's stdout and stderr.
  const std::string& output_path() const { return output_path_; }
  // Everything the child wrote so far (it may still be running).
  std::string ReadOutput() const;

  // Sends `signal` to the child; a no-op once it has been reaped.
  void Signal(int signal);

  // Waits up to `timeout` for the child to exit. Returns its exit code, or
  // 128 + signal number when a signal killed it (the shell's convention), or
  // std::nullopt if it is still running after `timeout`. Once the child has
  // exited, later calls return the same value immediately.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);

  // True while the child has not been reaped (checks without blocking).
  bool Running();

 private:
  bool TryReap();

  pid_t pid_ = -1;
  std::string output_path_;
  std::optional<int> exit_code_;
};

// What a finished process left behind.
struct RunResult {
  // Exit code (128 + signal when killed by one); -1 when it hit the timeout
  // and was killed by RunToCompletion.
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
};

// Runs `path` with `args` and `env` (as ChildProcess) until it exits or
// `timeout` passes (then SIGKILLs it). Throws if it cannot be spawned.
RunResult RunToCompletion(const std::string& path, const std::vector<std::string>& args,
                          const EnvVars& env = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60),
                          const std::string& working_dir = "");

// A TCP port on 127.0.0.1 that was free a moment ago: the kernel picks it for a
// bound socket which is then closed. Another process may grab it meanwhile, so
// use it right away. Throws std::runtime_error on socket errors.
int FreeTcpPort();

}  // namespace test_support
}  // namespace microblog

#endif  // MICROBLOG_TESTS_SUPPORT_CHILD_PROCESS_H_
