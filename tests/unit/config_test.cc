// Config and ReadServerSettings (common/service/config.h): flags over environment
// over defaults, refused flags and values naming the setting, --help.
#include "common/service/config.h"

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "common/base/log.h"

namespace microblog {
namespace {

TEST(Config, FlagsOverrideEnvironmentWhichOverridesDefaults) {
  setenv("DB_POOL_SIZE", "5", 1);
  setenv("LOG_LEVEL", "warn", 1);
  const char* argv[] = {"svc", "--log-level=debug", "--listen-address", "127.0.0.1:1",
                        "--transport-security=insecure"};
  auto config = Config::Parse("svc", "test", CommonServerOptions("0.0.0.0:50051"), 5, argv);
  unsetenv("DB_POOL_SIZE");
  unsetenv("LOG_LEVEL");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetString("LISTEN_ADDRESS"), "127.0.0.1:1");
  EXPECT_EQ(config->GetString("LOG_LEVEL"), "debug");
  EXPECT_EQ(*config->GetInt("DB_POOL_SIZE", 1, 256), 5);
  EXPECT_EQ(config->GetString("SHUTDOWN_GRACE_MS"), "10000");
  auto settings = ReadServerSettings(*config);
  ASSERT_TRUE(settings.ok()) << settings.status();
  auto database = ReadDatabaseSettings(*config);
  ASSERT_TRUE(database.ok()) << database.status();
  EXPECT_EQ(database->pool_size, 5);
  SetLogLevel(LogLevel::kInfo);
}

// TRANSPORT_SECURITY: mtls unless told otherwise, each mode with exactly
// the files it uses, and a setting a mode would ignore is an error.
TEST(Config, TransportSecurityIsMutualTlsByDefaultAndEachModeNeedsItsFiles) {
  auto read = [](std::vector<const char*> flags) {
    flags.insert(flags.begin(), "svc");
    auto config = Config::Parse("svc", "test", CommonServerOptions("x:1"),
                                static_cast<int>(flags.size()), flags.data());
    EXPECT_TRUE(config.ok()) << config.status();
    return ReadServerSettings(*config);
  };
  auto fails_naming = [&](std::vector<const char*> flags, const std::string& name) {
    auto settings = read(std::move(flags));
    ASSERT_FALSE(settings.ok());
    EXPECT_EQ(settings.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(settings.status().message()).find(name), std::string::npos)
        << settings.status();
  };
  fails_naming({}, "TLS_CERT_FILE");  // the default is mtls
  fails_naming({"--tls-cert-file=c", "--tls-key-file=k", "--tls-client-ca-file=ca"},
               "AUTHZ_POLICY_FILE");
  auto mtls = read({"--tls-cert-file=c", "--tls-key-file=k", "--tls-client-ca-file=ca",
                    "--authz-policy-file=p"});
  ASSERT_TRUE(mtls.ok()) << mtls.status();
  EXPECT_EQ(mtls->transport_security, TransportSecurity::kMutualTls);
  EXPECT_EQ(mtls->authz_policy_file, "p");

  auto tls = read({"--transport-security=tls", "--tls-cert-file=c", "--tls-key-file=k"});
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_EQ(tls->transport_security, TransportSecurity::kTls);
  fails_naming({"--transport-security=tls", "--tls-cert-file=c"}, "TLS_KEY_FILE");
  fails_naming({"--transport-security=tls", "--tls-cert-file=c", "--tls-key-file=k",
                "--tls-client-ca-file=ca"},
               "TLS_CLIENT_CA_FILE");

  auto insecure = read({"--transport-security=insecure"});
  ASSERT_TRUE(insecure.ok()) << insecure.status();
  EXPECT_EQ(insecure->transport_security, TransportSecurity::kInsecure);
  fails_naming({"--transport-security=insecure", "--authz-policy-file=p"}, "AUTHZ_POLICY_FILE");
  fails_naming({"--transport-security=insecure", "--tls-cert-file=c", "--tls-key-file=k"},
               "TLS_CERT_FILE");
  fails_naming({"--transport-security=plaintext"}, "TRANSPORT_SECURITY");
}

TEST(Config, RejectsUnknownFlagsAndBadValues) {
  const char* unknown[] = {"svc", "--no-such-flag=1"};
  auto config = Config::Parse("svc", "test", CommonServerOptions("x:1"), 2, unknown);
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("--no-such-flag"), absl::string_view::npos);

