#pragma once

#include <string>
#include <vector>

#include "core/config/key_table.hpp"
#include "core/config/value.hpp"

namespace tandem::config {

// Where a key's current value came from. Source values are ordered by precedence.
struct Origin {
  enum class Source { Default, File, Env, Flag };
  Source source = Source::Default;
  std::string where;  // File: "path:line"; Env: the variable name; otherwise empty

  static Origin file(const std::string& path, std::uint32_t line) {
    return {Source::File, path + ":" + std::to_string(line)};
  }
  static Origin env(std::string name) { return {Source::Env, std::move(name)}; }
  static Origin flag() { return {Source::Flag, {}}; }
};

// The start of an error message about `key` set by `origin`: "path:line: section.key",
// "env NAME", "flag section.key" or "section.key" for a default.
std::string message_prefix(const Origin& origin, const KeySpec& key);
// Short form for mentioning another key's origin: "path:line", "env NAME", "flag", "default".
std::string describe(const Origin& origin);

// Applies values source after source; the last write of a key wins and is remembered as its
// origin, so later errors can point at it.
class Merge {
 public:
  Merge();

  // Checks `value` against the key's rules and stores it. Throws ConfigError.
  void set(const KeySpec& key, const Value& value, const Origin& origin);
  // Engages an optional section with its defaults (a [redis] table with no keys).
  void engage(const SectionSpec& section);

  // Runs the cross-key checks and hands out the result. Throws ConfigError.
  Config finish() &&;
  // Where each key's value came from, by index_of(key).
  const std::vector<Origin>& origins() const { return origins_; }

 private:
  Config config_;
  std::vector<Origin> origins_;  // by index_of(key)
};

// The rules between keys (ping_interval < idle_timeout, ...). Throws ConfigError naming both keys.
void check_relations(Config& config, const std::vector<Origin>& origins);

}  // namespace tandem::config
