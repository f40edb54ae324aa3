#include "core/config/merge.hpp"

namespace tandem::config {

std::string message_prefix(const Origin& origin, const KeySpec& key) {
  switch (origin.source) {
    case Origin::Source::File:
      return origin.where + ": " + dotted_name(key);
    case Origin::Source::Env:
      return "env " + origin.where;
    case Origin::Source::Flag:
      return "flag " + dotted_name(key);
    case Origin::Source::Default:
      break;
  }
  return dotted_name(key);
}

std::string describe(const Origin& origin) {
  switch (origin.source) {
    case Origin::Source::File:
      return origin.where;
    case Origin::Source::Env:
      return "env " + origin.where;
    case Origin::Source::Flag:
      return "flag";
    case Origin::Source::Default:
      break;
  }
  return "default";
}

Merge::Merge() : origins_(keys().size()) {}

void Merge::set(const KeySpec& key, const Value& value, const Origin& origin) {
  if (auto reason = violation(key, value)) {
    throw ConfigError(message_prefix(origin, key) + ": " + *reason);
  }
  assign(key, config_, value);
  origins_[index_of(key)] = origin;
}

void Merge::engage(const SectionSpec& section) { section.engage(config_); }

Config Merge::finish() && {
  check_relations(config_, origins_);
  return std::move(config_);
}

}  // namespace tandem::config