  const char* missing[] = {"svc", "--db-pool-size"};
  EXPECT_FALSE(Config::Parse("svc", "test", CommonServerOptions("x:1"), 2, missing).ok());

  const char* bad[] = {"svc", "--db-pool-size=lots"};
  auto parsed = Config::Parse("svc", "test", CommonServerOptions("x:1"), 2, bad);
  ASSERT_TRUE(parsed.ok());
  auto database = ReadDatabaseSettings(*parsed);
  ASSERT_FALSE(database.ok());
  EXPECT_NE(database.status().message().find("DB_POOL_SIZE"), absl::string_view::npos);
}

// The scaling settings: off by default; a connection age needs a grace at
// least MAX_DEADLINE_MS, or aged connections would cut calls.
TEST(Config, ReadsAndChecksDrainAndConnectionAgeSettings) {
  auto read = [](std::vector<const char*> flags) {
    flags.insert(flags.begin(), {"svc", "--transport-security=insecure"});
    auto config = Config::Parse("svc", "test", CommonServerOptions("x:1"),
                                static_cast<int>(flags.size()), flags.data());
    EXPECT_TRUE(config.ok()) << config.status();
    return ReadServerSettings(*config);
  };
  auto defaults = read({});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->shutdown_drain_delay, std::chrono::milliseconds(0));
  EXPECT_EQ(defaults->max_connection_age, std::chrono::milliseconds(0));
  EXPECT_EQ(defaults->max_connection_age_grace, std::chrono::milliseconds(10000));

  auto set = read({"--shutdown-drain-delay-ms=30000", "--max-connection-age-ms=30000",
                   "--max-connection-age-grace-ms=5000", "--max-deadline-ms=5000"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->shutdown_drain_delay, std::chrono::milliseconds(30000));
  EXPECT_EQ(set->max_connection_age, std::chrono::milliseconds(30000));
  EXPECT_EQ(set->max_connection_age_grace, std::chrono::milliseconds(5000));

  for (std::vector<const char*> bad : std::vector<std::vector<const char*>>{
           {"--shutdown-drain-delay-ms=-1"},
           {"--shutdown-drain-delay-ms=soon"},
           {"--max-connection-age-ms=999"},
           {"--max-connection-age-ms=-5"},
           {"--max-connection-age-grace-ms=-1"},
           {"--max-connection-age-grace-ms=4999", "--max-connection-age-ms=60000",
            "--max-deadline-ms=5000"}}) {
    auto settings = read(bad);
    ASSERT_FALSE(settings.ok()) << bad[0];
    EXPECT_EQ(settings.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string name = absl::AsciiStrToUpper(absl::StrReplaceAll(
        std::string(bad[0]).substr(2, std::string(bad[0]).find('=') - 2), {{"-", "_"}}));
    EXPECT_NE(settings.status().message().find(name), absl::string_view::npos) << settings.status();
  }
  // Without an age, the grace is not checked against the deadline.
  EXPECT_TRUE(read({"--max-connection-age-grace-ms=0"}).ok());
  SetLogLevel(LogLevel::kInfo);
}

TEST(Config, HelpListsEveryOptionWithItsDefault) {
  const char* argv[] = {"svc", "--help"};
  auto config = Config::Parse("svc", "test", CommonServerOptions("0.0.0.0:50051"), 2, argv);
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->help_requested());
  const std::string help = config->HelpText();
  for (const auto& option : CommonServerOptions("0.0.0.0:50051")) {
    EXPECT_NE(help.find(option.env), std::string::npos) << option.env;
  }
  EXPECT_NE(help.find("--listen-address"), std::string::npos);
  EXPECT_NE(help.find("(default: 0.0.0.0:50051)"), std::string::npos);
}

}  // namespace
}  // namespace microblog
