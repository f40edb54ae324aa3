#include "commands/command.hpp"

namespace tandem::commands {

std::span<const CommandSpec> all_commands() {
  static constexpr CommandSpec kCommands[] = {
      {"serve", "Run a signaling node (embedded default, or one node of a cluster)", &add_serve},
      {"migrate", "Apply the versioned database schema (safe when several run at once)", &add_migrate},
      {"rooms", "List rooms and read their audit events", &add_rooms},
      {"loadtest", "Simulate extension-like clients against one or more nodes", &add_loadtest},
  };
  return kCommands;
}

}  // namespace tandem::commands
