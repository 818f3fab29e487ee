// migrate: the shared migration job of microblog. See `migrate --help`.
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "migrate/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto env = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  return microblog::migrate::RunMigrate(args, env, std::cout, std::cerr);
}
