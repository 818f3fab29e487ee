// Unit tests of LoginThrottle (user-service/login_throttle.h), the brute-
// force policy of VerifyPassword, on a fake clock: soft lockout per (login,
// source) with growing delays, the per-login hourly cap that spares sources
// the owner logged in from, case folding, expiry and bounded tables.
#include "user-service/login_throttle.h"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "common/base/metrics.h"
#include "common/base/status.h"

namespace microblog {
namespace user {
namespace {

using std::chrono::seconds;

class LoginThrottleTest : public ::testing::Test {
 protected:
  // Fails `times` attempts of `login` from `source`, each allowed.
  void Fail(const std::string& login, const std::string& source, int times = 1) {
    for (int i = 0; i < times; ++i) {
      absl::StatusOr<LoginThrottle::Attempt> attempt = throttle_.Begin(login, source);
      ASSERT_TRUE(attempt.ok()) << "attempt " << i << ": " << attempt.status();
      attempt->Failed();
    }
  }
  void Succeed(const std::string& login, const std::string& source) {
    absl::StatusOr<LoginThrottle::Attempt> attempt = throttle_.Begin(login, source);
    ASSERT_TRUE(attempt.ok()) << attempt.status();
    attempt->Succeeded();
  }
  absl::Status Try(const std::string& login, const std::string& source) {
    return throttle_.Begin(login, source).status();
  }

