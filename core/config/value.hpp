#pragma once

// A configuration value on its way from a source (file, environment, flag) into a Config, and the
// wording of the reasons a value is refused. Reasons never contain a secret's value.

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/config/key_table.hpp"

namespace tandem::config {

// Int and Port values are held as int64; Duration as milliseconds.
using Value = std::variant<std::string, std::int64_t, bool, Duration, std::vector<std::string>>;

// A converted value, or the reason it could not be converted ("expected ... (got ...)").
struct Conversion {
  std::optional<Value> value;
  std::string reason;
};

// Parses an environment or flag value. Lists are comma-separated (blanks around items and empty
// items are dropped); booleans accept true/false, 1/0, yes/no, on/off in any case.
Conversion from_text(const KeySpec& key, std::string_view text);

// Why a value of the right kind is still unacceptable (range, allowed values, key check), or
// nullopt.
std::optional<std::string> violation(const KeySpec& key, const Value& value);

// Stores `value` (already checked) into `config`. Both assign and read engage the key's
// optional section, so read only keys of sections that are present.
void assign(const KeySpec& key, Config& config, const Value& value);
Value read(const KeySpec& key, Config& config);
// The built-in default (of an engaged section, for [redis] and [postgres]).
Value default_value(const KeySpec& key);

// What the key accepts, for "expected X (got Y)": "an integer 1-65535", "true or false", ...
std::string expectation(const KeySpec& key);
// Like expectation() but naming the TOML type to write: "a duration such as 15s",
// "an array of strings".
std::string toml_expectation(const KeySpec& key);

// The "(got ...)" suffix: `shown` for ordinary keys, "(value hidden)" for secrets.
std::string got(const KeySpec& key, std::string_view shown);
// A value as messages show it: 70000, 20m, true, "text", ["a", "b"].
std::string display(const Value& value);
// `text` in double quotes, escaped, valid UTF-8 and cut to a readable length.
std::string in_quotes(std::string_view text);

}  // namespace tandem::config
