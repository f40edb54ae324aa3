#include "core/log/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace tandem::log {

namespace {

constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v";

spdlog::level::level_enum parse_level(const std::string& level) {
  if (level == "trace") return spdlog::level::trace;
  if (level == "debug") return spdlog::level::debug;
  if (level == "info") return spdlog::level::info;
  if (level == "warn" || level == "warning") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  if (level == "critical") return spdlog::level::critical;
  if (level == "off") return spdlog::level::off;
  throw std::invalid_argument("unknown log level \"" + level + "\" (trace|debug|info|warn|error|off)");
}

bool use_json(const Options& options) {
  if (options.format == "json") return true;
  if (options.format == "text") return false;
  if (options.format == "auto") return !options.terminal;
  throw std::invalid_argument("unknown log format \"" + options.format + "\" (auto|text|json)");
}

}  // namespace

void setup(const Options& options) {
  const auto level = parse_level(options.level);
  const bool json = use_json(options);

  spdlog::sink_ptr sink;
  if (!json && options.terminal) {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  if (json) {
    sink->set_formatter(make_json_formatter());
  } else {
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(kTextPattern));
  }

  auto logger = std::make_shared<spdlog::logger>("tandem", std::move(sink));
  logger->set_level(level);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace tandem::log
