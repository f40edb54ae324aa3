#pragma once

#include <memory>
#include <string>

namespace spdlog {
class formatter;
}

namespace tandem::log {

struct Options {
  std::string level = "info";   // trace | debug | info | warn | error | off
  std::string format = "auto";  // text | json | auto
  bool terminal = false;        // stderr is a terminal (auto -> text)
};

// Installs the process-wide default spdlog logger writing to stderr. Thread-safe to log from
// any thread afterwards. Call once, early in a command.
void setup(const Options& options);

// The JSON-lines formatter: one object per line, {"ts","level","logger","msg"}; always valid JSON
// whatever the message holds (quotes, control characters, invalid UTF-8 become U+FFFD).
std::unique_ptr<spdlog::formatter> make_json_formatter();

}  // namespace tandem::log
