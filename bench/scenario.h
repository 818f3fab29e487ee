// The benchmark's scenarios and the RPCs ("operations") they are made of.
//
// A scenario names what the load generator sends: one RPC over and over
// (GetUser, LookupUser, CreateUser, VerifyPassword, CreatePost, GetPost,
// ListPosts) or the mix of reads and writes (kMix). Names are the RPC names,
// so that command lines, reports and pgbench script names line up:
//
//   std::optional<Scenario> s = ParseScenario("ListPosts");
//   Operation op = PickOperation(*s, rng);   // what the next call is
#ifndef MICROBLOG_BENCH_SCENARIO_H_
#define MICROBLOG_BENCH_SCENARIO_H_

#include <array>
#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace microblog {
namespace bench {

// One RPC the generator can send.
enum class Operation {
  kGetUser,
  kLookupUser,
  kCreateUser,
  kVerifyPassword,
  kCreatePost,
  kGetPost,
  kListPosts,
};
inline constexpr std::size_t kOperationCount = 7;

enum class Scenario {
  kGetUser,
  kLookupUser,
  kCreateUser,
  kVerifyPassword,
  kCreatePost,
  kGetPost,
  kListPosts,
  // 90 % reads, 10 % writes; see kMixWeights.
  kMix,
};

// The mix: the reads a timeline page needs, and one write in ten. CreateUser
// and VerifyPassword are left out: they are Argon2id-bound and would turn the
// mix into a password-hashing benchmark (they have their own scenarios).
struct WeightedOperation {
  Operation operation;
  int percent;
};
inline constexpr std::array<WeightedOperation, 5> kMixWeights = {{
    {Operation::kGetPost, 30},
    {Operation::kListPosts, 30},
    {Operation::kGetUser, 20},
    {Operation::kLookupUser, 10},
    {Operation::kCreatePost, 10},
}};

// "GetUser", ..., "ListPosts" (the RPC's name).
const char* OperationName(Operation operation);
// "GetUser", ..., "ListPosts", "mix".
const char* ScenarioName(Scenario scenario);
// The inverse of ScenarioName (case-sensitive); nullopt for an unknown name.
std::optional<Scenario> ParseScenario(const std::string& name);
// Every scenario, in the order reports list them.
std::vector<Scenario> AllScenarios();

// Whether the scenario sends RPCs to user-service / post-service.
bool UsesUserService(Scenario scenario);
bool UsesPostService(Scenario scenario);

// Picks the operation of the next call. Not thread-safe (mutates `rng`): one
// generator per thread or per call slot.
class OperationPicker {
 public:
  explicit OperationPicker(Scenario scenario);
  Operation Next(std::mt19937_64& rng);

 private:
  Scenario scenario_;
  std::discrete_distribution<std::size_t> mix_;
};

}  // namespace bench
}  // namespace microblog

#endif  // MICROBLOG_BENCH_SCENARIO_H_
