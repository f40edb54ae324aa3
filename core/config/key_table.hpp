#pragma once

// The one table of configuration keys. The TOML file, the environment, the --set overrides and
// to_redacted_toml all work from it, so a key is declared once, here.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/config/config.hpp"

namespace tandem::config {

enum class Kind { string, integer, boolean, duration, string_list, port };

// Where a key's value lives inside a Config. Resolving it engages an optional section.
using FieldRef = std::variant<std::string*, int*, std::int64_t*, std::uint16_t*, bool*, Duration*,
                              std::vector<std::string>*>;

// Extra rule for a string, or for every entry of a list: nullptr when `text` is acceptable,
// otherwise the reason ("must start with http:// or https://").
using StringCheck = const char* (*)(std::string_view text);

struct KeySpec {
  std::string_view section;
  std::string_view name;
  Kind kind = Kind::string;
  FieldRef (*field)(Config&) = nullptr;
  std::string_view description;  // one line, shown in tandem.toml.example
  // Inclusive bounds of integer and port values, of durations in milliseconds.
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::span<const std::string_view> allowed;  // strings: the value must be one of these
  bool non_empty = false;                     // strings: "" is rejected
  StringCheck check = nullptr;
  bool secret = false;      // never echoed in messages; rendered "***"
  std::string_view v2_env;  // the v2.0 environment name, if any

  constexpr KeySpec range(std::int64_t lo, std::int64_t hi) const {
    KeySpec k = *this;
    k.min = lo;
    k.max = hi;
    return k;
  }
  constexpr KeySpec range(Duration lo, Duration hi) const { return range(lo.count(), hi.count()); }
  constexpr KeySpec one_of(std::span<const std::string_view> values) const {
    KeySpec k = *this;
    k.allowed = values;
    return k;
  }
  constexpr KeySpec required() const {
    KeySpec k = *this;
    k.non_empty = true;
    return k;
  }
  constexpr KeySpec checked(StringCheck c) const {
    KeySpec k = *this;
    k.check = c;
    return k;
  }
  constexpr KeySpec hidden() const {
    KeySpec k = *this;
    k.secret = true;
    return k;
  }
  constexpr KeySpec env(std::string_view variable) const {
    KeySpec k = *this;
    k.v2_env = variable;
    return k;
  }
};

struct SectionSpec {
  std::string_view name;
  bool optional = false;                      // a std::optional member of Config
  bool (*present)(const Config&) = nullptr;   // always true unless optional
  void (*engage)(Config&) = nullptr;
};

namespace detail {

template <class T>
struct IsOptional : std::false_type {
  using value_type = T;
};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {
  using value_type = T;
};

template <auto Section>
auto& section_of(Config& c) {
  auto& s = c.*Section;
  if constexpr (IsOptional<std::remove_cvref_t<decltype(s)>>::value) {
    if (!s) s.emplace();
    return *s;
  } else {
    return s;
  }
}

template <auto Section, auto Member>
FieldRef field_of(Config& c) {
  return &(section_of<Section>(c).*Member);
}

template <class T>
constexpr Kind kind_of() {
  if constexpr (std::is_same_v<T, std::string>) return Kind::string;
  else if constexpr (std::is_same_v<T, bool>) return Kind::boolean;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return Kind::port;
  else if constexpr (std::is_same_v<T, Duration>) return Kind::duration;
  else if constexpr (std::is_same_v<T, std::vector<std::string>>) return Kind::string_list;
  else {
    static_assert(std::is_same_v<T, int> || std::is_same_v<T, std::int64_t>);
    return Kind::integer;
  }
}

template <auto Section>
bool section_present(const Config& c) {
  if constexpr (IsOptional<std::remove_cvref_t<decltype(c.*Section)>>::value) {
    return (c.*Section).has_value();
  } else {
    return true;
  }
}

template <auto Section>
void section_engage(Config& c) {
  section_of<Section>(c);
}

}  // namespace detail

// key<&Config::server, &Server::port>("server", "port", "Listen port."): the kind follows the
// member's type; ports get the range 1-65535.
template <auto Section, auto Member>
constexpr KeySpec key(std::string_view section, std::string_view name, std::string_view description) {
  using Field = std::remove_cvref_t<decltype(std::declval<Config&>().*Section)>;
  using SectionType = typename detail::IsOptional<Field>::value_type;
  using T = std::remove_cvref_t<decltype(std::declval<SectionType&>().*Member)>;
  KeySpec k;
  k.section = section;
  k.name = name;
  k.kind = detail::kind_of<T>();
  k.field = &detail::field_of<Section, Member>;
  k.description = description;
  if (k.kind == Kind::port) return k.range(1, 65535);
  return k;
}

template <auto Section>
constexpr SectionSpec section(std::string_view name) {
  using Field = std::remove_cvref_t<decltype(std::declval<Config&>().*Section)>;
  return SectionSpec{name, detail::IsOptional<Field>::value, &detail::section_present<Section>,
                     &detail::section_engage<Section>};
}

// All sections and keys, in the order of config.hpp.
std::span<const SectionSpec> sections();
std::span<const KeySpec> keys();

const SectionSpec* find_section(std::string_view name);
const KeySpec* find_key(std::string_view section, std::string_view name);
std::size_t index_of(const KeySpec& key);

// "limits.max_room_members"
std::string dotted_name(const KeySpec& key);
// "TANDEM_LIMITS_MAX_ROOM_MEMBERS"
std::string env_name(const KeySpec& key);
// "TANDEM_LIMITS_"
std::string env_prefix(const SectionSpec& section);

// The closest candidate to a misspelt `name`, if one is close enough to suggest.
std::optional<std::string> closest(std::string_view name, std::span<const std::string> candidates);

}  // namespace tandem::config
