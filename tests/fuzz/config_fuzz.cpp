// Configuration (core/config): TOML text, then environment variables, then --set overrides, merged
// and validated. The input is the TOML text, optionally followed by a NUL byte and NAME=VALUE
// lines (the environment), and by another NUL byte and section.key=value lines (the overrides).
//
// Invariants: any input gives a Config or a ConfigError (no other exception, no crash); a
// secret's value appears in no error message and not in the redacted rendering (checked with a
// password set through the environment); and the redacted rendering, loaded as a file, gives the
// same Config with every secret (passwords, security.pin_secret) replaced by "***".

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config/config.hpp"
#include "core/config/merge.hpp"
#include "core/config/sources.hpp"
#include "tests/fuzz/check.hpp"

namespace {

using namespace tandem;

constexpr std::string_view kSecret = "pw-7Hq2-secret";

struct Input {
  std::string_view toml;
  std::map<std::string, std::string> env;
  std::vector<std::pair<std::string, std::string>> overrides;
};

std::string_view take_until(std::string_view& rest, char end) {
  const auto at = rest.find(end);
  const std::string_view part = rest.substr(0, at);
  rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at + 1);
  return part;
}

std::vector<std::pair<std::string, std::string>> assignments(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    const std::string_view line = take_until(text, '\n');
    const auto eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    out.emplace_back(line.substr(0, eq), line.substr(eq + 1));
  }
  return out;
}

Input split(std::string_view data) {
  Input input;
  input.toml = take_until(data, '\0');
  for (auto& [name, value] : assignments(take_until(data, '\0'))) input.env.emplace(std::move(name), std::move(value));
  input.overrides = assignments(data);
  return input;
}

config::Config load(std::string_view toml, const std::map<std::string, std::string>& env,
                    const std::vector<std::pair<std::string, std::string>>& overrides) {
  config::Merge merge;
  config::apply_toml(toml, "fuzz.toml", merge);
  config::apply_environment(env, merge);
  config::apply_overrides(overrides, merge);
  return std::move(merge).finish();
}

// Loads; a ConfigError is an answer too (its message is returned in `error`).
std::optional<config::Config> try_load(const Input& input, std::string& error) {
  try {
    return load(input.toml, input.env, input.overrides);
  } catch (const config::ConfigError& e) {
    error = e.what();
    FUZZ_CHECK(!error.empty());
    return std::nullopt;
  }
}

void check_round_trip(const config::Config& config) {
  const std::string rendered = config::to_redacted_toml(config);
  config::Config expected = config;
  if (expected.redis) expected.redis->password = "***";
  if (expected.postgres) expected.postgres->password = "***";
  expected.security.pin_secret = "***";  // written as "***" even when empty
  FUZZ_CHECK(load(rendered, {}, {}) == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Input input = split(text);
  std::string error;
  if (const std::optional<config::Config> config = try_load(input, error)) check_round_trip(*config);

  // The same input with a PostgreSQL password from the environment: whatever else goes wrong,
  // the password is never shown.
  if (text.find(kSecret) != std::string_view::npos) return 0;
  input.env["TANDEM_POSTGRES_PASSWORD"] = std::string(kSecret);
  error.clear();
  if (const std::optional<config::Config> config = try_load(input, error)) {
    FUZZ_CHECK(config::to_redacted_toml(*config).find(kSecret) == std::string::npos);
    check_round_trip(*config);
  } else {
    FUZZ_CHECK(error.find(kSecret) == std::string::npos);
  }
  return 0;
}
