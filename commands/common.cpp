#include "commands/common.hpp"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <filesystem>

#include "core/log/log.hpp"

namespace tandem::commands {

void add_common_options(CLI::App& app, CommonOptions& options) {
  app.add_option("-c,--config", options.config_path,
                 "Configuration file (TOML); default ./tandem.toml when it exists");
  app.add_option("--set", options.settings,
                 "Set any configuration key, e.g. --set limits.max_room_members=20 (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_option("--log-level", options.log_level, "Log level: trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--log-format", options.log_format,
                 "Log format: text|json|auto (auto = text on a terminal, json otherwise)")
      ->check(CLI::IsMember({"text", "json", "auto"}));
}

config::Sources config_sources(const CommonOptions& options) {
  config::Sources sources;
  if (!options.config_path.empty()) {
    sources.file = options.config_path;
    sources.file_required = true;
  } else if (std::filesystem::exists("tandem.toml")) {
    sources.file = "tandem.toml";
  }
  sources.env = config::process_environment();
  for (const auto& setting : options.settings) {
    const auto eq = setting.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw config::ConfigError("flag --set " + setting + ": expected KEY=VALUE, e.g. server.port=4002");
    }
    sources.overrides.emplace_back(setting.substr(0, eq), setting.substr(eq + 1));
  }
  for (const auto& s : options.flag_settings) sources.overrides.push_back(s);
  if (!options.log_level.empty()) sources.overrides.emplace_back("log.level", options.log_level);
  if (!options.log_format.empty()) sources.overrides.emplace_back("log.format", options.log_format);

  return sources;
}

config::Config load_config_and_logging(const CommonOptions& options) {
  config::Config config = config::load(config_sources(options));
  log::setup(log::Options{config.log.level, config.log.format, ::isatty(STDERR_FILENO) != 0});
  return config;
}

}  // namespace tandem::commands
