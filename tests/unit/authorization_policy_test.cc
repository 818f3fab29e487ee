// AuthorizationPolicy (common/rpc/authorization_policy.h): gRFC A43's
// format and decisions, on the policies deploy/ ships and on small ones.
#include "common/rpc/authorization_policy.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace microblog {
namespace {

std::string ShippedPolicy(const std::string& service) {
  std::ifstream in(std::string(MICROBLOG_SOURCE_DIR) + "/deploy/k8s/base/authz/" + service +
                   ".json");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::vector<std::string> kPostService = {"spiffe://microblog/ns/microblog/sa/post-service",
                                               "post-service.microblog.svc"};
const std::vector<std::string> kStranger = {"spiffe://microblog/ns/microblog/sa/stranger"};
const std::vector<std::string> kAdmin = {"spiffe://microblog/ns/microblog/sa/microblog-admin"};
const std::vector<std::string> kNoCertificate = {};

TEST(AuthorizationPolicy, TheShippedUserServicePolicyKeepsTheFeedAndBatchReadsForPostService) {
  auto policy = AuthorizationPolicy::Parse(ShippedPolicy("user-service"));
  ASSERT_TRUE(policy.ok()) << policy.status();
  for (const char* internal : {"/microblog.user.v1.UserService/BatchGetUsers",
                               "/microblog.user.v1.UserService/ListUserEvents"}) {
    EXPECT_TRUE(policy->Evaluate(internal, kPostService).allowed) << internal;
    EXPECT_TRUE(policy->Evaluate(internal, kAdmin).allowed) << internal;
    EXPECT_FALSE(policy->Evaluate(internal, kStranger).allowed) << internal;
    EXPECT_FALSE(policy->Evaluate(internal, kNoCertificate).allowed) << internal;
  }
  for (const char* open :
       {"/microblog.user.v1.UserService/GetUser", "/microblog.user.v1.UserService/VerifyPassword",
        "/grpc.health.v1.Health/Check",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"}) {
    EXPECT_TRUE(policy->Evaluate(open, kStranger).allowed) << open;
  }
  EXPECT_FALSE(policy->Evaluate("/microblog.user.v1.UserService/NoSuchMethod", kStranger).allowed);
  EXPECT_TRUE(policy->IsPrivileged(kAdmin));
  EXPECT_FALSE(policy->IsPrivileged(kPostService));
  EXPECT_FALSE(policy->IsPrivileged(kNoCertificate));
}

TEST(AuthorizationPolicy, TheShippedPostServicePolicyOpensItsMethodsAndNamesTheAdmin) {
  auto policy = AuthorizationPolicy::Parse(ShippedPolicy("post-service"));
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE(policy->Evaluate("/microblog.post.v1.PostService/CreatePost", kStranger).allowed);
  EXPECT_FALSE(policy->Evaluate("/microblog.user.v1.UserService/GetUser", kStranger).allowed);
  EXPECT_TRUE(policy->IsPrivileged(kAdmin));
}

TEST(AuthorizationPolicy, ADenyRuleWinsOverEveryAllowRuleAndPatternsFollowA43) {
  auto policy = AuthorizationPolicy::Parse(R"({
    "name": "p",
    "deny_rules": [{"name": "no-strangers", "source": {"principals": ["*/sa/stranger"]}}],
    "allow_rules": [{"name": "all", "request": {"paths": ["/svc.S/*"]}},
                    {"name": "any-authenticated", "source": {"principals": ["*"]},
                     "request": {"paths": ["/svc.T/Get"]}}]})");
  ASSERT_TRUE(policy.ok()) << policy.status();
  const auto stranger = policy->Evaluate("/svc.S/Get", kStranger);
  EXPECT_FALSE(stranger.allowed);
  EXPECT_EQ(stranger.rule, "no-strangers");
  EXPECT_TRUE(policy->Evaluate("/svc.S/Get", kPostService).allowed);
  EXPECT_TRUE(policy->Evaluate("/svc.S/Get", kNoCertificate).allowed);
  // "*" as a principal: any caller with a certificate, not one without.
  EXPECT_TRUE(policy->Evaluate("/svc.T/Get", kPostService).allowed);
  EXPECT_FALSE(policy->Evaluate("/svc.T/Get", kNoCertificate).allowed);
  EXPECT_EQ(policy->Evaluate("/svc.U/Get", kPostService).rule, "");
  EXPECT_TRUE(PolicyPatternMatches("/a/*", "/a/b"));
  EXPECT_TRUE(PolicyPatternMatches("*b", "/a/b"));
  EXPECT_FALSE(PolicyPatternMatches("/a/b", "/a/bc"));
}

TEST(AuthorizationPolicy, WhatIsNotAPolicyIsRefusedSayingWhy) {
  for (const char* bad :
       {"", "[]", "{\"allow_rules\": []}", "{\"name\": \"p\"}",
        "{\"name\": \"p\", \"allow_rules\": [{\"source\": {}}]}",
        "{\"name\": \"p\", \"allow_rules\": [{\"name\": \"r\", \"request\": "
        "{\"headers\": [{\"key\": \"k\", \"values\": [\"v\"]}]}}]}",
        "{\"name\": \"p\", \"allow_rules\": [{\"name\": \"r\", \"source\": "
        "{\"principals\": [\"\"]}}]}",
        "{\"name\": \"p\", \"allow_rules\": [{\"name\": \"r\"}], \"extra\": 1}"}) {
    auto policy = AuthorizationPolicy::Parse(bad);
    EXPECT_FALSE(policy.ok()) << bad;
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace microblog
