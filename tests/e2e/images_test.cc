// The container images, built by deploy/images.sh from deploy/Dockerfile,
// run for real with podman (CTest label `images`; the fixture test
// images.build builds them first):
//
//   images.containers  (ImagesContainersTest.*) the migrate image runs
//       `migrate up` as the Job does and `migrate wait` as the init
//       containers do, against a real PostgreSQL on the host; both service
//       images run with the manifests' settings and their security context
//       as podman flags (read-only root, a tmpfs /tmp like the emptyDir, all
//       capabilities dropped, no new privileges, uid 10001); the README's
//       grpcurl flow, reflection, health and metrics through them; SIGTERM
//       drains and exits 0 within the grace period; the images' hygiene (no
//       compilers or -dev packages, USER 10001, migrations/ only in migrate).
//   images.kube_play  (ImagesKubePlayTest.*) the rendered dev overlay's
//       Deployments (and its migration Job as a Pod) under `podman kube
//       play`, rewritten only where kube play cannot take them
//       (deploy/tests/kube_play_manifests.mjs says what it rewrites); both
//       pods become ready, publish no host port, and the same flow passes
//       through their ports.
//
// Each test has its own podman network; PostgreSQL (tests/support/
// pg_cluster.h) listens on the host and trusts that network's subnet, and
// the test reaches the containers at their addresses on it. kube play names
// pods after the Deployments, so images.kube_play holds a machine-wide lock
// (/tmp/microblog-images-kube-play.lock) while it plays them.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/child_process.h"
#include "support/eventually.h"
#include "support/http_get.h"
#include "support/pg_cluster.h"
#include "support/podman.h"
#include "support/read_file.h"
#include "support/temp_dir.h"
#include "support/test_tokens.h"

namespace microblog::test_support {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// grpcurl's exit status for a failed call: 64 + the gRPC code.
constexpr int kExitPermissionDenied = 64 + 7;
constexpr int kExitUnauthenticated = 64 + 16;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// The newest version (the NNNN of NNNN_*.up.sql) of migrations/<target>.
std::string NewestMigration(const std::string& target) {
  std::string newest;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(MICROBLOG_SOURCE_DIR) +
                                                               "/migrations/" + target)) {
    std::string name = entry.path().filename().string();
    if (name.size() > 4 && name.find(".up.sql") != std::string::npos) {
      newest = std::max(newest, name.substr(0, 4));
    }
  }
  return newest;
}

// The files under migrations/ (relative paths), as the repository has them.
std::set<std::string> RepositoryMigrations() {
  std::set<std::string> files;
  const std::filesystem::path root = std::string(MICROBLOG_SOURCE_DIR) + "/migrations";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files.insert(entry.path().lexically_relative(root).string());
  }
  return files;
}

// The dev overlay rendered and rewritten for podman by
// deploy/tests/kube_play_manifests.mjs (see there), and the images it names.
struct Manifests {
  std::unique_ptr<TempDir> dir;
  std::string user_service_image;
  std::string post_service_image;
  std::string migrate_image;
  std::string rewrites;

  static Manifests Render(const std::string& database, const std::string& user_service_ip) {
    Manifests m;
    m.dir = std::make_unique<TempDir>("mbkube");
    RunResult result =
        RunToCompletion(NODE_BIN,
                        {KUBE_PLAY_MANIFESTS, "--overlay", DEV_OVERLAY, "--database", database,
                         "--user-service-ip", user_service_ip, "--out", m.dir->path().string()},
                        {{"MICROBLOG_NODE_MODULES", NODE_MODULES}, {"KUBECTL", KUBECTL_BIN}});
    if (result.exit_code != 0) {
      throw std::runtime_error("kube_play_manifests.mjs failed:\n" + result.output);
    }
    m.rewrites = ReadFile(m.file("rewrites.txt"));
    m.migrate_image = ImageIn(m.file("1-migrate.yaml"), "migrate");
    m.user_service_image = ImageIn(m.file("2-user-service.yaml"), "user-service");
    m.post_service_image = ImageIn(m.file("3-post-service.yaml"), "post-service");
    return m;
  }

