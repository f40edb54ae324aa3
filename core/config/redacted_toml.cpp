#include <sstream>
#include <toml++/toml.h>

#include "core/config/key_table.hpp"
#include "core/config/merge.hpp"
#include "core/config/sources.hpp"
#include "core/config/value.hpp"
#include "core/util/duration.hpp"

namespace tandem::config {

namespace {

constexpr auto kFormat = toml::format_flags::allow_unicode_strings;

template <class Node>
void render(std::ostream& out, const Node& node) {
  out << toml::toml_formatter{node, kFormat};
}

void render_value(std::ostream& out, const KeySpec& key, const Value& value) {
  if (key.secret) {
    render(out, toml::value<std::string>("***"));
    return;
  }
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Duration>) {
          render(out, toml::value<std::string>(util::format_duration(v)));
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          toml::array array;
          for (const auto& item : v) array.push_back(item);
          render(out, array);
        } else {
          render(out, toml::value<T>(v));
        }
      },
      value);
}

}  // namespace

namespace {

std::string render_toml(const Config& config, const std::vector<Origin>* origins) {
  Config copy = config;  // resolving a field needs a mutable Config; present sections only
  std::ostringstream out;
  for (const auto& section : sections()) {
    if (!section.present(copy)) continue;
    if (out.tellp() > 0) out << "\n";
    out << "[" << section.name << "]\n";
    for (const auto& key : keys()) {
      if (key.section != section.name) continue;
      out << key.name << " = ";
      render_value(out, key, read(key, copy));
      if (origins) out << "  # " << describe((*origins)[index_of(key)]);
      out << "\n";
    }
  }
  return out.str();
}

}  // namespace

std::string to_redacted_toml(const Config& config) { return render_toml(config, nullptr); }

std::string effective_config(const Sources& sources) {
  Merge merge = merged(sources);
  const std::vector<Origin> origins = merge.origins();
  const Config config = std::move(merge).finish();
  return render_toml(config, &origins);
}

}  // namespace tandem::config
