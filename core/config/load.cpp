#include <unistd.h>

#include "core/config/config.hpp"
#include "core/config/sources.hpp"

namespace tandem::config {

Merge merged(const Sources& sources) {
  Merge merge;
  if (sources.file) apply_file(*sources.file, sources.file_required, merge);
  apply_environment(sources.env, merge);
  apply_overrides(sources.overrides, merge);
  return merge;
}

Config load(const Sources& sources) { return merged(sources).finish(); }

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = ::environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    env.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return env;
}

}  // namespace tandem::config