  std::string file(const std::string& name) const { return (dir->path() / name).string(); }

  static std::string ImageIn(const std::string& file, const std::string& name) {
    std::smatch match;
    std::string text = ReadFile(file);
    if (!std::regex_search(text, match, std::regex("image: (microblog/" + name + ":\\S+)"))) {
      throw std::runtime_error(file + " names no microblog/" + name + " image");
    }
    return match[1];
  }

  // The pod's terminationGracePeriodSeconds in `file` (a rendered
  // Deployment): how long the kubelet waits after SIGTERM before SIGKILL.
  static int GracePeriodSecondsIn(const std::string& file) {
    std::smatch match;
    std::string text = ReadFile(file);
    if (!std::regex_search(text, match, std::regex("terminationGracePeriodSeconds: (\\d+)"))) {
      throw std::runtime_error(file + " sets no terminationGracePeriodSeconds");
    }
    return std::stoi(match[1]);
  }
};

// A cluster on the host that the containers of `network` reach at the
// gateway, with the databases and roles of the dev overlay: users and posts,
// owned by the superuser `migrator` (as the dev databases' image superuser),
// and the services' restricted roles. Trust authentication: the URLs'
// passwords are not checked.
std::unique_ptr<PgCluster> StartDatabases(const PodmanNetwork& network) {
  auto cluster = PgCluster::Start({"0.0.0.0", network.subnet()});
  cluster->Exec("postgres",
                "CREATE ROLE migrator LOGIN SUPERUSER; CREATE ROLE user_service LOGIN;"
                " CREATE ROLE post_service LOGIN;");
  cluster->Exec("postgres", "CREATE DATABASE users OWNER migrator");
  cluster->Exec("postgres", "CREATE DATABASE posts OWNER migrator");
  return cluster;
}

std::string DatabaseUrl(const PodmanNetwork& network, const PgCluster& cluster,
                        const std::string& role, const std::string& db) {
  return "postgresql://" + role + "@" + network.gateway() + ":" +
         std::to_string(cluster.tcp_port()) + "/" + db;
}

// The dev overlay's DEV-ONLY certificates (scripts/dev-ca.sh), as its
// Secrets hold them: deploy/k8s/overlays/dev/tls/<identity>/.
std::string DevTls(const std::string& identity, const std::string& file) {
  return std::string(MICROBLOG_SOURCE_DIR) + "/deploy/k8s/overlays/dev/tls/" + identity + "/" +
         file;
}

// grpcurl.py over mTLS [-d JSON] ADDRESS ARGS...: the services run the
// deployed TRANSPORT_SECURITY=mtls. The client presents post-service's dev
// certificate (an identity the policies allow everywhere, and not a
// privileged one: the ownership rules apply to it), and checks the
// server's against the dev CA under the name `localhost`, which every
// service certificate carries (the address is a container's IP).
RunResult Grpcurl(const std::string& address, const std::vector<std::string>& args,
                  const std::string& data = "", const std::string& token = "") {
  std::vector<std::string> argv = {GRPCURL_SCRIPT,
                                   "-cacert",
                                   DevTls("post-service", "ca.crt"),
                                   "-cert",
                                   DevTls("post-service", "tls.crt"),
                                   "-key",
                                   DevTls("post-service", "tls.key"),
                                   "-servername",
                                   "localhost"};
  if (!token.empty()) argv.insert(argv.end(), {"-H", "authorization: Bearer " + token});
  if (!data.empty()) argv.insert(argv.end(), {"-d", data});
  argv.push_back(address);
  argv.insert(argv.end(), args.begin(), args.end());
  return RunToCompletion("/usr/bin/python3", argv, {}, 60s);
}

bool Serving(const std::string& address) {
  RunResult health = Grpcurl(address, {"grpc.health.v1.Health/Check"});
  return health.exit_code == 0 && health.output.find("\"SERVING\"") != std::string::npos;
}

