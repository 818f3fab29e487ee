// The read router's choice logic (ReplicaSet) against fake poll results,
// consistency tokens, and the parsing of read-URL lists. The routing through
// real replicas is tested in e2e/replicas_test.cc.
#include "common/db/read_router.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/base/read_from.h"
#include "common/db/database_url.h"

namespace microblog {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using State = ReplicaSet::State;
using Sample = ReplicaSet::Sample;

const MonotonicClock::time_point kStart = MonotonicClock::time_point() + std::chrono::hours(1);

Sample At(Lsn replay) { return {true, true, replay}; }
Sample Down() { return {false, false, 0}; }

TEST(LsnTest, ParsesAndFormatsPgLsnText) {
  EXPECT_EQ(*ParseLsn("0/0"), 0u);
  EXPECT_EQ(*ParseLsn("16/B374D848"), (Lsn{0x16} << 32) | 0xB374D848);
  EXPECT_EQ(*ParseLsn("ffffffff/ffffffff"), ~Lsn{0});
  EXPECT_EQ(FormatLsn((Lsn{0x16} << 32) | 0xB374D848), "16/B374D848");
  EXPECT_EQ(*ParseLsn(FormatLsn(123456789012345)), 123456789012345u);
  for (const char* bad :
       {"", "/", "1", "1/", "/1", "1/2/3", "g/1", "1/-1", "123456789/1", "1/ 2"}) {
    EXPECT_FALSE(ParseLsn(bad).ok()) << bad;
  }
  EXPECT_EQ(*ParseLsn(kPrimaryOnlyToken), ~Lsn{0});
}

TEST(ReadFromTest, TokensAndBatchesAreServedWhereEveryRequestMayBe) {
  EXPECT_EQ(*ReadFromToken(""), ReadFrom::Replica());
  EXPECT_EQ(*ReadFromToken("1/0"), ReadFrom::Replica(Lsn{1} << 32));
  EXPECT_EQ(ReadFromToken("yesterday").status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(ReadFrom::Replica(5).And(ReadFrom::Replica(9)), ReadFrom::Replica(9));
  EXPECT_EQ(ReadFrom::Replica(5).And(ReadFrom::Primary()), ReadFrom::Primary());
  std::vector<Routed<int>> batch = {
      {1, ReadFrom::Replica()}, {2, ReadFrom::Replica(7)}, {3, ReadFrom::Replica(3)}};
  EXPECT_EQ(Combined(batch), ReadFrom::Replica(7));
  EXPECT_EQ(ItemsOf(batch), (std::vector<int>{1, 2, 3}));
  batch.push_back({4, ReadFrom::Primary()});
  EXPECT_EQ(Combined(batch), ReadFrom::Primary());
}

TEST(ReadUrlListTest, UrisSeparatedByWhitespaceOrOneKeywordString) {
  EXPECT_TRUE(ParseDatabaseUrlList("", "X").value().empty());
  EXPECT_TRUE(ParseDatabaseUrlList("  \n ", "X").value().empty());
  EXPECT_EQ(ParseDatabaseUrlList("postgresql://u@a:5432/db", "X").value(),
            std::vector<std::string>{"postgresql://u@a:5432/db"});
  EXPECT_EQ(
      ParseDatabaseUrlList(" postgresql://u@a/db\n\tpostgres://u@b,c:5433/db?sslmode=require ", "X")
          .value(),
      (std::vector<std::string>{"postgresql://u@a/db",
                                "postgres://u@b,c:5433/db?sslmode=require"}));
  EXPECT_EQ(ParseDatabaseUrlList("host=a port=5432 dbname=users", "X").value(),
            std::vector<std::string>{"host=a port=5432 dbname=users"});

  const absl::Status mixed =
      ParseDatabaseUrlList("postgresql://a/db host=b", "USER_DATABASE_READ_URL").status();
  EXPECT_EQ(mixed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mixed.message().find("USER_DATABASE_READ_URL: entry 2"), std::string::npos);
  const absl::Status bad =
      ParseDatabaseUrlList("postgresql://u:secret@a/db?nonsense=1", "X").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message().find("secret"), std::string::npos) << bad.message();
  EXPECT_EQ(ParseDatabaseUrlList("host=a nonsense", "X").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ReplicaSetTest, NoReadGoesToAReplicaBeforeAPollFoundItCaughtUp) {
  ReplicaSet set(1, milliseconds(1000));
  EXPECT_EQ(set.state(0), State::kUnknown);
  EXPECT_FALSE(set.Choose(ReadFrom::Replica()).has_value());
  EXPECT_EQ(set.Record(100, {At(100)}, kStart), std::vector<std::size_t>{0});
  EXPECT_EQ(set.state(0), State::kUsable);
  EXPECT_EQ(set.Choose(ReadFrom::Replica()), std::optional<std::size_t>(0));
  EXPECT_FALSE(set.Choose(ReadFrom::Primary()).has_value());
}

TEST(ReplicaSetTest, AnIdlePrimaryNeverMakesAReplicaLag) {
  ReplicaSet set(1, milliseconds(1000));
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(set.Record(100, {At(100)}, kStart + seconds(i)).size() == (i == 0 ? 1u : 0u));
    EXPECT_EQ(set.lag(0).count(), 0.0);
  }
  EXPECT_EQ(set.state(0), State::kUsable);
}

TEST(ReplicaSetTest, LagIsTheTimeSinceThePrimaryHadWalTheReplicaLacks) {
  ReplicaSet set(1, milliseconds(1000));
  set.Record(100, {At(100)}, kStart);
  // The primary moves on at +1s; the replica stays behind.
  set.Record(200, {At(100)}, kStart + seconds(1));
  EXPECT_EQ(set.state(0), State::kUsable);
  EXPECT_EQ(set.lag(0).count(), 0.0);
  set.Record(300, {At(150)}, kStart + milliseconds(1500));
  EXPECT_DOUBLE_EQ(set.lag(0).count(), 0.5);  // lacks 150..200, seen at +1s
  EXPECT_EQ(set.state(0), State::kUsable);
  EXPECT_EQ(set.Record(300, {At(150)}, kStart + milliseconds(2100)), std::vector<std::size_t>{0});
  EXPECT_EQ(set.state(0), State::kLagging);
  EXPECT_FALSE(set.Choose(ReadFrom::Replica()).has_value());
  // It replays 200: now it lacks only what was first seen at +1.5s.
  set.Record(300, {At(200)}, kStart + milliseconds(2200));
  EXPECT_EQ(set.state(0), State::kUsable);
  EXPECT_NEAR(set.lag(0).count(), 0.7, 1e-9);
  set.Record(300, {At(300)}, kStart + seconds(3));
  EXPECT_EQ(set.lag(0).count(), 0.0);
}

TEST(ReplicaSetTest, AReplicaBehindEveryRememberedPositionLagsPastTheBound) {
  ReplicaSet set(1, milliseconds(1000));
  // The primary writes all the time; the replica is stuck far behind.
  for (int i = 0; i < 200; ++i) {
    set.Record(1000 + static_cast<Lsn>(i), {At(5)}, kStart + milliseconds(100 * i));
  }
  EXPECT_EQ(set.state(0), State::kLagging);
  EXPECT_GT(set.lag(0).count(), 1.0);
}

TEST(ReplicaSetTest, AReadWithATokenNeedsAReplicaThatReplayedIt) {
  ReplicaSet set(2, milliseconds(1000));
  set.Record(500, {At(300), At(500)}, kStart);
  EXPECT_EQ(set.state(0), State::kUsable);  // behind, but not for long
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(set.Choose(ReadFrom::Replica(400)), std::optional<std::size_t>(1));
  }
  EXPECT_FALSE(set.Choose(ReadFrom::Replica(501)).has_value());
  // Without a token: round robin over both.
  std::vector<std::size_t> chosen;
  for (int i = 0; i < 4; ++i) chosen.push_back(*set.Choose(ReadFrom::Replica()));
  std::sort(chosen.begin(), chosen.end());
  EXPECT_EQ(chosen, (std::vector<std::size_t>{0, 0, 1, 1}));
}

