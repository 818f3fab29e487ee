// Tests of the declared schema (migrations/schema/) through the real
// `migrate` binary against a real PostgreSQL cluster: `migrate new
// --autogenerate` writes, for each kind of change, a migration that applies,
// rolls back, lints clean and leaves `migrate check` green; nothing differs
// gives no file; what it cannot write safely is a TODO that check refuses;
// and check fails on drift in either direction, naming the first difference.
//
// Each case edits a copy of the project's declared post (or user) schema.
// `migrate check` on the copy then proves, for the generated files, exactly
// what the issue asks: at the previous version, up and down restore it; up
// gives a schema equal to the declared one (the drift check); rolling back
// to 0 restores each version again.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "support/child_process.h"
#include "support/migrations_dir.h"
#include "support/pg_cluster.h"
#include "support/shared_cluster.h"

namespace microblog {
namespace test_support {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::chrono::seconds kRunTimeout(120);
const std::string kRealMigrations = std::string(MICROBLOG_SOURCE_DIR) + "/migrations";

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// `text` with `from` (which must occur) replaced by `to`.
std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "not in the declared schema: " << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// `text` without its lines from the one starting with `first` through the
// one starting with `last` (both must occur, in that order).
std::string WithoutLines(const std::string& text, const std::string& first,
                         const std::string& last) {
  const size_t start = text.find(first);
  const size_t last_at = start == std::string::npos ? start : text.find(last, start);
  EXPECT_NE(start, std::string::npos) << "not in the declared schema: " << first;
  EXPECT_NE(last_at, std::string::npos) << "not in the declared schema: " << last;
  if (last_at == std::string::npos) return text;
  const size_t end = text.find('\n', last_at);
  return text.substr(0, start) + (end == std::string::npos ? "" : text.substr(end + 1));
}

// The migration file names of `dir`, sorted.
std::vector<std::string> FileNames(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class MigrateAutogenerateTest : public ::testing::Test {
 protected:
  static PgCluster& pg() { return SharedCluster(); }

  static void SetUpTestSuite() {
    // The roles the project's migrations grant to.
    pg().Exec("postgres", "CREATE ROLE user_service LOGIN; CREATE ROLE post_service LOGIN;");
  }

  void SetUp() override {
    std::string test_name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::transform(test_name.begin(), test_name.end(), test_name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    post_url_ = pg().CreateDatabase("ag_p_" + test_name);
    user_url_ = pg().CreateDatabase("ag_u_" + test_name);
    for (const char* part : {"user", "post", "schema"}) {
      fs::copy(kRealMigrations + "/" + part, dir_.path() + "/" + part);
    }
  }
  void TearDown() override {
    // Every scratch database (check's, autogenerate's) is dropped again.
    pqxx::connection conn(pg().SuperuserUrl());
    pqxx::nontransaction tx(conn);
    pqxx::row row = tx.exec1(
        "SELECT coalesce(string_agg(datname, ','), '') FROM pg_database"
        " WHERE datname LIKE 'migrate\\_%'");
    EXPECT_EQ(row[0].as<std::string>(), "");
  }

  std::string SchemaPath(const std::string& target) const {
    return dir_.path() + "/schema/" + target + ".sql";
  }
  // Applies `edit` to the declared schema of `target`.
  void EditSchema(const std::string& target, const std::function<std::string(std::string)>& edit) {
    WriteText(SchemaPath(target), edit(ReadText(SchemaPath(target))));
  }

  RunResult Migrate(std::vector<std::string> args) const {
    args.push_back("--migrations-dir");
    args.push_back(dir_.path());
    return RunToCompletion(MIGRATE_BIN, args,
                           {{"USER_DATABASE_URL", user_url_},
                            {"POST_DATABASE_URL", post_url_},
                            {"MIGRATIONS_DIR", ""}},
                           kRunTimeout);
  }
  RunResult Autogenerate(const std::string& name, const std::string& target = "post") const {
    return Migrate({"new", name, "--target", target, "--autogenerate"});
  }
  RunResult Check(const std::string& target = "post") const {
    return Migrate({"check", "--target", target});
  }
  // The project's lint (squawk and the expand/contract check) on the copy.
  RunResult Lint() const {
    return RunToCompletion(MICROBLOG_NODE_BIN,
                           {std::string(MICROBLOG_SOURCE_DIR) + "/tests/migrations/lint.mjs",
                            "--squawk", MICROBLOG_SQUAWK_BIN, "--migrations", dir_.path()},
                           {}, kRunTimeout);
  }

  // Autogenerates `name` after `edit`, and expects the files it writes to
  // hold no TODO, to pass check (up, down, equal to the declared schema)
  // and the lint. Returns the text of every file it wrote.
  std::string GenerateCleanly(const std::string& name, const std::string& detected,
                              const std::function<std::string(std::string)>& edit,
                              const std::string& target = "post") {
    EditSchema(target, edit);
    const size_t files_before = FileNames(dir_.path() + "/" + target).size();
    RunResult generated = Autogenerate(name, target);
    EXPECT_EQ(generated.exit_code, 0) << generated.output;
    EXPECT_THAT(generated.output, HasSubstr("Detected " + detected));
    EXPECT_THAT(generated.output, Not(HasSubstr("TODO")));
    std::string written;
    const std::vector<std::string> names = FileNames(dir_.path() + "/" + target);
    EXPECT_GT(names.size(), files_before);
    for (size_t i = files_before; i < names.size(); ++i) {
      written += "== " + names[i] + "\n" + ReadText(dir_.path() + "/" + target + "/" + names[i]);
    }
    RunResult check = Check(target);
    EXPECT_EQ(check.exit_code, 0) << check.output << written;
    EXPECT_THAT(check.output, HasSubstr("equals the declared schema")) << check.output;
    RunResult lint = Lint();
    EXPECT_EQ(lint.exit_code, 0) << lint.output << written;
    return written;
  }

  // What a person does once each TODO is resolved: deletes its lines.
  static void DeleteTodos(const std::string& path) {
    const std::string text = ReadText(path);
    std::string kept;
    bool in_todo = false;
    for (size_t at = 0; at < text.size();) {
      const size_t end = text.find('\n', at);
      const std::string line = text.substr(at, end - at + 1);
      at = end + 1;
      if (line.rfind("-- TODO(migrate):", 0) == 0) {
        in_todo = true;
      } else if (line.rfind("--  ", 0) != 0) {
        in_todo = false;
      }
      if (!in_todo) kept += line;
    }
    WriteText(path, kept);
  }

  MigrationsDir dir_;
  std::string post_url_, user_url_;
};

// The definition of done, on a database that holds a post: one
// command writes the pair; it applies, keeps the row, rolls back, lints
// clean, and check is green.
TEST_F(MigrateAutogenerateTest, AddingAColumnGivesAPairThatAppliesRollsBackAndChecks) {
  ASSERT_EQ(Migrate({"up", "--target", "post"}).exit_code, 0);
  {
    pqxx::connection conn(post_url_);
    pqxx::work tx(conn);
    tx.exec("INSERT INTO posts (user_id, body) VALUES (1, 'kept')");
    tx.commit();
  }
  EditSchema("post", [](std::string s) {
    return Replaced(s, "  request_id varchar(64)  NULL\n",
                    "  request_id varchar(64)  NULL,\n  edited_at  timestamptz\n");
  });
  RunResult generated = Autogenerate("add_posts_edited_at");
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  EXPECT_THAT(generated.output, HasSubstr("post: Detected added column 'public.posts.edited_at'"));
  EXPECT_THAT(generated.output, HasSubstr("/post/0005_add_posts_edited_at.up.sql"));
  const std::string up = ReadText(dir_.path() + "/post/0005_add_posts_edited_at.up.sql");
  EXPECT_THAT(up, HasSubstr("ALTER TABLE public.posts ADD COLUMN edited_at timestamp with time "
                            "zone;"));
  EXPECT_FALSE(fs::exists(dir_.path() + "/post/0006_add_posts_edited_at_concurrently.up.sql"));

  auto columns = [this] {
    pqxx::connection conn(post_url_);
    pqxx::nontransaction tx(conn);
    return tx
        .exec1(
            "SELECT string_agg(column_name, ',' ORDER BY column_name) || ' / ' ||"
            " (SELECT string_agg(body, ',') FROM posts)"
            " FROM information_schema.columns WHERE table_name = 'posts'")[0]
        .as<std::string>();
  };
  RunResult up_run = Migrate({"up", "--target", "post"});
  ASSERT_EQ(up_run.exit_code, 0) << up_run.output;
  EXPECT_EQ(columns(), "body,created_at,edited_at,id,request_id,user_id / kept");
  RunResult down_run = Migrate({"down", "--target", "post"});
  ASSERT_EQ(down_run.exit_code, 0) << down_run.output;
  EXPECT_EQ(columns(), "body,created_at,id,request_id,user_id / kept");

  RunResult check = Check();
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("post: version 5 equals the declared schema"));
  RunResult lint = Lint();
  EXPECT_EQ(lint.exit_code, 0) << lint.output;
}

TEST_F(MigrateAutogenerateTest, NoChangeWritesNoFile) {
  const std::vector<std::string> before = FileNames(dir_.path() + "/post");
  RunResult generated = Autogenerate("nothing");
  EXPECT_EQ(generated.exit_code, 0) << generated.output;
  EXPECT_THAT(generated.output, HasSubstr("post: No changes in schema detected"));
  EXPECT_EQ(FileNames(dir_.path() + "/post"), before);
}

// A table written whole: identity, constraints inline (a foreign key to an
// existing table among them), its plain indexes, a trigger and its
// function, a view, a standalone sequence, grants and comments.
TEST_F(MigrateAutogenerateTest, AddedTableIsWrittenWholeWithWhatDependsOnIt) {
  const std::string written = GenerateCleanly("likes", "added table 'public.likes'", [](auto s) {
    return s +
           "CREATE TYPE like_kind AS ENUM ('up', 'down');\n"
           "CREATE TABLE likes (\n"
           "  kind like_kind NOT NULL DEFAULT 'up',\n"
           "  id bigint GENERATED BY DEFAULT AS IDENTITY,\n"
           "  post_id bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,\n"
           "  user_id bigint NOT NULL,\n"
           "  weight bigint NOT NULL DEFAULT 1 CHECK (weight > 0),\n"
           "  PRIMARY KEY (post_id, user_id)\n"
           ");\n"
           "CREATE INDEX likes_user_idx ON likes (user_id);\n"
           // Two new tables whose foreign keys name each other.
           "CREATE TABLE a_left (id bigint PRIMARY KEY, right_id bigint);\n"
           "CREATE TABLE b_right (id bigint PRIMARY KEY, left_id bigint REFERENCES a_left);\n"
           "ALTER TABLE a_left ADD FOREIGN KEY (right_id) REFERENCES b_right;\n"
           "COMMENT ON TABLE likes IS 'Who liked what';\n"
           "COMMENT ON COLUMN likes.user_id IS 'users.id in the user database';\n"
           "CREATE FUNCTION likes_check() RETURNS trigger LANGUAGE plpgsql AS\n"
           "  $$ BEGIN RETURN NEW; END $$;\n"
           "CREATE TRIGGER likes_check BEFORE INSERT ON likes\n"
           "  FOR EACH ROW EXECUTE FUNCTION likes_check();\n"
           "CREATE VIEW like_counts AS SELECT post_id, count(*) AS likes FROM likes GROUP BY 1;\n"
           // A LANGUAGE sql body naming the new table: created before it.
           "CREATE FUNCTION likes_of(p bigint) RETURNS bigint LANGUAGE sql STABLE AS\n"
           "  $$ SELECT count(*) FROM likes WHERE post_id = p $$;\n"
           "CREATE SEQUENCE ticket_seq AS integer START 10;\n"
           "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'post_service') THEN\n"
           "  GRANT SELECT, INSERT, DELETE ON likes TO post_service;\n"
           "  GRANT SELECT ON like_counts TO post_service;\n"
           "  GRANT USAGE ON SEQUENCE ticket_seq TO post_service;\n"
           "END IF; END $$;\n";
  });
  EXPECT_THAT(written, HasSubstr("CREATE TYPE public.like_kind AS ENUM ('up', 'down');"));
  EXPECT_THAT(written, HasSubstr("CREATE TABLE public.likes (\n  kind like_kind DEFAULT "
                                 "'up'::like_kind NOT NULL,\n  id bigint GENERATED BY DEFAULT "
                                 "AS IDENTITY NOT NULL,\n  post_id"));
  EXPECT_THAT(written, HasSubstr("CREATE INDEX likes_user_idx ON public.likes"));
  EXPECT_THAT(written, HasSubstr("SET LOCAL check_function_bodies = off;"));
  EXPECT_THAT(written, HasSubstr("ALTER TABLE public.a_left ADD CONSTRAINT a_left_right_id_fkey "
                                 "FOREIGN KEY (right_id) REFERENCES b_right(id);"));

  // And dropped again: their foreign keys go first, and come back last.
  EditSchema("post", [](std::string s) {
    return WithoutLines(s, "CREATE TABLE a_left", "ALTER TABLE a_left ADD FOREIGN KEY");
  });
  RunResult dropped = Autogenerate("drop_pair");
  ASSERT_EQ(dropped.exit_code, 0) << dropped.output;
  EXPECT_THAT(dropped.output, HasSubstr("TODO: table public.a_left is dropped"));
  DeleteTodos(dir_.path() + "/post/0006_drop_pair.up.sql");
  RunResult check = Check();
  EXPECT_EQ(check.exit_code, 0) << check.output
                                << ReadText(dir_.path() + "/post/0006_drop_pair.down.sql");
  EXPECT_THAT(written, Not(HasSubstr("CONCURRENTLY")));
}

TEST_F(MigrateAutogenerateTest, IndexOnAnExistingTableIsBuiltConcurrentlyInItsOwnFile) {
  const std::string written =
      GenerateCleanly("posts_body", "added index 'public.posts_body_idx'", [](auto s) {
        return Replaced(s, "CREATE INDEX posts_created_idx ON posts (created_at DESC, id DESC);\n",
                        "CREATE INDEX posts_body_idx ON posts (body);\n");
      });
  EXPECT_THAT(written, HasSubstr("== 0005_posts_body.up.sql\n-- migrate:no-transaction\n"));
  EXPECT_THAT(written, HasSubstr("CREATE INDEX CONCURRENTLY IF NOT EXISTS posts_body_idx ON "));
  EXPECT_THAT(written, HasSubstr("DROP INDEX CONCURRENTLY IF EXISTS public.posts_created_idx;"));
}

TEST_F(MigrateAutogenerateTest, CheckAndForeignKeyAreAddedNotValidThenValidated) {
  const std::string written =
      GenerateCleanly("body_rules", "added constraint 'public.posts.posts_body_check'", [](auto s) {
        return s +
               "ALTER TABLE posts ADD CONSTRAINT posts_body_check CHECK (length(body) > 0);\n"
               "ALTER TABLE credentials_revocations ADD CONSTRAINT credentials_revocations_fk\n"
               "  FOREIGN KEY (user_id) REFERENCES user_tombstones (user_id);\n";
      });
  EXPECT_THAT(written, HasSubstr("ADD CONSTRAINT posts_body_check CHECK ((length((body)::text) > "
                                 "0)) NOT VALID;"));
  EXPECT_THAT(written, HasSubstr("REFERENCES user_tombstones(user_id) NOT VALID;"));
  EXPECT_THAT(written, HasSubstr("VALIDATE CONSTRAINT posts_body_check"));
  EXPECT_THAT(written, HasSubstr("VALIDATE CONSTRAINT credentials_revocations_fk"));
}

TEST_F(MigrateAutogenerateTest, UniqueConstraintUsesAnIndexBuiltConcurrently) {
  const std::string written = GenerateCleanly(
      "unique_source", "added constraint 'public.user_tombstones.user_tombstones_source_key'",
      [](auto s) {
        return s +
               "ALTER TABLE user_tombstones ADD CONSTRAINT user_tombstones_source_key\n"
               "  UNIQUE (source, user_id);\n";
      });
  EXPECT_THAT(written, HasSubstr("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "
                                 "user_tombstones_source_key"));
  EXPECT_THAT(written, HasSubstr("UNIQUE USING INDEX user_tombstones_source_key"));
}

TEST_F(MigrateAutogenerateTest, NotNullGoesThroughAValidatedCheck) {
  const std::string written = GenerateCleanly(
      "request_id_required", "changed column 'public.posts.request_id'", [](auto s) {
        return Replaced(s, "request_id varchar(64)  NULL", "request_id varchar(64)  NOT NULL");
      });
  EXPECT_THAT(written, HasSubstr("ADD CONSTRAINT posts_request_id_not_null CHECK (request_id IS "
                                 "NOT NULL) NOT VALID;"));
  EXPECT_THAT(written, HasSubstr("VALIDATE CONSTRAINT posts_request_id_not_null"));
  EXPECT_THAT(written, HasSubstr("ALTER COLUMN request_id SET NOT NULL"));
}

TEST_F(MigrateAutogenerateTest, DefaultsAndIdentityAreAltered) {
  const std::string written =
      GenerateCleanly("defaults", "changed column 'public.event_cursors.position'", [](auto s) {
        s = Replaced(s, "position   text        NOT NULL DEFAULT ''",
                     "position   text        NOT NULL DEFAULT 'start'");
        s = Replaced(s, "applied_at timestamptz NOT NULL DEFAULT now(),\n  -- 'event'",
                     "applied_at timestamptz NOT NULL,\n  -- 'event'");
        // Also: the identity's sequence starts at 1000 (altered in place).
        return Replaced(s, "id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
                        "id         bigint GENERATED BY DEFAULT AS IDENTITY (START 1000) PRIMARY "
                        "KEY");
      });
  EXPECT_THAT(written, HasSubstr("ALTER COLUMN \"position\" SET DEFAULT 'start'::text;"));
  EXPECT_THAT(written, HasSubstr("ALTER COLUMN applied_at DROP DEFAULT;"));
  EXPECT_THAT(written, HasSubstr("ALTER COLUMN id SET GENERATED BY DEFAULT;"));
  EXPECT_THAT(written, HasSubstr("ALTER SEQUENCE public.posts_id_seq AS bigint "
                                 "INCREMENT 1 MINVALUE 1 MAXVALUE 9223372036854775807 START 1000"));
}

TEST_F(MigrateAutogenerateTest, FunctionsViewsAndTriggersAreReplaced) {
  EditSchema("post", [](std::string s) {
    return s +
           "CREATE VIEW post_counts AS SELECT user_id, count(*) AS n FROM posts GROUP BY 1;\n"
           "COMMENT ON VIEW post_counts IS 'Posts per user';\n"
           "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'post_service')\n"
           "  THEN GRANT SELECT ON post_counts TO post_service; END IF; END $$;\n"
           "CREATE FUNCTION posts_touch() RETURNS trigger LANGUAGE plpgsql AS\n"
           "  $$ BEGIN RETURN NEW; END $$;\n"
           "CREATE TRIGGER posts_touch BEFORE INSERT ON posts\n"
           "  FOR EACH ROW EXECUTE FUNCTION posts_touch();\n";
  });
  ASSERT_EQ(Autogenerate("post_counts").exit_code, 0);
  const std::string written =
      GenerateCleanly("replace_them", "changed function 'public.insert_posts(", [](auto s) {
        s = Replaced(s, "outcome := 'removed';", "outcome := 'removed'; -- tombstoned");
        s = Replaced(s, "BEFORE INSERT ON posts", "BEFORE INSERT OR UPDATE ON posts");
        return Replaced(s, "count(*) AS n FROM posts GROUP BY 1",
                        "count(*) AS n, max(created_at) AS latest FROM posts GROUP BY 1");
      });
  EXPECT_THAT(written, HasSubstr("CREATE OR REPLACE FUNCTION public.insert_posts("));
  EXPECT_THAT(written,
              HasSubstr("DROP VIEW public.post_counts;\nCREATE VIEW public.post_counts AS"));
  EXPECT_THAT(written, HasSubstr("DROP TRIGGER posts_touch ON public.posts;"));
  EXPECT_THAT(written, HasSubstr("CREATE TRIGGER posts_touch BEFORE INSERT OR UPDATE ON "
                                 "public.posts"));
}

TEST_F(MigrateAutogenerateTest, GrantsAndCommentsChange) {
  const std::string written =
      GenerateCleanly("grants", "changed grant 'table public.event_cursors'", [](auto s) {
        s = Replaced(s, "    GRANT SELECT, UPDATE ON TABLE event_cursors TO post_service;\n",
                     "    GRANT SELECT ON TABLE event_cursors TO post_service;\n"
                     "    GRANT UPDATE (position) ON TABLE event_cursors TO post_service;\n");
        return s +
               "COMMENT ON COLUMN posts.body IS 'At most 140 characters';\n"
               "COMMENT ON INDEX posts_created_idx IS 'The global timeline';\n";
      });
  EXPECT_THAT(written, HasSubstr("REVOKE UPDATE ON TABLE public.event_cursors FROM post_service;"));
  EXPECT_THAT(written, HasSubstr("GRANT UPDATE (\"position\") ON TABLE public.event_cursors TO "
                                 "post_service;"));
  EXPECT_THAT(written, HasSubstr("COMMENT ON COLUMN public.posts.body IS 'At most 140 "
                                 "characters';"));
}

TEST_F(MigrateAutogenerateTest, UserDatabaseToo) {
  GenerateCleanly(
      "users_display_name", "added column 'public.users.display_name'",
      [](auto s) {
        return Replaced(s, "  email_canonical     text\n",
                        "  email_canonical     text,\n  display_name text NOT NULL DEFAULT ''\n");
      },
      "user");
}

// The contract step of issue 24's identity columns, as the release after
// the backfill will ship it: the declared columns become NOT NULL, and the
// generated pair adds the checks NOT VALID, then validates them. On rows
// the backfill has not filled, VALIDATE fails and the version stays
// unapplied; once they are filled, the same files go on where they
// stopped.
TEST_F(MigrateAutogenerateTest, IdentityContractStepValidatesOnlyOnceBackfilled) {
  ASSERT_EQ(Migrate({"up", "--target", "user"}).exit_code, 0);
  {
    pqxx::connection conn(user_url_);
    pqxx::work tx(conn);
    tx.exec(
        "INSERT INTO users (username, email, password_hash, username_canonical, "
        "username_skeleton, email_canonical) VALUES ('ada', 'ada@example.com', 'h', 'ada', "
        "'ada', 'ada@example.com'), ('bob', 'bob@example.com', 'h', NULL, NULL, NULL)");
    tx.commit();
  }
  EditSchema("user", [](std::string s) {
    s = Replaced(s, "username_canonical  text,", "username_canonical  text NOT NULL,");
    s = Replaced(s, "username_skeleton   text,", "username_skeleton   text NOT NULL,");
    return Replaced(s, "email_canonical     text\n", "email_canonical     text NOT NULL\n");
  });
  RunResult generated = Autogenerate("identity_keys_required", "user");
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  EXPECT_THAT(generated.output, Not(HasSubstr("TODO")));
  EXPECT_THAT(ReadText(dir_.path() + "/user/0007_identity_keys_required.up.sql"),
              HasSubstr("ADD CONSTRAINT users_username_canonical_not_null CHECK "
                        "(username_canonical IS NOT NULL) NOT VALID;"));

  // bob was written by the previous release and not backfilled yet.
  RunResult refused = Migrate({"up", "--target", "user"});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("0008_identity_keys_required_concurrently"));
  EXPECT_THAT(refused.output, HasSubstr("violated by some row"));
  auto state = [this] {
    pqxx::connection conn(user_url_);
    pqxx::nontransaction tx(conn);
    return tx
        .exec1(
            "SELECT (SELECT max(version) FROM schema_migrations) || ' ' ||"
            " (SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass"
            "  AND attname = 'email_canonical')")[0]
        .as<std::string>();
  };
  EXPECT_EQ(state(), "7 false");

  {  // The backfill's work, by hand.
    pqxx::connection conn(user_url_);
    pqxx::work tx(conn);
    tx.exec(
        "UPDATE users SET username_canonical = 'bob', username_skeleton = 'bob', "
        "email_canonical = 'bob@example.com' WHERE username = 'bob'");
    tx.commit();
  }
  RunResult applied = Migrate({"up", "--target", "user"});
  EXPECT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_EQ(state(), "8 true");
  RunResult check = Check("user");
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_EQ(Lint().exit_code, 0);
}

// A rename looks like a drop and an add: written as such, with TODOs that
// check refuses until a person deletes them; the lint refuses the drop
// until the file is marked as a contract step.
TEST_F(MigrateAutogenerateTest, RenameIsLeftAsATodoThatCheckRefuses) {
  EditSchema("post", [](std::string s) {
    return Replaced(s, "  source     varchar(16) NOT NULL\n",
                    "  origin     varchar(16) NOT NULL\n");
  });
  RunResult generated = Autogenerate("rename_source");
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  EXPECT_THAT(generated.output,
              HasSubstr("Detected removed column 'public.user_tombstones.source'"));
  EXPECT_THAT(generated.output, HasSubstr("Detected added column 'public.user_tombstones.origin'"));
  EXPECT_THAT(generated.output, HasSubstr("if this is a rename, do not ship it as written"));
  const std::string up_path = dir_.path() + "/post/0005_rename_source.up.sql";
  const std::string up = ReadText(up_path);
  EXPECT_THAT(up, HasSubstr("-- TODO(migrate): column public.user_tombstones.source is dropped"));

  RunResult check = Check();
  EXPECT_EQ(check.exit_code, 10) << check.output;
  EXPECT_THAT(check.output, HasSubstr(up_path + ":4 holds an unresolved TODO"));
  RunResult lint = Lint();
  EXPECT_NE(lint.exit_code, 0);
  EXPECT_THAT(lint.output, HasSubstr("DROP COLUMN on public.user_tombstones"));
}

TEST_F(MigrateAutogenerateTest, TypeChangeAndDroppedTableAreTodos) {
  EditSchema("post", [](std::string s) {
    s = Replaced(s, "body       varchar(140) NOT NULL", "body       text NOT NULL");
    s = WithoutLines(s, "CREATE TABLE credentials_revocations",
                     "CREATE INDEX credentials_revocations_applied_idx");
    return Replaced(s,
                    "    GRANT SELECT, INSERT, UPDATE ON TABLE credentials_revocations TO "
                    "post_service;\n",
                    "");
  });
  RunResult generated = Autogenerate("contract");
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  EXPECT_THAT(generated.output, HasSubstr("TODO: column public.posts.body changes type"));
  EXPECT_THAT(generated.output, HasSubstr("TODO: table public.credentials_revocations is dropped"));
  const std::string down = ReadText(dir_.path() + "/post/0005_contract.down.sql");
  EXPECT_THAT(down, HasSubstr("CREATE TABLE public.credentials_revocations ("));
  EXPECT_THAT(down, HasSubstr("CREATE INDEX credentials_revocations_applied_idx"));
  EXPECT_EQ(Check().exit_code, 10);

  // Resolved by a person (here: the TODO lines deleted), the files apply,
  // roll back and give the declared schema.
  DeleteTodos(dir_.path() + "/post/0005_contract.up.sql");
  RunResult check = Check();
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST_F(MigrateAutogenerateTest, DeclaredSchemaAheadOfTheMigrationsIsDrift) {
  EditSchema("post",
             [](std::string s) { return s + "CREATE INDEX posts_body_idx ON posts (body);\n"; });
  RunResult check = Check();
  EXPECT_EQ(check.exit_code, 10) << check.output;
  EXPECT_THAT(check.output, HasSubstr("the migrations do not produce the declared schema"));
  EXPECT_THAT(check.output, HasSubstr("index public.posts_body_idx is only in the declared "
                                      "schema"));
  EXPECT_THAT(check.output, HasSubstr("CREATE INDEX posts_body_idx ON public.posts USING btree "
                                      "(body)"));
  EXPECT_THAT(check.output, HasSubstr("migrate new NAME --target post --autogenerate"));
}

TEST_F(MigrateAutogenerateTest, MigrationAheadOfTheDeclaredSchemaIsDrift) {
  WriteText(dir_.path() + "/post/0005_extra.up.sql",
            "ALTER TABLE posts ADD COLUMN edited_at timestamptz;\n");
  WriteText(dir_.path() + "/post/0005_extra.down.sql",
            "-- squawk-ignore ban-drop-column\nALTER TABLE posts DROP COLUMN edited_at;\n");
  RunResult check = Check();
  EXPECT_EQ(check.exit_code, 10) << check.output;
  EXPECT_THAT(check.output, HasSubstr("column public.posts.edited_at is not in the declared "
                                      "schema"));
}

TEST_F(MigrateAutogenerateTest, DeclaredSchemaThatDoesNotApplyIsNamed) {
  EditSchema("post", [](std::string s) { return s + "\nCREATE INDEX broken ON nowhere (x);\n"; });
  RunResult generated = Autogenerate("broken");
  EXPECT_EQ(generated.exit_code, 1) << generated.output;
  EXPECT_THAT(generated.output, HasSubstr("the declared schema does not apply"));
  EXPECT_THAT(generated.output, HasSubstr("relation \"nowhere\" does not exist"));
  EXPECT_THAT(generated.output, HasSubstr(SchemaPath("post")));
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
