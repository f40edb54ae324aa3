#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/config/config.hpp"
#include "tests/unit/config/temp_file.hpp"

namespace tandem::config::test {

using Env = std::map<std::string, std::string>;
using Overrides = std::vector<std::pair<std::string, std::string>>;

inline Sources sources(const TempFile* file, Env env = {}, Overrides overrides = {}) {
  Sources s;
  if (file) {
    s.file = file->path();
    s.file_required = true;
  }
  s.env = std::move(env);
  s.overrides = std::move(overrides);
  return s;
}

// The ConfigError message load() throws, or "" when loading succeeds.
inline std::string load_error(const Sources& s) {
  try {
    load(s);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

inline std::string file_error(std::string_view toml) {
  const TempFile file(toml);
  return load_error(sources(&file));
}

}  // namespace tandem::config::test
