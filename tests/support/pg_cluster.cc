#include "support/pg_cluster.h"

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

#include "support/child_process.h"
#include "support/read_file.h"

namespace microblog {
namespace test_support {
namespace {

constexpr char kDefaultPgBinDir[] = "/usr/lib/postgresql/15/bin";
constexpr char kSuperuser[] = "postgres";
constexpr std::chrono::seconds kPgToolTimeout(60);

std::string PgBinDir() {
  const char* from_env = std::getenv("PG_BIN_DIR");
  return (from_env != nullptr && *from_env != '\0') ? from_env : kDefaultPgBinDir;
}

bool RunningAsRoot() { return geteuid() == 0; }

// Gives the `postgres` OS user the directory tree, so that initdb run as that
// user can write into it.
void ChownToPostgres(const std::string& dir) {
  passwd* pw = getpwnam("postgres");
  if (pw == nullptr) {
    throw std::runtime_error("running as root but there is no `postgres` OS user to run initdb as");
  }
  if (chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    throw std::runtime_error("cannot chown " + dir + " to postgres");
  }
}

}  // namespace

PgCluster::PgCluster(std::string dir) : dir_(std::move(dir)) {}

std::unique_ptr<PgCluster> PgCluster::MakeDir() {
  char dir_template[] = "/tmp/mbpg-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    throw std::runtime_error("mkdtemp /tmp/mbpg-XXXXXX failed");
  }
  // From here on the destructor cleans up the directory, whatever fails.
  std::unique_ptr<PgCluster> cluster(new PgCluster(dir_template));
  if (RunningAsRoot()) ChownToPostgres(cluster->dir_);
  cluster->StartWatchdog();
  return cluster;
}

std::unique_ptr<PgCluster> PgCluster::Start() { return Start(TcpListen{}); }

std::unique_ptr<PgCluster> PgCluster::Start(const TcpListen& tcp) {
  std::unique_ptr<PgCluster> cluster = MakeDir();

  std::string output;
  int code = cluster->RunPgTool("initdb",
                                {"-D", cluster->dir_ + "/data", "-U", kSuperuser, "--auth=trust",
                                 "-E", "UTF8", "--locale=C", "--no-sync"},
                                &output);
  if (code != 0) {
    throw std::runtime_error("initdb failed (exit " + std::to_string(code) + "):\n" + output);
  }
  if (!tcp.address.empty()) {
    std::ofstream hba(cluster->dir_ + "/data/pg_hba.conf", std::ios::app);
    hba << "host all all " << tcp.trusted_cidr << " trust\n";
    if (!hba) throw std::runtime_error("cannot append to pg_hba.conf");
    cluster->listen_address_ = tcp.address;
    cluster->tcp_port_ = FreeTcpPort();
  }
  cluster->StartServer();
  return cluster;
}

PgCluster::~PgCluster() {
  if (running_) {
    std::string ignored;
    RunPgTool("pg_ctl", {"-D", dir_ + "/data", "-m", "immediate", "-w", "stop"}, &ignored);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

int PgCluster::RunPgTool(const std::string& tool, const std::vector<std::string>& args,
                         std::string* output) const {
  std::vector<std::string> argv = PgToolCommand(tool);
  const std::string program = argv.front();
  argv.erase(argv.begin());
  argv.insert(argv.end(), args.begin(), args.end());
  // Run inside the cluster dir: postgres' tools complain about a current
  // directory they cannot read (e.g. root's home).
  RunResult result = RunToCompletion(program, argv, {}, kPgToolTimeout, dir_);
  *output = result.output;
  return result.exit_code;
}

std::vector<std::string> PgCluster::PgToolCommand(const std::string& tool) const {
  std::string binary = PgBinDir() + "/" + tool;
  if (RunningAsRoot()) return {"runuser", "-u", "postgres", "--", binary};
  return {binary};
}

void PgCluster::StartWatchdog() const {
  // A detached shell that outlives us: once this process is gone (killed by a
  // ctest timeout, a crash, SIGKILL) and the directory still exists, it stops
  // the server and removes the directory. After a normal ~PgCluster() it
  // finds the directory gone and exits.
  static constexpr char kWatch[] =
      "owner=$1; dir=$2; shift 2;"
      "while kill -0 \"$owner\" 2>/dev/null && [ -d \"$dir\" ]; do sleep 1; done;"
      "if [ -d \"$dir\" ]; then"
      "  \"$@\" -D \"$dir/data\" -m immediate -w stop >/dev/null 2>&1; rm -rf \"$dir\";"
      "fi";
  // The launcher backgrounds the watchdog in its own session and exits, so the
  // watchdog is nobody's child we must reap, and no process-tree kill finds it.
  static constexpr char kLaunch[] =
      "w=$1; shift; setsid sh -c \"$w\" pg-watchdog \"$@\" </dev/null >/dev/null 2>&1 &";
  std::vector<std::string> args = {"-c", kLaunch, "launcher", kWatch, std::to_string(getpid()),
                                   dir_};
  for (std::string& part : PgToolCommand("pg_ctl")) args.push_back(std::move(part));
  RunResult launched = RunToCompletion("sh", args, {}, kPgToolTimeout);
  if (launched.exit_code != 0) {
    throw std::runtime_error("cannot start the cluster watchdog: " + launched.output);
  }
}

void PgCluster::StartServer() {
  std::string options = "-c listen_addresses='" + listen_address_ +
                        "' -c unix_socket_directories='" + dir_ +
                        "' -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                        " -c max_connections=200";
  if (tcp_port_ != 0) options += " -c port=" + std::to_string(tcp_port_);
  std::string output;
  int code = RunPgTool(
      "pg_ctl", {"-D", dir_ + "/data", "-l", dir_ + "/server.log", "-o", options, "-w", "start"},
      &output);
  if (code != 0) {
    throw std::runtime_error("pg_ctl start failed (exit " + std::to_string(code) + "):\n" + output +
                             "\nserver log:\n" + ReadFile(dir_ + "/server.log"));
  }
  running_ = true;
}

void PgCluster::Stop() {
  std::string output;
  int code = RunPgTool("pg_ctl", {"-D", dir_ + "/data", "-m", "fast", "-w", "stop"}, &output);
  if (code != 0) {
    throw std::runtime_error("pg_ctl stop failed (exit " + std::to_string(code) + "):\n" + output);
  }
  running_ = false;
}

void PgCluster::Restart() { StartServer(); }

std::string PgCluster::UrlFor(const std::string& db, const std::string& user) const {
  // The socket's name carries the port: give it when it is not the default.
  std::string url = "postgresql:///" + db + "?host=" + dir_ + "&user=" + user;
  if (tcp_port_ != 0) url += "&port=" + std::to_string(tcp_port_);
  return url;
}

std::string PgCluster::SuperuserUrl(const std::string& db) const { return UrlFor(db, kSuperuser); }

std::string PgCluster::CreateDatabase(const std::string& db) {
  pqxx::connection conn(SuperuserUrl());
  pqxx::nontransaction tx(conn);
  tx.exec("CREATE DATABASE " + tx.quote_name(db));
  return SuperuserUrl(db);
}

std::string PgCluster::CreateRole(const std::string& role, const std::string& db) {
  pqxx::connection conn(SuperuserUrl());
  pqxx::nontransaction tx(conn);
  tx.exec("CREATE ROLE " + tx.quote_name(role) + " LOGIN");
  return UrlFor(db, role);
}

void PgCluster::Exec(const std::string& db, const std::string& sql) {
  pqxx::connection conn(SuperuserUrl(db));
  pqxx::nontransaction tx(conn);
  tx.exec(sql);
}

std::string PgCluster::Query(const std::string& db, const std::string& sql) const {
  pqxx::connection conn(SuperuserUrl(db));
  pqxx::nontransaction tx(conn);
  const pqxx::result result = tx.exec(sql);
  if (result.empty() || result[0][0].is_null()) return "";
  return result[0][0].as<std::string>();
}

std::unique_ptr<PgCluster> PgCluster::StartReplica(std::chrono::milliseconds apply_delay) {
  std::unique_ptr<PgCluster> replica = MakeDir();
  std::string output;
  const int code =
      replica->RunPgTool("pg_basebackup",
                         {"-D", replica->dir_ + "/data", "-R", "-X", "stream", "--no-sync", "-c",
                          "fast", "-d", "host=" + dir_ + " user=" + kSuperuser},
                         &output);
  if (code != 0) {
    throw std::runtime_error("pg_basebackup failed (exit " + std::to_string(code) + "):\n" +
                             output);
  }
  if (apply_delay.count() > 0) {
    std::ofstream conf(replica->dir_ + "/data/postgresql.conf", std::ios::app);
    conf << "\nrecovery_min_apply_delay = '" << apply_delay.count() << "ms'\n";
    if (!conf) throw std::runtime_error("cannot append to the replica's postgresql.conf");
  }
  replica->StartServer();
  return replica;
}

bool PgCluster::WaitForReplay(const PgCluster& primary, std::chrono::milliseconds timeout) const {
  // The insert position: with synchronous_commit=off (as here) the write
  // position may still be short of a commit that returned.
  const std::string target = primary.Query("postgres", "SELECT pg_current_wal_insert_lsn()::text");
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::string reached =
        Query("postgres", "SELECT pg_last_wal_replay_lsn() >= '" + target + "'::pg_lsn");
    if (reached == "t") return true;
    if (std::chrono::steady_clock::now() >= give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace test_support
}  // namespace microblog