std::string IdIn(const std::string& output) {
  std::smatch match;
  if (!std::regex_search(output, match, std::regex(R"re("id":\s*"(\d+)")re"))) return "";
  return match[1];
}

// The README's grpcurl session against user-service at `users` and
// post-service at `posts`; `tag` keeps usernames apart between callers.
void ExpectReadmeFlow(const std::string& users, const std::string& posts, const std::string& tag) {
  const std::string name = "ada" + tag;
  RunResult created = Grpcurl(users, {"microblog.user.v1.UserService/CreateUser"},
                              R"({"username": ")" + name + R"(", "email": ")" + name +
                                  R"(@example.com", "password": "correct horse battery"})");
  ASSERT_EQ(created.exit_code, 0) << created.output;
  const std::string id = IdIn(created.output);
  ASSERT_FALSE(id.empty()) << created.output;

  RunResult got =
      Grpcurl(users, {"microblog.user.v1.UserService/GetUser"}, R"({"id": ")" + id + R"("})");
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_THAT(got.output, HasSubstr(name));
  RunResult looked = Grpcurl(users, {"microblog.user.v1.UserService/LookupUser"},
                             R"({"username": ")" + name + R"("})");
  ASSERT_EQ(looked.exit_code, 0) << looked.output;
  EXPECT_EQ(IdIn(looked.output), id);
  RunResult listed =
      Grpcurl(users, {"microblog.user.v1.UserService/ListUsers"}, R"({"page_size": 10})");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_THAT(listed.output, HasSubstr(name));
  RunResult verified =
      Grpcurl(users, {"microblog.user.v1.UserService/VerifyPassword"},
              R"({"login": ")" + name + R"(", "password": "correct horse battery"})");
  ASSERT_EQ(verified.exit_code, 0) << verified.output;
  std::smatch token;
  ASSERT_TRUE(
      std::regex_search(verified.output, token, std::regex(R"re("accessToken":\s*"([^"]+)")re")))
      << verified.output;
  RunResult refused = Grpcurl(users, {"microblog.user.v1.UserService/VerifyPassword"},
                              R"({"login": ")" + name + R"(", "password": "wrong"})");
  EXPECT_EQ(refused.exit_code, kExitUnauthenticated) << refused.output;

  for (const std::string& address : {users, posts}) {
    RunResult health = Grpcurl(address, {"grpc.health.v1.Health/Check"});
    EXPECT_EQ(health.exit_code, 0) << health.output;
    EXPECT_THAT(health.output, HasSubstr("SERVING"));
  }

  RunResult post =
      Grpcurl(posts, {"microblog.post.v1.PostService/CreatePost"},
              R"({"user_id": ")" + id + R"(", "body": "Hello, microblog!"})", token[1]);
  ASSERT_EQ(post.exit_code, 0) << post.output;
  RunResult list = Grpcurl(posts, {"microblog.post.v1.PostService/ListPosts"},
                           R"({"user_id": ")" + id + R"("})");
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("Hello, microblog!"));

  // Without a token, and for someone else with ada's: refused.
  RunResult anonymous = Grpcurl(posts, {"microblog.post.v1.PostService/CreatePost"},
                                R"({"user_id": ")" + id + R"(", "body": "no token"})");
  EXPECT_EQ(anonymous.exit_code, kExitUnauthenticated) << anonymous.output;
  RunResult nobody = Grpcurl(posts, {"microblog.post.v1.PostService/CreatePost"},
                             R"({"user_id": "999999999", "body": "nobody wrote this"})", token[1]);
  EXPECT_EQ(nobody.exit_code, kExitPermissionDenied) << nobody.output;
  EXPECT_THAT(nobody.output, HasSubstr("Code: PermissionDenied"));

  RunResult user_list = Grpcurl(users, {"list"});
  ASSERT_EQ(user_list.exit_code, 0) << user_list.output;
  EXPECT_THAT(user_list.output, HasSubstr("microblog.user.v1.UserService"));
  EXPECT_THAT(user_list.output, HasSubstr("grpc.health.v1.Health"));
  RunResult post_list = Grpcurl(posts, {"list"});
  ASSERT_EQ(post_list.exit_code, 0) << post_list.output;
  EXPECT_THAT(post_list.output, HasSubstr("microblog.post.v1.PostService"));
  RunResult described = Grpcurl(posts, {"describe", "microblog.post.v1.PostService"});
  ASSERT_EQ(described.exit_code, 0) << described.output;
  EXPECT_THAT(described.output, HasSubstr("CreatePost"));
}

// What the kernel says about the container's main process (pid 1 in its
// pid namespace): uid, effective capabilities, no_new_privs; and that its
// root filesystem refuses writes (even root's, who owns /) while /tmp takes
// them.
void ExpectLockedDown(const std::string& container) {
  std::string status = PodmanOrThrow({"exec", container, "cat", "/proc/1/status"});
  EXPECT_THAT(status, HasSubstr("Uid:\t10001\t10001\t10001\t10001")) << status;
  EXPECT_THAT(status, HasSubstr("Gid:\t10001\t10001\t10001\t10001")) << status;
  EXPECT_THAT(status, HasSubstr("CapEff:\t0000000000000000")) << status;
  EXPECT_THAT(status, HasSubstr("CapBnd:\t0000000000000000")) << status;
  EXPECT_THAT(status, HasSubstr("NoNewPrivs:\t1")) << status;
  RunResult root_write = Podman({"exec", "--user", "0", container, "touch", "/x"});
  EXPECT_NE(root_write.exit_code, 0);
  EXPECT_THAT(root_write.output, HasSubstr("Read-only file system"));
  RunResult tmp_write = Podman({"exec", container, "touch", "/tmp/x"});
  EXPECT_EQ(tmp_write.exit_code, 0) << tmp_write.output;
  EXPECT_EQ(InspectContainer(container, "{{.HostConfig.ReadonlyRootfs}}"), "true");
}

// --- images.containers ----------------------------------------------------

// The manifests' security context as `podman run` flags: uid/gid 10001,
// read-only root (without podman's extra tmpfs mounts: /tmp is the only
// writable path, as the emptyDir of the Deployments), no capabilities, no
// new privileges.
std::vector<std::string> LockedDownFlags() {
  return {"--user",     "10001:10001", "--read-only",    "--read-only-tmpfs=false",
          "--cap-drop", "ALL",         "--security-opt", "no-new-privileges"};
}

class ImagesContainersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    network_ = new PodmanNetwork();
    cluster_ = StartDatabases(*network_).release();
    manifests_ = new Manifests(Manifests::Render(
        network_->gateway() + ":" + std::to_string(cluster_->tcp_port()), "unused"));
  }
  static void TearDownTestSuite() {
    for (const std::string& name : started_) Podman({"rm", "--force", "--time", "0", name});
    delete manifests_;
    delete cluster_;
    delete network_;
  }

  static std::string Name(const std::string& what) { return network_->name() + "-" + what; }

  // podman run --rm of the migrate image as the Job / init containers run it.
  static RunResult RunMigrate(const std::vector<std::string>& args, const EnvVars& env) {
    std::vector<std::string> argv = {"run", "--rm", "--network", network_->name()};
    for (const std::string& flag : LockedDownFlags()) argv.push_back(flag);
    for (const auto& [k, v] : env) argv.insert(argv.end(), {"--env", k + "=" + v});
    argv.push_back(manifests_->migrate_image);
    argv.insert(argv.end(), args.begin(), args.end());
    return Podman(argv, 3min);
  }

  // Starts a service image detached with the rendered env of its container
  // (+ `env`) and the locked-down flags; returns "IP:PORT" of its gRPC port
  // once Health/Check says SERVING.
  static std::string StartService(const std::string& name, const std::string& image,
                                  const std::string& env_file, const EnvVars& env,
                                  const std::vector<std::string>& extra, int port) {
    std::vector<std::string> argv = {
        "run",        "--detach",       "--name",  name,
        "--network",  network_->name(), "--tmpfs", "/tmp:rw,size=16m,mode=1777",
        "--env-file", env_file};
    for (const std::string& flag : LockedDownFlags()) argv.push_back(flag);
    for (const auto& [k, v] : env) argv.insert(argv.end(), {"--env", k + "=" + v});
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(image);
    started_.push_back(name);
    PodmanOrThrow(argv);
    std::string ip;
    EXPECT_TRUE(
        Eventually([&] { return !(ip = ContainerIp(name, network_->name())).empty(); }, 60s));
    const std::string address = ip + ":" + std::to_string(port);
    if (!Eventually([&] { return Serving(address); }, 120s)) {
      throw std::runtime_error(name + " never became SERVING at " + address + ":\n" +
                               Podman({"logs", name}).output);
    }
    return address;
  }

  static PodmanNetwork* network_;
  static PgCluster* cluster_;
  static Manifests* manifests_;
  static std::vector<std::string> started_;
};
PodmanNetwork* ImagesContainersTest::network_ = nullptr;
PgCluster* ImagesContainersTest::cluster_ = nullptr;
Manifests* ImagesContainersTest::manifests_ = nullptr;
std::vector<std::string> ImagesContainersTest::started_;

