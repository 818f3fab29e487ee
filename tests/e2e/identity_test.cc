// Identities that cannot be spoofed (issue 24), through the real path: the
// real user-service and post-service on real PostgreSQL, every row of the
// issue's table with the code decided for it (README.md, "Usernames and
// e-mail addresses"), look-alikes, e-mails, blank bodies, and the database
// keeping the rule when two replicas race.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "e2e/both_services_fixture.h"
#include "support/rpc_details.h"

namespace microblog {
namespace test_support {
namespace {

namespace v1 = ::microblog::user::v1;
using ::grpc::StatusCode;

constexpr char kPassword[] = "correct horse battery staple";

class IdentityTest : public BothServicesTest {
 protected:
  void SetUp() override {
    BothServicesTest::SetUp();
    StartServices();
  }

  grpc::Status Create(const std::string& username, const std::string& email,
                      v1::UserService::Stub* stub = nullptr, int64_t* id = nullptr) {
    v1::CreateUserRequest request;
    request.set_username(username);
    request.set_email(email);
    request.set_password(kPassword);
    v1::CreateUserResponse response;
    grpc::Status status = (stub != nullptr ? stub : user_stub_.get())
                              ->CreateUser(NewContext().get(), request, &response);
    if (id != nullptr) *id = response.user().id();
    return status;
  }

  int64_t MustCreate(const std::string& username, const std::string& email) {
    int64_t id = 0;
    const grpc::Status status = Create(username, email, nullptr, &id);
    EXPECT_TRUE(status.ok()) << username << ": " << status.error_message();
    return id;
  }

  // The id LookupUser finds (0 when it fails).
  int64_t Lookup(const std::string& username, const std::string& email = "") {
    v1::LookupUserRequest request;
    if (email.empty()) {
      request.set_username(username);
    } else {
      request.set_email(email);
    }
    v1::LookupUserResponse response;
    const grpc::Status status = user_stub_->LookupUser(NewContext().get(), request, &response);
    return status.ok() ? response.user().id() : 0;
  }

  // The id VerifyPassword logs in as (0 when it fails).
  int64_t LogIn(const std::string& login) {
    v1::VerifyPasswordRequest request;
    request.set_login(login);
    request.set_password(kPassword);
    v1::VerifyPasswordResponse response;
    const grpc::Status status = user_stub_->VerifyPassword(NewContext().get(), request, &response);
    return status.ok() ? response.user().id() : 0;
  }

  // An address, and a name, no other call of this test used.
  std::string FreshEmail() { return "fresh" + std::to_string(++fresh_) + "@example.com"; }
  std::string FreshName() { return "fresh" + std::to_string(++fresh_); }

  // Expects INVALID_ARGUMENT naming exactly `field`.
  static void ExpectInvalid(const grpc::Status& status, const std::string& field,
                            const std::string& what) {
    EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT)
        << what << ": " << status.error_message();
    EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{field}) << what;
  }

