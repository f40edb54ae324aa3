#include <algorithm>

#include "core/config/sources.hpp"

namespace tandem::config {

namespace {

void apply_variable(const KeySpec& key, const std::string& name, const std::string& text,
                    Merge& merge) {
  const Origin origin = Origin::env(name);
  Conversion conversion = from_text(key, text);
  if (!conversion.value) throw ConfigError(message_prefix(origin, key) + ": " + conversion.reason);
  merge.set(key, *conversion.value, origin);
}

void reject_unknown(const std::map<std::string, std::string>& env) {
  for (const auto& section : sections()) {
    const std::string prefix = env_prefix(section);
    std::vector<std::string> known;
    for (const auto& key : keys()) {
      if (key.section == section.name) known.push_back(env_name(key));
    }
    for (auto it = env.lower_bound(prefix); it != env.end() && it->first.starts_with(prefix); ++it) {
      if (std::find(known.begin(), known.end(), it->first) != known.end()) continue;
      const auto guess = closest(it->first, known);
      throw ConfigError("env " + it->first + ": unknown key" +
                        (guess ? "; did you mean " + *guess + "?" : std::string()));
    }
  }
}

}  // namespace

void apply_environment(const std::map<std::string, std::string>& env, Merge& merge) {
  reject_unknown(env);
  for (const auto& key : keys()) {
    const std::string name = env_name(key);
    if (const auto it = env.find(name); it != env.end()) {
      apply_variable(key, name, it->second, merge);
    } else if (!key.v2_env.empty()) {
      const auto v2 = env.find(std::string(key.v2_env));
      if (v2 != env.end() && !v2->second.empty()) apply_variable(key, v2->first, v2->second, merge);
    }
  }
}

}  // namespace tandem::config