TEST_F(ImagesContainersTest, MigrateThenServeTheReadmeFlowLockedDownThenDrainOnSigterm) {
  const std::string users_as_owner = DatabaseUrl(*network_, *cluster_, "migrator", "users");
  const std::string posts_as_owner = DatabaseUrl(*network_, *cluster_, "migrator", "posts");
  const std::string users_as_service = DatabaseUrl(*network_, *cluster_, "user_service", "users");
  const std::string posts_as_service = DatabaseUrl(*network_, *cluster_, "post_service", "posts");

  // The Job: migrate up --target all with the owner's URLs.
  RunResult up = RunMigrate({"up", "--target", "all"}, {{"USER_DATABASE_URL", users_as_owner},
                                                        {"POST_DATABASE_URL", posts_as_owner}});
  ASSERT_EQ(up.exit_code, 0) << up.output;
  // The init containers: migrate wait with the services' own roles.
  RunResult user_wait = RunMigrate(
      {"wait", "--version", NewestMigration("user"), "--target", "user", "--timeout", "60"},
      {{"USER_DATABASE_URL", users_as_service}});
  EXPECT_EQ(user_wait.exit_code, 0) << user_wait.output;
  RunResult post_wait = RunMigrate(
      {"wait", "--version", NewestMigration("post"), "--target", "post", "--timeout", "60"},
      {{"POST_DATABASE_URL", posts_as_service}});
  EXPECT_EQ(post_wait.exit_code, 0) << post_wait.output;
  // A database ahead of the version asked for fails at once (not a no-op).
  RunResult ahead = RunMigrate({"wait", "--version", "0001", "--target", "user", "--timeout", "60"},
                               {{"USER_DATABASE_URL", users_as_service}});
  EXPECT_NE(ahead.exit_code, 0) << ahead.output;

  const std::string user_name = Name("user-service");
  // The access tokens' key files where the manifests mount them (the
  // Secret user-service-token-key, the ConfigMap access-token-jwks).
  const TestKey& key = DefaultTestKey();
  const std::vector<std::string> jwks_mount = {"--volume",
                                               key.jwks_file + ":/etc/microblog/jwks/jwks.json:ro"};
  std::vector<std::string> user_mounts = jwks_mount;
  user_mounts.insert(
      user_mounts.end(),
      {"--volume", key.private_key_file + ":/etc/microblog/token-key/signing.pem:ro"});
  // mTLS: each service's dev certificate (the Secret <service>-tls) and
  // the dev overlay's policy (the ConfigMap <service>-authz-policy), where
  // the manifests mount them.
  const auto tls_mounts = [](const std::string& service) {
    return std::vector<std::string>{
        "--volume",
        std::string(MICROBLOG_SOURCE_DIR) + "/deploy/k8s/overlays/dev/tls/" + service +
            ":/etc/microblog/tls:ro",
        "--volume",
        std::string(MICROBLOG_SOURCE_DIR) + "/deploy/k8s/overlays/dev/authz/" + service +
            ".json:/etc/microblog/authz/policy.json:ro"};
  };
  for (const std::string& flag : tls_mounts("user-service")) user_mounts.push_back(flag);
  const std::string users = StartService(
      user_name, manifests_->user_service_image, manifests_->file("env-user-service.env"),
      {{"USER_DATABASE_URL", users_as_service}}, user_mounts, 50051);
  // post-service keeps the manifests' USER_SERVICE_ADDR (the headless
  // Service's name): --add-host resolves it to the user-service container.
  const std::string env_post = ReadFile(manifests_->file("env-post-service.env"));
  std::smatch host;
  ASSERT_TRUE(std::regex_search(env_post, host, std::regex("USER_SERVICE_ADDR=dns:///([^:]+):")));
  const std::string post_name = Name("post-service");
  std::vector<std::string> post_mounts = {
      "--add-host", std::string(host[1]) + ":" + users.substr(0, users.find(':')), jwks_mount[0],
      jwks_mount[1]};
  for (const std::string& flag : tls_mounts("post-service")) post_mounts.push_back(flag);
  const std::string posts = StartService(
      post_name, manifests_->post_service_image, manifests_->file("env-post-service.env"),
      {{"POST_DATABASE_URL", posts_as_service}}, post_mounts, 50052);

  ExpectLockedDown(user_name);
  ExpectLockedDown(post_name);
  ExpectReadmeFlow(users, posts, "");

  // Metrics, on the METRICS_ADDRESS of the manifests.
  const std::string post_ip = posts.substr(0, posts.find(':'));
  HttpResponse metrics = HttpGet(post_ip + ":9465", "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("grpc_server_handled_total"));

  // SIGTERM (what the kubelet sends after preStop): drain and exit 0 within
  // the grace period; podman stop would SIGKILL after it (exit 137).
  // The grace is the rendered Deployment's (the drain delay and the
  // shutdown grace of the rendered env must fit in it).
  const std::pair<std::string, std::string> stops[] = {
      {post_name, manifests_->file("3-post-service.yaml")},
      {user_name, manifests_->file("2-user-service.yaml")}};
  for (const auto& [name, deployment] : stops) {
    const int grace_seconds = Manifests::GracePeriodSecondsIn(deployment);
    RunResult stop = Podman({"stop", "--time", std::to_string(grace_seconds), name}, 3min);
    ASSERT_EQ(stop.exit_code, 0) << stop.output;
    EXPECT_EQ(InspectContainer(name, "{{.State.ExitCode}}"), "0") << Podman({"logs", name}).output;
  }
}

// Runs `script` with /bin/sh in `image` (its entrypoint replaced), as the
// image's user, without network.
RunResult ShellIn(const std::string& image, const std::string& script) {
  return Podman(
      {"run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image, "-c", script});
}

TEST_F(ImagesContainersTest, ImagesHoldNoToolchainRunAs10001AndOnlyMigrateCarriesMigrations) {
  const std::regex toolchain(
      R"(^(gcc|g\+\+|cpp|clang|llvm|binutils|cmake|make|ninja-build|libc6-dev|libstdc\+\+-\d+-dev)(-\d+)?$|-dev$)");
  for (const std::string& image : {manifests_->user_service_image, manifests_->post_service_image,
                                   manifests_->migrate_image}) {
    SCOPED_TRACE(image);
    EXPECT_EQ(PodmanOrThrow({"image", "inspect", "--format", "{{.Config.User}}", image}),
              "10001:10001");
    RunResult packages = ShellIn(image, "dpkg-query -W -f '${Package}\\n'");
    ASSERT_EQ(packages.exit_code, 0) << packages.output;
    std::vector<std::string> names = Lines(packages.output);
    EXPECT_GT(names.size(), 10u) << packages.output;
    for (const std::string& name : names) {
      EXPECT_FALSE(std::regex_search(name, toolchain))
          << "toolchain package in the image: " << name;
    }
    RunResult compilers = ShellIn(
        image, "for c in cc gcc c++ g++ clang ld as make cmake; do command -v $c; done; true");
    EXPECT_EQ(compilers.output, "") << "compilers on PATH";
    RunResult id = ShellIn(image, "id -u; id -g");
    EXPECT_EQ(id.output, "10001\n10001\n");
    RunResult sql = ShellIn(image, "find / -xdev -name '*.sql' 2>/dev/null | sort");
    if (image == manifests_->migrate_image) {
      std::set<std::string> in_image;
      for (const std::string& path : Lines(sql.output)) {
        const std::string prefix = "/usr/share/microblog/migrations/";
        ASSERT_EQ(path.rfind(prefix, 0), 0u) << "SQL outside the migrations dir: " << path;
        in_image.insert(path.substr(prefix.size()));
      }
      std::set<std::string> repo_sql;
      for (const std::string& file : RepositoryMigrations()) {
        if (file.size() > 4 && file.substr(file.size() - 4) == ".sql") repo_sql.insert(file);
      }
      EXPECT_EQ(in_image, repo_sql);
      EXPECT_EQ(PodmanOrThrow({"image", "inspect", "--format", "{{.Config.WorkingDir}}", image}),
                "/usr/share/microblog");
    } else {
      EXPECT_EQ(sql.output, "") << "migrations in a service image";
    }
  }
}

// --- images.kube_play -----------------------------------------------------

// Machine-wide: kube play names its pods after the Deployments.
class KubePlayLock {
 public:
  KubePlayLock() {
    fd_ = open("/tmp/microblog-images-kube-play.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd_ < 0 || flock(fd_, LOCK_EX) != 0)
      throw std::runtime_error("cannot lock the kube play lock file");
  }
  ~KubePlayLock() { close(fd_); }
  KubePlayLock(const KubePlayLock&) = delete;
  KubePlayLock& operator=(const KubePlayLock&) = delete;

 private:
  int fd_ = -1;
};

class ImagesKubePlayTest : public ::testing::Test {
 protected:
  static constexpr int kUserServiceHost = 201;
  static constexpr int kPostServiceHost = 202;
  static constexpr int kMigrateHost = 200;

  static void SetUpTestSuite() {
    lock_ = new KubePlayLock();
    network_ = new PodmanNetwork();
    cluster_ = StartDatabases(*network_).release();
    manifests_ = new Manifests(
        Manifests::Render(network_->gateway() + ":" + std::to_string(cluster_->tcp_port()),
                          network_->Address(kUserServiceHost)));
    Down();  // whatever a killed earlier run left behind
    for (const std::string& secret : Lines(ReadFile(manifests_->file("secrets.txt")))) {
      PodmanOrThrow({"secret", "create", secret, manifests_->file("secret-" + secret + ".json")});
    }
  }
  static void TearDownTestSuite() {
    if (manifests_ != nullptr) Down();
    delete manifests_;
    delete cluster_;
    delete network_;
    delete lock_;
  }

  static const std::vector<std::string>& Files() {
    static const std::vector<std::string> files = {"1-migrate.yaml", "2-user-service.yaml",
                                                   "3-post-service.yaml"};
    return files;
  }

  static void Down() {
    for (const std::string& file : Files()) Podman({"kube", "down", manifests_->file(file)}, 2min);
    for (const std::string& secret : Lines(ReadFile(manifests_->file("secrets.txt")))) {
      Podman({"secret", "rm", secret});
    }
  }

  static void Play(const std::string& file, int host) {
    PodmanOrThrow({"kube", "play", "--network", network_->name(), "--ip", network_->Address(host),
                   manifests_->file(file)},
                  15min);
  }

  static KubePlayLock* lock_;
  static PodmanNetwork* network_;
  static PgCluster* cluster_;
  static Manifests* manifests_;
};
KubePlayLock* ImagesKubePlayTest::lock_ = nullptr;
PodmanNetwork* ImagesKubePlayTest::network_ = nullptr;
PgCluster* ImagesKubePlayTest::cluster_ = nullptr;
Manifests* ImagesKubePlayTest::manifests_ = nullptr;

TEST_F(ImagesKubePlayTest, DevOverlayDeploymentsRunAsRenderedAndServeTheReadmeFlow) {
  std::cout << "kube play rewrites of the rendered dev overlay:\n" << manifests_->rewrites;

  // The migration Job's pod: runs to completion, exit 0.
  Play("1-migrate.yaml", kMigrateHost);
  const std::string job_pod =
      PodmanOrThrow({"pod", "ps", "--filter", "label=app.kubernetes.io/component=migration",
                     "--format", "{{.Name}}"});
  const std::string migrate = job_pod + "-migrate";
  ASSERT_TRUE(
      Eventually([&] { return InspectContainer(migrate, "{{.State.Status}}") == "exited"; }, 5min))
      << Podman({"logs", migrate}).output;
  EXPECT_EQ(InspectContainer(migrate, "{{.State.ExitCode}}"), "0")
      << Podman({"logs", migrate}).output;

  // The Deployments: kube play returns once their init containers
  // (migrate wait) are done and the service containers started.
  Play("2-user-service.yaml", kUserServiceHost);
  Play("3-post-service.yaml", kPostServiceHost);
  const std::string users = network_->Address(kUserServiceHost) + ":50051";
  const std::string posts = network_->Address(kPostServiceHost) + ":50052";
  // Readiness as the manifests' probe asks it: Health/Check "" SERVING.
  ASSERT_TRUE(Eventually([&] { return Serving(users); }, 120s))
      << Podman({"logs", "user-service-pod-0-user-service"}).output;
  ASSERT_TRUE(Eventually([&] { return Serving(posts); }, 120s))
      << Podman({"logs", "post-service-pod-0-post-service"}).output;

  // Their init containers (migrate wait, the services' roles) passed.
  for (const char* init :
       {"user-service-pod-0-wait-for-schema", "post-service-pod-0-wait-for-schema"}) {
    EXPECT_EQ(InspectContainer(init, "{{.State.ExitCode}}"), "0") << init << ":\n"
                                                                  << Podman({"logs", init}).output;
  }
  for (const char* container :
       {"user-service-pod-0-user-service", "post-service-pod-0-post-service"}) {
    SCOPED_TRACE(container);
    ExpectLockedDown(container);
    // resources.limits as rendered: cpu "1", memory 256Mi.
    EXPECT_EQ(InspectContainer(container, "{{.HostConfig.Memory}}"),
              std::to_string(256 * 1024 * 1024));
    EXPECT_EQ(InspectContainer(container, "{{.HostConfig.NanoCpus}}"), "1000000000");
  }
  // No host port: podman 4.3 would publish every containerPort on the host
  // (kube_play_manifests.mjs leaves the lists out), and this test runs
  // beside scripts/up.sh's stack and other tests.
  for (const std::string& pod :
       {job_pod, std::string("user-service-pod-0"), std::string("post-service-pod-0")}) {
    EXPECT_EQ(
        PodmanOrThrow({"pod", "inspect", pod, "--format", "{{len .InfraConfig.PortBindings}}"}),
        "0")
        << pod << ": "
        << Podman({"pod", "inspect", pod, "--format", "{{json .InfraConfig.PortBindings}}"}).output;
  }
  ExpectReadmeFlow(users, posts, "-kube");
}

}  // namespace
}  // namespace microblog::test_support