 private:
  int fresh_ = 0;
};

TEST_F(IdentityTest, TheSameNameInAnyCaseWidthOrCompositionIsOneAccount) {
  const int64_t emile = MustCreate("\xC3\xA9mile", "emile@example.com");  // émile
  const int64_t ada = MustCreate("ada", "ada@example.com");
  const int64_t kim = MustCreate("kim", "kim@example.com");
  const int64_t strasse = MustCreate("strasse", "strasse@example.com");
  struct Row {
    const char* typed;
    int64_t is;
  };
  for (const Row& row : {
           Row{"\xC3\x89MILE", emile},                        // ÉMILE
           Row{"e\xCC\x81mile", emile},                       // e + U+0301
           Row{"\xEF\xBD\x81\xEF\xBD\x84\xEF\xBD\x81", ada},  // ａｄａ
           Row{"\xEF\xBC\xA1\xEF\xBC\xA4\xEF\xBC\xA1", ada},  // ＡＤＡ
           Row{"ADA", ada},
           Row{"\xE2\x84\xAAim", kim},  // KELVIN SIGN + im
           Row{"KIM", kim},
           Row{"stra\xC3\x9F"
               "e",
               strasse},  // straße
           Row{"STRASSE", strasse},
       }) {
    const grpc::Status again = Create(row.typed, FreshEmail());
    EXPECT_EQ(again.error_code(), StatusCode::ALREADY_EXISTS) << row.typed;
    EXPECT_NE(again.error_message().find("username"), std::string::npos) << again.error_message();
    EXPECT_EQ(Lookup(row.typed), row.is) << row.typed;
    EXPECT_EQ(LogIn(row.typed), row.is) << row.typed;
  }
  EXPECT_EQ(QueryUsers("SELECT count(*) FROM users")[0][0].as<int>(), 4);
  // The name is kept as typed.
  EXPECT_EQ(QueryUsers("SELECT username FROM users WHERE id = " + std::to_string(emile))[0][0]
                .as<std::string>(),
            "\xC3\xA9mile");
}

TEST_F(IdentityTest, LookAlikeNamesAreRefused) {
  MustCreate("ada", "ada@example.com");
  MustCreate("ace", "ace@example.com");
  MustCreate("modern", "modern@example.com");
  // Mixed scripts (UTS #39 moderately restrictive) and compatibility
  // characters: refused whoever exists.
  ExpectInvalid(Create("\xD0\xB0"
                       "da",
                       "cyr@example.com"),
                "username", "Cyrillic a + da");
  ExpectInvalid(Create("\xCE\x91"
                       "DA",
                       "greek@example.com"),
                "username", "Greek Alpha + DA");
  ExpectInvalid(Create("\xF0\x9D\x90\x9A\xF0\x9D\x90\x9D\xF0\x9D\x90\x9A", "bold@example.com"),
                "username", "math bold ada");
  // Whole-script and same-script look-alikes of an existing name: its
  // skeleton is taken.
  for (const char* look_alike : {"\xD0\xB0\xD1\x81\xD0\xB5",  // all-Cyrillic асе
                                 "modem"}) {                  // rn / m: the accepted cost
    const grpc::Status status = Create(look_alike, FreshEmail());
    EXPECT_EQ(status.error_code(), StatusCode::ALREADY_EXISTS) << look_alike;
    EXPECT_NE(status.error_message().find("looks the same"), std::string::npos)
        << status.error_message();
  }
  EXPECT_EQ(QueryUsers("SELECT count(*) FROM users")[0][0].as<int>(), 3);
}

TEST_F(IdentityTest, InvisibleAndPunctuationOnlyNamesAreInvalid) {
  for (const char* bad : {"\xE3\x85\xA4",     // U+3164 HANGUL FILLER
                          "\xE1\x85\x9F",     // U+115F HANGUL CHOSEONG FILLER
                          "ada\xE3\x85\xA4",  // ada + U+3164
                          "a\xE2\x80\x8B"
                          "da",  // zero-width space
                          "\xE2\x80\xAE"
                          "ada",  // right-to-left override
                          ".", "..", "-"}) {
    ExpectInvalid(Create(bad, "x@example.com"), "username", bad);
  }
  EXPECT_EQ(QueryUsers("SELECT count(*) FROM users")[0][0].as<int>(), 0);
}

TEST_F(IdentityTest, EmailsAreOneAccountPerMailboxAsPeopleReadIt) {
  const int64_t emile = MustCreate("emile", "\xC3\xA9mile@example.com");  // émile@
  const int64_t ecole = MustCreate("ecole",
                                   "a@\xC3\xA9"
                                   "cole.fr");  // a@école.fr
  struct Row {
    const char* typed;
    int64_t is;
  };
  for (const Row& row : {Row{"\xC3\x89MILE@example.com", emile},   // ÉMILE@
                         Row{"e\xCC\x81mile@EXAMPLE.COM", emile},  // decomposed, upper domain
                         Row{"A@\xC3\x89"
                             "COLE.FR",
                             ecole},                          // A@ÉCOLE.FR
                         Row{"a@xn--cole-9oa.fr", ecole}}) {  // the A-label
    const grpc::Status again = Create(FreshName(), row.typed);
    EXPECT_EQ(again.error_code(), StatusCode::ALREADY_EXISTS) << row.typed;
    EXPECT_NE(again.error_message().find("email"), std::string::npos) << again.error_message();
    EXPECT_EQ(Lookup("", row.typed), row.is) << row.typed;
    EXPECT_EQ(LogIn(row.typed), row.is) << row.typed;
  }
  // Kept as typed.
  EXPECT_EQ(QueryUsers("SELECT email FROM users WHERE id = " + std::to_string(ecole))[0][0]
                .as<std::string>(),
            "a@\xC3\xA9"
            "cole.fr");
  for (const char* bad : {"\xE2\x80\xAE", "\xE2\x80\x8E", "\xC2\xAD", "\xE1\xA0\x8E", "\xD8\x9C",
                          "\xCD\x8F", "\xEF\xBF\xBC"}) {
    // U+202E, U+200E, U+00AD, U+180E, U+061C, U+034F, U+FFFC
    ExpectInvalid(Create("badmail", std::string("ev") + bad + "e@example.com"), "email", bad);
  }
  ExpectInvalid(Create("baddomain", "a@exa_mple.com"), "email", "underscore in the domain");
}

TEST_F(IdentityTest, ABodyWithNoVisibleCharacterIsInvalid) {
  const int64_t author = CreateUser("author");
  for (const char* blank : {"\xE3\x85\xA4", "\xE2\xA0\x80", "\xC2\xAD",  // U+3164, U+2800, U+00AD
                            " \xE2\x80\x8B\xE3\x80\x80"}) {
    const grpc::Status status = CreatePost(author, blank);
    EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT) << blank;
    EXPECT_EQ(ViolatedFields(status), std::vector<std::string>{"body"});
  }
  EXPECT_TRUE(CreatePost(author,
                         "\xE3\x85\xA4"
                         "hi")
                  .ok());
  EXPECT_EQ(CountPosts(), 1);
}

