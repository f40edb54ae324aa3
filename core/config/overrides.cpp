#include "core/config/sources.hpp"

namespace tandem::config {

namespace {

const KeySpec* lookup(std::string_view dotted) {
  const auto dot = dotted.find('.');
  if (dot == std::string_view::npos) return nullptr;
  return find_key(dotted.substr(0, dot), dotted.substr(dot + 1));
}

std::string unknown_key(const std::string& dotted) {
  std::vector<std::string> known;
  for (const auto& key : keys()) known.push_back(dotted_name(key));
  const auto guess = closest(dotted, known);
  return "flag " + dotted + ": unknown key" +
         (guess ? "; did you mean " + *guess + "?" : "; keys are written section.key, see tandem.toml.example");
}

}  // namespace

void apply_overrides(const std::vector<std::pair<std::string, std::string>>& overrides, Merge& merge) {
  for (const auto& [dotted, text] : overrides) {
    const KeySpec* key = lookup(dotted);
    if (!key) throw ConfigError(unknown_key(dotted));
    const Origin origin = Origin::flag();
    Conversion conversion = from_text(*key, text);
    if (!conversion.value) throw ConfigError(message_prefix(origin, *key) + ": " + conversion.reason);
    merge.set(*key, *conversion.value, origin);
  }
}

}  // namespace tandem::config
