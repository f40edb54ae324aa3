#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/config/config.hpp"

namespace CLI {
class App;
}

namespace tandem::commands {

// Options every configuration-reading command accepts.
struct CommonOptions {
  std::string config_path;             // --config; empty = ./tandem.toml when present
  std::vector<std::string> settings;   // --set section.key=value (repeatable)
  std::string log_level;               // --log-level (overrides log.level)
  std::string log_format;              // --log-format (overrides log.format)
  // Flags with their own names, recorded as ("section.key", value) in command-line order.
  std::vector<std::pair<std::string, std::string>> flag_settings;
};

void add_common_options(CLI::App& app, CommonOptions& options);

// Loads the configuration (file, environment, flags) and sets up logging from it.
// Throws config::ConfigError (exit 2).
config::Config load_config_and_logging(const CommonOptions& options);
// The file, environment and flags `options` name, not yet loaded.
config::Sources config_sources(const CommonOptions& options);

}  // namespace tandem::commands
