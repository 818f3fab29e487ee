// The pieces of migrate's library with sharp edges, linked directly (no
// process, no database): URL redaction, line:column of a position, the SQL
// statement splitter, migration file names. The `migrate` binary itself is
// tested in e2e/migrate_test.cc.
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "migrate/database_url.h"
#include "migrate/migration_files.h"
#include "migrate/sql_script.h"
#include "migrate/text_position.h"

namespace microblog {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(MigrateLibTest, RedactsPasswordsInEveryUrlSyntax) {
  using migrate::DatabaseUrl;
  using migrate::RedactUnparsedUrl;
  EXPECT_EQ(RedactUnparsedUrl("postgresql://bob:s3cret@db:5432/users"),
            "postgresql://bob:***@db:5432/users");
  EXPECT_EQ(RedactUnparsedUrl("postgres://bob:p%40ss@db/users?sslmode=require"),
            "postgres://bob:***@db/users?sslmode=require");
  EXPECT_EQ(RedactUnparsedUrl("postgresql://db/users?user=bob&password=s3cret&x=1"),
            "postgresql://db/users?user=bob&password=***&x=1");
  EXPECT_EQ(RedactUnparsedUrl("host=db password='s3 cret' user=bob"),
            "host=db password=*** user=bob");
  EXPECT_EQ(RedactUnparsedUrl("postgresql://bob@db/users"), "postgresql://bob@db/users");

  // A message quoting the decoded password is redacted too.
  DatabaseUrl url("USER_DATABASE_URL", "postgresql://bob:p%40ss@db/users");
  EXPECT_EQ(url.Redact("auth failed for p@ss"), "auth failed for ***");
  EXPECT_THAT(url.Endpoint(), AllOf(HasSubstr("host db"), HasSubstr("port 5432"),
                                    HasSubstr("database users"), HasSubstr("user bob")));
}

TEST(MigrateLibTest, PositionToLineColumnCountsUtf8Characters) {
  using migrate::PositionToLineColumn;
  const std::string text =
      "ab\nc\xc3\xa9"
      "d\n\nx";  // "é" is 2 bytes, 1 character
  auto at = [&text](int position) {
    migrate::LineColumn lc = PositionToLineColumn(text, position);
    return std::to_string(lc.line) + ":" + std::to_string(lc.column);
  };
  EXPECT_EQ(at(1), "1:1");
  EXPECT_EQ(at(3), "1:3");  // the newline itself
  EXPECT_EQ(at(4), "2:1");
  EXPECT_EQ(at(6), "2:3");  // 'd' after the 2-byte 'é'
  EXPECT_EQ(at(9), "4:1");
}

TEST(MigrateLibTest, SplitsStatementsOutsideQuotesAndComments) {
  using migrate::SplitStatements;
  const std::string script =
      "-- migrate:no-transaction\n"
      "CREATE INDEX CONCURRENTLY i ON t (';');\n"
      "/* ; */ SELECT 'it''s; fine', E'\\'; still', \"a;b\" FROM t;;\n"
      "DO $body$ BEGIN PERFORM 1; END $body$;\n"
      "SELECT $1, $$;$$\n"
      "-- trailing comment only;\n";
  const std::vector<migrate::Statement> statements = SplitStatements(script);
  ASSERT_EQ(statements.size(), 4);
  EXPECT_EQ(statements[0].text, "CREATE INDEX CONCURRENTLY i ON t (';')");
  EXPECT_EQ(statements[1].text, "SELECT 'it''s; fine', E'\\'; still', \"a;b\" FROM t");
  EXPECT_EQ(statements[2].text, "DO $body$ BEGIN PERFORM 1; END $body$");
  EXPECT_EQ(statements[3].number, 4);
  EXPECT_THAT(statements[3].text, ::testing::StartsWith("SELECT $1, $$;$$"));
  // Offsets are in characters, for line:column.
  EXPECT_EQ(statements[0].char_offset, 26);
  EXPECT_EQ(script.substr(statements[1].char_offset, 6), "SELECT");
  EXPECT_TRUE(migrate::IsNoTransaction(script));
  EXPECT_TRUE(migrate::IsNoTransaction("-- migrate:no-transaction \r\nSELECT 1;"));
  EXPECT_FALSE(migrate::IsNoTransaction("SELECT 1;\n-- migrate:no-transaction\n"));
}

// Any text, however unbalanced its quotes and comments: the splitter ends,
// and each statement is the script's own text at its offset, in order.
TEST(MigrateLibTest, SplitStatementsHoldsOnArbitraryText) {
  const std::vector<std::string> tokens = {"'",  "\"", "$$", "$a$", "$1", ";", "--",     "/*",
                                           "*/", "\n", " ",  "E'",  "\\", "x", "SELECT", "''"};
  std::mt19937 random(13);
  for (int round = 0; round < 3000; ++round) {
    std::string script;
    const int length = static_cast<int>(random() % 40);
    for (int i = 0; i < length; ++i) script += tokens[random() % tokens.size()];
    const std::vector<migrate::Statement> statements = migrate::SplitStatements(script);
    size_t previous_end = 0;
    for (size_t i = 0; i < statements.size(); ++i) {
      const migrate::Statement& statement = statements[i];
      ASSERT_EQ(statement.number, static_cast<int>(i) + 1) << script;
      ASSERT_FALSE(statement.text.empty()) << script;
      const size_t at = static_cast<size_t>(statement.char_offset);  // ASCII: chars are bytes
      ASSERT_GE(at, previous_end) << script;
      ASSERT_EQ(script.compare(at, statement.text.size(), statement.text), 0) << script;
      previous_end = at + statement.text.size();
    }
  }
}

TEST(MigrateLibTest, ParsesOnlyWellFormedMigrationFileNames) {
  using migrate::ParseMigrationFileName;
  const auto up = ParseMigrationFileName("0012_create_users2.up.sql");
  ASSERT_TRUE(up.has_value());
  EXPECT_EQ(up->version, 12);
  EXPECT_EQ(up->name, "create_users2");
  EXPECT_TRUE(up->is_up);
  const auto down = ParseMigrationFileName("0001__x.down.sql");
  ASSERT_TRUE(down.has_value());
  EXPECT_EQ(down->name, "_x");
  EXPECT_FALSE(down->is_up);
  // Well-formed, refused later by the loader with its own message.
  EXPECT_EQ(ParseMigrationFileName("0000_init.up.sql")->version, 0);

  for (const char* bad :
       {"", "0001", "0001_", "0001_.up.sql", "001_a.up.sql", "00001_a.up.sql", "0001-a.up.sql",
        "0001_A.up.sql", "0001_a-b.up.sql", "0001_a.b.up.sql", "0001_a.up.sql~", "0001_a.UP.sql",
        "0001_a.sideways.sql", "0001_a.up.sq", "000\xd9\xa1_a.up.sql", "+001_a.up.sql"}) {
    EXPECT_FALSE(ParseMigrationFileName(bad).has_value()) << bad;
  }
  // An embedded NUL is part of the name, not its end.
  EXPECT_FALSE(ParseMigrationFileName(std::string_view("0001_a.up.sql\0x", 15)).has_value());
}

}  // namespace
}  // namespace microblog
