#pragma once

#include <functional>
#include <span>
#include <string_view>

namespace CLI {
class App;
}

namespace tandem::commands {

// The process exit codes of every command (DESIGN.md "Operability"); `tandem loadtest` adds
// its own above these (see its --help).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  // a runtime failure
inline constexpr int kExitUsage = 2;    // a usage or configuration error

// What a command's `add_<cmd>` returns: the action to run once the command line has been parsed.
// It returns the process exit code.
using Runner = std::function<int()>;

struct CommandSpec {
  std::string_view name;
  std::string_view summary;  // one line for `tandem --help`
  Runner (*add)(CLI::App& sub);
};

// The table of commands, in the order `tandem --help` lists them.
std::span<const CommandSpec> all_commands();

Runner add_serve(CLI::App& sub);
Runner add_migrate(CLI::App& sub);
Runner add_rooms(CLI::App& sub);
Runner add_loadtest(CLI::App& sub);

}  // namespace tandem::commands
