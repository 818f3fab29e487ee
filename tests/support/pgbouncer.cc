#include "support/pgbouncer.h"

#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <pqxx/pqxx>

#include "support/read_file.h"
namespace microblog {
namespace test_support {
namespace {

constexpr char kDefaultPgBouncerBin[] = "/usr/sbin/pgbouncer";
// Only the socket's file name (.s.PGSQL.6432): nothing listens on TCP.
constexpr int kPort = 6432;
constexpr std::chrono::seconds kStartTimeout(30);

std::string PgBouncerBin() {
  const char* from_env = std::getenv("PGBOUNCER_BIN");
  return (from_env != nullptr && *from_env != '\0') ? from_env : kDefaultPgBouncerBin;
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
  if (!out) throw std::runtime_error("cannot write " + path);
}

// PgBouncer must not run as root; it switches to `user` itself. The files
// it writes (log, pid) go to a dir that user owns.
void ChownToPostgres(const std::string& path) {
  passwd* pw = getpwnam("postgres");
  if (pw == nullptr) throw std::runtime_error("running as root but there is no `postgres` OS user");
  if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    throw std::runtime_error("cannot chown " + path + " to postgres");
  }
}

}  // namespace

PgBouncer::PgBouncer(std::string dir) : dir_(std::move(dir)) {}

std::unique_ptr<PgBouncer> PgBouncer::Start(const PgCluster& cluster, PgBouncerOptions options) {
  char dir_template[] = "/tmp/mbpgb-XXXXXX";
  if (mkdtemp(dir_template) == nullptr)
    throw std::runtime_error("mkdtemp /tmp/mbpgb-XXXXXX failed");
  // From here on the destructor cleans up the directory, whatever fails.
  std::unique_ptr<PgBouncer> bouncer(new PgBouncer(dir_template));
  const std::string& dir = bouncer->dir_;
  const bool root = geteuid() == 0;

  std::string users;
  for (const std::string& user : options.users) users += "\"" + user + "\" \"\"\n";
  WriteFile(dir + "/userlist.txt", users);
  std::ostringstream ini;
  ini << "[databases]\n"
      << "* = host=" << cluster.socket_dir() << " connect_query='SET statement_timeout = 10000'\n"
      << "[pgbouncer]\n"
      << "unix_socket_dir = " << dir << "\n"
      << "listen_port = " << kPort << "\n"
      << "auth_type = trust\n"
      << "auth_file = " << dir << "/userlist.txt\n"
      << "pool_mode = transaction\n"
      << "default_pool_size = " << options.default_pool_size << "\n"
      << "max_client_conn = 1000\n"
      << "query_wait_timeout = " << options.query_wait_timeout_s
      << "\n"
      // A database restart: reconnect soon after it is back, not after 15 s.
      << "server_login_retry = 1\n"
      << "logfile = " << dir << "/pgbouncer.log\n"
      << "pidfile = " << dir << "/pgbouncer.pid\n"
      << "admin_users = postgres\n";
  if (root) ini << "user = postgres\n";
  WriteFile(dir + "/pgbouncer.ini", ini.str());
  if (root) {
    for (const char* name : {"", "/userlist.txt", "/pgbouncer.ini"}) ChownToPostgres(dir + name);
  }

  bouncer->process_ = std::make_unique<ChildProcess>(
      PgBouncerBin(), std::vector<std::string>{dir + "/pgbouncer.ini"}, EnvVars{}, dir);
  bouncer->StartWatchdog();
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  for (;;) {
    if (!bouncer->process_->Running()) {
      throw std::runtime_error("pgbouncer exited at start-up:\n" + bouncer->process_->ReadOutput() +
                               "\n" + bouncer->Log());
    }
    try {
      pqxx::connection connection(bouncer->UrlFor("postgres", "postgres"));
      pqxx::nontransaction tx(connection);
      tx.exec("SELECT 1");
      return bouncer;
    } catch (const std::exception& e) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error(std::string("pgbouncer does not answer: ") + e.what() + "\n" +
                                 bouncer->Log());
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

PgBouncer::~PgBouncer() {
  process_.reset();  // SIGKILL and reap
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string PgBouncer::UrlFor(const std::string& db, const std::string& user) const {
  return "postgresql:///" + db + "?host=" + dir_ + "&port=" + std::to_string(kPort) +
         "&user=" + user;
}

std::string PgBouncer::Log() const { return ReadFile(dir_ + "/pgbouncer.log"); }

void PgBouncer::StartWatchdog() const {
  // As PgCluster's: a detached shell that, once this process is gone and the
  // directory still exists, kills PgBouncer and removes the directory.
  static constexpr char kWatch[] =
      "owner=$1; dir=$2; pid=$3;"
      "while kill -0 \"$owner\" 2>/dev/null && [ -d \"$dir\" ]; do sleep 1; done;"
      "if [ -d \"$dir\" ]; then kill -9 \"$pid\" 2>/dev/null; rm -rf \"$dir\"; fi";
  static constexpr char kLaunch[] =
      "w=$1; shift; setsid sh -c \"$w\" pgbouncer-watchdog \"$@\" </dev/null >/dev/null 2>&1 &";
  RunResult launched = RunToCompletion("sh",
                                       {"-c", kLaunch, "launcher", kWatch, std::to_string(getpid()),
                                        dir_, std::to_string(process_->pid())},
                                       {}, std::chrono::seconds(30));
  if (launched.exit_code != 0) {
    throw std::runtime_error("cannot start the pgbouncer watchdog: " + launched.output);
  }
}

}  // namespace test_support
}  // namespace microblog