  MonotonicClock::time_point now_ = MonotonicClock::time_point() + std::chrono::hours(1000);
  Registry metrics_;
  LoginThrottle throttle_{&metrics_, [this] { return now_; }};
};

TEST_F(LoginThrottleTest, FiveFailuresFromOneSourceThenDelaysThatDouble) {
  Fail("alice", "ip:198.51.100.1", LoginThrottle::kFreeFailures);
  absl::Status refused = Try("alice", "ip:198.51.100.1");
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(RetryDelayOf(refused).has_value());
  EXPECT_EQ(*RetryDelayOf(refused), seconds(1));
  // The Check() of the edge agrees, and counts nothing.
  EXPECT_EQ(throttle_.Check("alice", "ip:198.51.100.1").code(),
            absl::StatusCode::kResourceExhausted);
  now_ += seconds(1);
  Fail("alice", "ip:198.51.100.1");                                       // the 6th failure...
  EXPECT_EQ(*RetryDelayOf(Try("alice", "ip:198.51.100.1")), seconds(2));  // ...doubles it
  now_ += seconds(2);
  Fail("alice", "ip:198.51.100.1");
  EXPECT_EQ(*RetryDelayOf(Try("alice", "ip:198.51.100.1")), seconds(4));
  EXPECT_NE(metrics_.Render().find(
                "microblog_password_checks_refused_total{reason=\"login_throttled\"} 4"),
            std::string::npos)
      << metrics_.Render();
}

TEST_F(LoginThrottleTest, DelayIsCappedAtFifteenMinutes) {
  for (int i = 0; i < 30; ++i) {
    Fail("alice", "ip:a");
    now_ += LoginThrottle::kMaxDelay;
  }
  now_ -= LoginThrottle::kMaxDelay;
  EXPECT_EQ(*RetryDelayOf(Try("alice", "ip:a")), LoginThrottle::kMaxDelay);
}

TEST_F(LoginThrottleTest, AttackerFromOneSourceDoesNotThrottleTheOwnerElsewhere) {
  Fail("alice", "ip:attacker", LoginThrottle::kFreeFailures);
  EXPECT_FALSE(Try("alice", "ip:attacker").ok());
  EXPECT_TRUE(throttle_.Check("alice", "ip:owner").ok());
  Succeed("alice", "ip:owner");
}

TEST_F(LoginThrottleTest, SuccessResetsTheSourcesFailures) {
  Fail("alice", "ip:a", LoginThrottle::kFreeFailures - 1);
  Succeed("alice", "ip:a");
  Fail("alice", "ip:a", LoginThrottle::kFreeFailures);  // all free again
  EXPECT_FALSE(Try("alice", "ip:a").ok());
}

TEST_F(LoginThrottleTest, AttemptsInProgressCountSoConcurrentOnesCannotSlipThrough) {
  std::vector<LoginThrottle::Attempt> in_flight;
  int allowed = 0;
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<LoginThrottle::Attempt> attempt = throttle_.Begin("alice", "ip:a");
    if (attempt.ok()) {
      ++allowed;
      in_flight.push_back(*std::move(attempt));
    }
  }
  EXPECT_EQ(allowed, LoginThrottle::kFreeFailures);
  // Dropped without an outcome (the check itself failed): not counted.
  in_flight.clear();
  Fail("alice", "ip:a", LoginThrottle::kFreeFailures);
}

TEST_F(LoginThrottleTest, UnknownAndExistingLoginsAndTheirCasesAreThrottledAlike) {
  // The throttle never knows whether an account exists: only the login as
  // typed, folded to lower case.
  Fail("NoSuchUser", "ip:a", 3);
  Fail("nosuchuser", "ip:a", 2);
  EXPECT_FALSE(Try("NOSUCHUSER", "ip:a").ok());
  Fail("Ärger", "ip:a", LoginThrottle::kFreeFailures);
  EXPECT_FALSE(Try("äRGER", "ip:a").ok());
  EXPECT_EQ(Try("NOSUCHUSER", "ip:a").message(), Try("ärger", "ip:a").message());
}

// The throttle keys a login by the form its account is found by
// (identity_forms.h): every spelling of one name or address shares the
// limits, so changing case, width or composition buys no more guesses.
TEST_F(LoginThrottleTest, EverySpellingOfOneLoginSharesItsLimits) {
  Fail("\xC3\xA9mile", "ip:a", 2);   // émile
  Fail("\xC3\x89MILE", "ip:a", 1);   // ÉMILE
  Fail("e\xCC\x81mile", "ip:a", 1);  // e + U+0301
  Fail("\xC3\x89mile", "ip:a", 1);   // Émile
  EXPECT_FALSE(Try("\xC3\xA9mile", "ip:a").ok());
  Fail(
      "stra\xC3\x9F"
      "e@example.com",
      "ip:a", LoginThrottle::kFreeFailures);
  EXPECT_FALSE(Try("STRASSE@EXAMPLE.COM", "ip:a").ok());
  Fail("\xEF\xBD\x81\xEF\xBD\x84\xEF\xBD\x81", "ip:a", LoginThrottle::kFreeFailures);  // ａｄａ
  EXPECT_FALSE(Try("ada", "ip:a").ok());
  // Another name is not throttled by them.
  EXPECT_TRUE(Try("emily", "ip:a").ok());
}

TEST_F(LoginThrottleTest, HundredFailuresAnHourFromManySourcesSpareOnlyKnownSources) {
  Succeed("alice", "ip:home");
  for (int i = 0; i < LoginThrottle::kMaxFailuresPerWindow; ++i) {
    Fail("alice", "ip:bot" + std::to_string(i));
  }
  absl::Status refused = Try("alice", "ip:new-bot");
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(*RetryDelayOf(refused), LoginThrottle::kWindow);
  // The owner, from where they logged in before, still gets in.
  Succeed("alice", "ip:home");
  // Other logins are not affected.
  EXPECT_TRUE(Try("bob", "ip:new-bot").ok());
  // The window ends an hour after its first failure.
  now_ += LoginThrottle::kWindow;
  EXPECT_TRUE(Try("alice", "ip:new-bot").ok());
}

TEST_F(LoginThrottleTest, FailuresAreForgottenAfterAnHour) {
  Fail("alice", "ip:a", LoginThrottle::kFreeFailures);
  EXPECT_FALSE(Try("alice", "ip:a").ok());
  now_ += LoginThrottle::kWindow;
  Fail("alice", "ip:a", LoginThrottle::kFreeFailures);
}

TEST(LoginThrottleTablesTest, TablesAreBoundedDroppingTheLeastRecentlyUsed) {
  MonotonicClock::time_point now = MonotonicClock::time_point() + std::chrono::hours(1000);
  LoginThrottle throttle(
      nullptr, [&] { return now; }, /*max_entries=*/3);
  auto fail = [&](const std::string& login, int times) {
    for (int i = 0; i < times; ++i) {
      absl::StatusOr<LoginThrottle::Attempt> attempt = throttle.Begin(login, "ip:a");
      ASSERT_TRUE(attempt.ok());
      attempt->Failed();
    }
  };
  fail("a", LoginThrottle::kFreeFailures);
  EXPECT_FALSE(throttle.Check("a", "ip:a").ok());
  fail("b", 1);
  fail("c", 1);
  fail("d", 1);  // evicts "a", the least recently used
  EXPECT_TRUE(throttle.Check("a", "ip:a").ok());
}

}  // namespace
}  // namespace user
}  // namespace microblog
