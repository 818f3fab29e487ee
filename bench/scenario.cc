#include "bench/scenario.h"

namespace microblog {
namespace bench {
namespace {

struct ScenarioEntry {
  Scenario scenario;
  const char* name;
};

constexpr ScenarioEntry kScenarios[] = {
    {Scenario::kGetUser, "GetUser"},       {Scenario::kLookupUser, "LookupUser"},
    {Scenario::kCreateUser, "CreateUser"}, {Scenario::kVerifyPassword, "VerifyPassword"},
    {Scenario::kCreatePost, "CreatePost"}, {Scenario::kGetPost, "GetPost"},
    {Scenario::kListPosts, "ListPosts"},   {Scenario::kMix, "mix"},
};

std::discrete_distribution<std::size_t> MixDistribution() {
  std::vector<double> weights;
  for (const WeightedOperation& w : kMixWeights) weights.push_back(w.percent);
  return std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
}

}  // namespace

const char* OperationName(Operation operation) {
  switch (operation) {
    case Operation::kGetUser:
      return "GetUser";
    case Operation::kLookupUser:
      return "LookupUser";
    case Operation::kCreateUser:
      return "CreateUser";
    case Operation::kVerifyPassword:
      return "VerifyPassword";
    case Operation::kCreatePost:
      return "CreatePost";
    case Operation::kGetPost:
      return "GetPost";
    case Operation::kListPosts:
      return "ListPosts";
  }
  return "?";
}

const char* ScenarioName(Scenario scenario) {
  for (const ScenarioEntry& entry : kScenarios) {
    if (entry.scenario == scenario) return entry.name;
  }
  return "?";
}

std::optional<Scenario> ParseScenario(const std::string& name) {
  for (const ScenarioEntry& entry : kScenarios) {
    if (name == entry.name) return entry.scenario;
  }
  return std::nullopt;
}

std::vector<Scenario> AllScenarios() {
  std::vector<Scenario> all;
  for (const ScenarioEntry& entry : kScenarios) all.push_back(entry.scenario);
  return all;
}

bool UsesUserService(Scenario scenario) {
  switch (scenario) {
    case Scenario::kGetUser:
    case Scenario::kLookupUser:
    case Scenario::kCreateUser:
    case Scenario::kVerifyPassword:
    case Scenario::kMix:
      return true;
    default:
      return false;
  }
}

bool UsesPostService(Scenario scenario) {
  switch (scenario) {
    case Scenario::kCreatePost:
    case Scenario::kGetPost:
    case Scenario::kListPosts:
    case Scenario::kMix:
      return true;
    default:
      return false;
  }
}

OperationPicker::OperationPicker(Scenario scenario)
    : scenario_(scenario), mix_(MixDistribution()) {}

Operation OperationPicker::Next(std::mt19937_64& rng) {
  switch (scenario_) {
    case Scenario::kGetUser:
      return Operation::kGetUser;
    case Scenario::kLookupUser:
      return Operation::kLookupUser;
    case Scenario::kCreateUser:
      return Operation::kCreateUser;
    case Scenario::kVerifyPassword:
      return Operation::kVerifyPassword;
    case Scenario::kCreatePost:
      return Operation::kCreatePost;
    case Scenario::kGetPost:
      return Operation::kGetPost;
    case Scenario::kListPosts:
      return Operation::kListPosts;
    case Scenario::kMix:
      return kMixWeights[mix_(rng)].operation;
  }
  return Operation::kGetUser;
}

}  // namespace bench
}  // namespace microblog
