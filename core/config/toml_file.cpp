#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <toml++/toml.h>

#include "core/config/sources.hpp"
#include "core/util/duration.hpp"

// GCC 12 at -O1 (the sanitizer build) reports a false maybe-uninitialized inside std::variant's
// move constructor for the Values converted here, once errors are collected instead of thrown
// (value.cpp works around the same report by emplacing). Nothing uninitialized is read: the config
// tests run under ASan+UBSan.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tandem::config {

namespace {

constexpr std::size_t kMaxFileBytes = 1 << 20;

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

std::string cannot_read(const std::string& name, int error) {
  return name + ": cannot read: " + std::strerror(error);
}

// The file's text, or nullopt when it does not exist and is not required.
std::optional<std::string> read_text(const std::string& name, bool required) {
  File file(std::fopen(name.c_str(), "rb"), &std::fclose);
  if (!file) {
    const int error = errno;
    if (error == ENOENT && !required) return std::nullopt;
    throw ConfigError(cannot_read(name, error));
  }
  std::string text;
  char buffer[8192];
  while (true) {
    const std::size_t n = std::fread(buffer, 1, sizeof buffer, file.get());
    text.append(buffer, n);
    if (text.size() > kMaxFileBytes) throw ConfigError(name + ": cannot read: larger than 1 MiB");
    if (n < sizeof buffer) break;
  }
  if (std::ferror(file.get())) throw ConfigError(cannot_read(name, errno));
  return text;
}

std::string_view line_of(std::string_view text, std::uint32_t line) {
  for (std::uint32_t i = 1; i < line; ++i) {
    const auto newline = text.find('\n');
    if (newline == std::string_view::npos) return {};
    text.remove_prefix(newline + 1);
  }
  return text.substr(0, text.find('\n'));
}

bool mentions_secret(std::string_view line) {
  return std::any_of(keys().begin(), keys().end(), [&](const KeySpec& key) {
    return key.secret && line.find(key.name) != std::string_view::npos;
  });
}

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::array:
      return "array";
    case toml::node_type::table:
      return "table";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::uint32_t line_number(const toml::node& node) { return node.source().begin.line; }

// The table's entries sorted by position, so the first error reported is the first in the file.
std::vector<std::pair<std::string_view, const toml::node*>> in_file_order(const toml::table& table) {
  std::vector<std::pair<std::string_view, const toml::node*>> entries;
  for (const auto& [key, node] : table) entries.emplace_back(key.str(), &node);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const auto& pa = a.second->source().begin;
    const auto& pb = b.second->source().begin;
    return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
  });
  return entries;
}

Conversion wrong_type(const KeySpec& key, std::string_view type) {
  return Conversion{std::nullopt,
                    "expected " + toml_expectation(key) + " (got " + std::string(type) + ")"};
}

Conversion from_toml(const KeySpec& key, const toml::node& node) {
  switch (key.kind) {
    case Kind::string:
      if (const auto* s = node.as_string()) return Conversion{Value(s->get()), {}};
      break;
    case Kind::integer:
    case Kind::port:
      if (const auto* n = node.as_integer()) return Conversion{Value(n->get()), {}};
      break;
    case Kind::boolean:
      if (const auto* b = node.as_boolean()) return Conversion{Value(b->get()), {}};
      break;
    case Kind::duration:
      if (const auto* s = node.as_string()) {
        if (const auto d = util::parse_duration(s->get())) return Conversion{Value(*d), {}};
        return Conversion{std::nullopt, "expected a duration, " + std::string(util::kDurationForms) +
                                            " " + got(key, in_quotes(s->get()))};
      }
      break;
    case Kind::string_list:
      if (const auto* array = node.as_array()) {
        std::vector<std::string> items;
        for (const auto& element : *array) {
          const auto* s = element.as_string();
          if (!s) return wrong_type(key, std::string(type_name(element)) + " in the array");
          items.push_back(s->get());
        }
        return Conversion{Value(std::move(items)), {}};
      }
      break;
  }
  return wrong_type(key, type_name(node));
}

std::string unknown_root_entry(std::string_view name, const toml::node& node) {
  std::string hint;
  if (!node.is_table()) {
    const auto same_name = std::find_if(keys().begin(), keys().end(),
                                        [&](const KeySpec& k) { return k.name == name; });
    if (same_name != keys().end()) hint = "; did you mean " + dotted_name(*same_name) + " (under [" +
                                          std::string(same_name->section) + "])?";
    return "unknown key" + hint;
  }
  std::vector<std::string> names;
  for (const auto& s : sections()) names.emplace_back(s.name);
  if (const auto guess = closest(name, names)) hint = "; did you mean [" + *guess + "]?";
  return "unknown section" + hint;
}

std::string unknown_key(const SectionSpec& section, std::string_view name) {
  std::vector<std::string> names;
  for (const auto& k : keys()) {
    if (k.section == section.name) names.emplace_back(k.name);
  }
  const auto guess = closest(name, names);
  return guess ? "unknown key; did you mean " + std::string(section.name) + "." + *guess + "?"
               : "unknown key";
}

// Converts and stores one key of the file; returns why it cannot be used, or "" once stored.
std::string apply_key(const KeySpec& key, const toml::node& node, const Origin& origin,
                                        Merge& merge) {
  Conversion conversion = from_toml(key, node);
  if (!conversion.value) return message_prefix(origin, key) + ": " + conversion.reason;
  try {
    merge.set(key, *conversion.value, origin);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}

}  // namespace

void apply_file(const std::filesystem::path& path, bool required, Merge& merge) {
  const std::string name = path.string();
  const std::optional<std::string> text = read_text(name, required);
  if (text) apply_toml(*text, name, merge);
}

void apply_toml(std::string_view text, const std::string& name, Merge& merge) {
  toml::table root;
  try {
    root = toml::parse(text, std::string_view(name));
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    const bool hide = mentions_secret(line_of(text, where.line));
    throw ConfigError(name + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                      ": " +
                      (hide ? std::string("invalid TOML (details hidden: the line holds a secret)")
                            : std::string(e.description())));
  }

  // Every entry of a syntactically valid file is checked, and all its errors are reported at once,
  // one per line, in file order.
  std::vector<std::string> errors;
  for (const auto& [section_name, section_node] : in_file_order(root)) {
    const std::string section_at = name + ":" + std::to_string(line_number(*section_node)) + ": ";
    const SectionSpec* section = find_section(section_name);
    if (!section) {
      errors.push_back(section_at + std::string(section_name) + ": " + unknown_root_entry(section_name, *section_node));
      continue;
    }
    const toml::table* table = section_node->as_table();
    if (!table) {
      errors.push_back(section_at + std::string(section_name) + ": expected a table [" + std::string(section_name) +
                       "] (got " + std::string(type_name(*section_node)) + ")");
      continue;
    }
    merge.engage(*section);
    for (const auto& [key_name, value_node] : in_file_order(*table)) {
      const std::uint32_t line = line_number(*value_node);
      const KeySpec* key = find_key(section_name, key_name);
      if (!key) {
        errors.push_back(name + ":" + std::to_string(line) + ": " + std::string(section_name) + "." +
                         std::string(key_name) + ": " + unknown_key(*section, key_name));
        continue;
      }
      std::string error = apply_key(*key, *value_node, Origin::file(name, line), merge);
      if (!error.empty()) errors.push_back(std::move(error));
    }
  }
  if (errors.empty()) return;
  std::string message = errors.front();
  for (std::size_t i = 1; i < errors.size(); ++i) message += "\n" + errors[i];
  throw ConfigError(message);
}

}  // namespace tandem::config