// Wrong passwords under different spellings of one account are failures
// of one login: after five, even the right password is refused (before any
// hash) under yet another spelling.
TEST_F(IdentityTest, EverySpellingOfALoginSharesItsThrottle) {
  MustCreate("\xC3\xA9mile", "emile@example.com");  // émile
  const char* spellings[] = {"\xC3\x89MILE", "e\xCC\x81mile", "\xC3\xA9MILE", "\xC3\x89mile",
                             "\xC3\xA9mile"};
  for (const char* spelling : spellings) {
    v1::VerifyPasswordRequest request;
    request.set_login(spelling);
    request.set_password("a wrong guess");
    v1::VerifyPasswordResponse response;
    EXPECT_EQ(user_stub_->VerifyPassword(NewContext().get(), request, &response).error_code(),
              StatusCode::UNAUTHENTICATED)
        << spelling;
  }
  v1::VerifyPasswordRequest request;
  request.set_login("E\xCC\x81MILE");  // E + U+0301 + MILE
  request.set_password(kPassword);
  v1::VerifyPasswordResponse response;
  EXPECT_EQ(user_stub_->VerifyPassword(NewContext().get(), request, &response).error_code(),
            StatusCode::RESOURCE_EXHAUSTED);
}

// Two replicas on one database, each asked for one spelling of the same
// name (or of look-alikes) at the same moment: the unique indexes on the
// stored forms let exactly one win. lower() cannot tell these apart, so
// only the new indexes stop the second.
TEST_F(IdentityTest, TwoReplicasRacingOnEquivalentNamesCreateExactlyOne) {
  std::unique_ptr<ServiceProcess> second =
      std::make_unique<ServiceProcess>(USER_SERVICE_BIN, UserServiceEnv());
  std::unique_ptr<v1::UserService::Stub> second_stub =
      v1::UserService::NewStub(second->NewChannel());
  constexpr int kRounds = 8;
  for (int round = 0; round < kRounds; ++round) {
    const std::string n = std::to_string(round);
    const std::pair<std::string, std::string> pairs[] = {
        {"stra\xC3\x9F"
         "e" +
             n,
         "strasse" + n},                               // straße / strasse: canonical
        {"\xD0\xB0\xD1\x81\xD0\xB5" + n, "ace" + n}};  // асе / ace: skeleton
    for (const auto& [first_name, second_name] : pairs) {
      grpc::Status a;
      grpc::Status b;
      std::atomic<bool> go{false};
      std::thread t1([&] {
        while (!go) {
        }
        a = Create(first_name, "a-" + first_name + "@example.com");
      });
      std::thread t2([&] {
        while (!go) {
        }
        b = Create(second_name, "b-" + second_name + "@example.com", second_stub.get());
      });
      go = true;
      t1.join();
      t2.join();
      EXPECT_NE(a.ok(), b.ok()) << first_name << ": " << a.error_message() << " / " << second_name
                                << ": " << b.error_message();
      EXPECT_EQ((a.ok() ? b : a).error_code(), StatusCode::ALREADY_EXISTS);
    }
  }
  EXPECT_EQ(QueryUsers("SELECT count(*) FROM users")[0][0].as<int>(), 2 * kRounds);
}

// A row the previous release wrote (no stored forms: it does not know the
// columns) is still found and logs in, by lower() as before, and a new
// account cannot take its name in another case.
TEST_F(IdentityTest, AnAccountThePreviousReleaseWroteIsStillFound) {
  const int64_t ada = MustCreate("ada", "ada@example.com");
  QueryUsers(
      "INSERT INTO users (username, email, password_hash) SELECT 'Oldtimer', "
      "'Old@Example.com', password_hash FROM users WHERE id = " +
      std::to_string(ada));
  const int64_t old =
      QueryUsers("SELECT id FROM users WHERE username = 'Oldtimer'")[0][0].as<int64_t>();
  EXPECT_EQ(Lookup("oldtimer"), old);
  EXPECT_EQ(Lookup("", "old@example.COM"), old);
  EXPECT_EQ(LogIn("OLDTIMER"), old);
  EXPECT_EQ(Create("OLDTIMER", "new@example.com").error_code(), StatusCode::ALREADY_EXISTS);
}

}  // namespace
}  // namespace test_support
}  // namespace microblog
