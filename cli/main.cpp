// tandem: one executable, four commands. This file builds the command line from the table in
// commands/command.cpp and maps failures to exit codes: 0 ok, 1 runtime failure, 2 usage or
// configuration error.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <exception>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "commands/command.hpp"
#include "core/config/config.hpp"
#include "core/util/text.hpp"
#include "core/util/version.hpp"

namespace {

using tandem::commands::kExitRuntime;
using tandem::commands::kExitUsage;

// Returns an exit code when argv names an unknown command, after printing a suggestion.
std::optional<int> reject_unknown_command(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return std::nullopt;
  const std::string given = argv[1];
  std::string best;
  std::size_t best_distance = 0;
  for (const auto& command : tandem::commands::all_commands()) {
    if (given == command.name) return std::nullopt;
    const std::size_t d = tandem::util::edit_distance(given, command.name);
    if (best.empty() || d < best_distance) {
      best = command.name;
      best_distance = d;
    }
  }
  std::cerr << "tandem: unknown command '" << given << "'";
  if (best_distance <= 3 || best.starts_with(given)) std::cerr << "; did you mean '" << best << "'?";
  std::cerr << "\nRun 'tandem --help' for the list of commands.\n";
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  if (auto code = reject_unknown_command(argc, argv)) return *code;

  CLI::App app{"tandem keeps groups of people watching the same video in sync.", "tandem"};
  app.set_version_flag("-V,--version", std::string("tandem ") + tandem::util::version() + " (commit " +
                                           tandem::util::git_commit() + ")");
  app.require_subcommand(1);
  app.fallthrough(false);

  std::map<CLI::App*, tandem::commands::Runner> runners;
  for (const auto& command : tandem::commands::all_commands()) {
    CLI::App* sub = app.add_subcommand(std::string(command.name), std::string(command.summary));
    runners[sub] = command.add(*sub);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }

  try {
    for (auto& [sub, run] : runners) {
      if (sub->parsed()) return run();
    }
    return kExitUsage;
  } catch (const tandem::config::ConfigError& e) {
    std::istringstream lines(e.what());
    for (std::string line; std::getline(lines, line);) std::cerr << "tandem: configuration error: " << line << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "tandem: " << e.what() << "\n";
    return kExitRuntime;
  }
}