TEST(ReplicaSetTest, UnreachableOrPromotedReplicasAreSkippedUntilAPollFindsThemBack) {
  ReplicaSet set(2, milliseconds(1000));
  set.Record(100, {At(100), At(100)}, kStart);
  EXPECT_TRUE(set.MarkUnreachable(0));  // a read failed there
  EXPECT_FALSE(set.MarkUnreachable(0));
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(set.Choose(ReadFrom::Replica()), std::optional<std::size_t>(1));
  EXPECT_EQ(set.Record(100, {At(100), Down()}, kStart + seconds(1)),
            (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(set.state(0), State::kUsable);
  EXPECT_EQ(set.state(1), State::kUnreachable);
  EXPECT_EQ(set.Choose(ReadFrom::Replica()), std::optional<std::size_t>(0));
  set.Record(100, {Sample{true, false, 0}, Down()}, kStart + seconds(2));
  EXPECT_EQ(set.state(0), State::kNotInRecovery);
  EXPECT_FALSE(set.Choose(ReadFrom::Replica()).has_value());
}

TEST(ReplicaSetTest, APrimaryWhosePositionWentBackStartsAfresh) {
  ReplicaSet set(1, milliseconds(1000));
  set.Record(1000, {At(10)}, kStart);
  set.Record(1000, {At(10)}, kStart + seconds(5));
  EXPECT_EQ(set.state(0), State::kLagging);
  // Another primary (restored from a backup) with its replica caught up.
  set.Record(50, {At(50)}, kStart + seconds(6));
  EXPECT_EQ(set.state(0), State::kUsable);
}

}  // namespace
}  // namespace microblog
