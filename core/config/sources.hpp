#pragma once

// The three sources of configuration, applied by load() in this order. The file reports every bad
// entry at once (one line each, in file order); the environment and the flags throw ConfigError at
// the first bad entry.

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config/merge.hpp"

namespace tandem::config {

// The TOML file. A missing file is skipped unless `required`.
void apply_file(const std::filesystem::path& path, bool required, Merge& merge);
// The text of a TOML file; `name` stands for the file in messages ("name:line: section.key: …").
void apply_toml(std::string_view text, const std::string& name, Merge& merge);

// TANDEM_<SECTION>_<KEY> and the v2.0 names; a TANDEM_ name wins over its v2.0 name. A v2.0
// variable set to "" counts as unset. An unknown TANDEM_<SECTION>_* name of a known section is an
// error; TANDEM_ names of other shapes belong to other tools and are ignored.
void apply_environment(const std::map<std::string, std::string>& env, Merge& merge);

// ("section.key", "value") pairs, parsed like environment values, in order.
void apply_overrides(const std::vector<std::pair<std::string, std::string>>& overrides, Merge& merge);

struct Sources;
// The three sources applied in order, before the cross-key checks (Merge::finish).
Merge merged(const Sources& sources);

}  // namespace tandem::config
