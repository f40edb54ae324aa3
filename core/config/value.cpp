#include "core/config/value.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "core/util/duration.hpp"
#include "core/util/text.hpp"

namespace tandem::config {

namespace {

constexpr std::size_t kShownBytes = 120;

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::optional<std::int64_t> parse_integer(std::string_view text) {
  std::int64_t value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (first != last && *first == '+') ++first;
  const auto [end, error] = std::from_chars(first, last, value);
  if (error != std::errc() || end != last || first == last) return std::nullopt;
  return value;
}

std::optional<bool> parse_bool(std::string_view text) {
  const std::string t = lower(trim(text));
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return std::nullopt;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  while (true) {
    const auto comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return items;
}

std::string join(std::span<const std::string_view> items) {
  std::string out;
  for (const auto item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

std::string duration_range(const KeySpec& key) {
  return util::format_duration(Duration(key.min)) + "-" + util::format_duration(Duration(key.max));
}

std::optional<std::string> violation_of_string(const KeySpec& key, const std::string& s) {
  // A TOML file is UTF-8 by definition; the environment and flags are held to the same rule, so
  // that every value can be written in the file, rendered by --print-config and sent in JSON.
  if (!util::is_valid_utf8(s)) return "expected UTF-8 text " + got(key, in_quotes(s));
  if (!key.allowed.empty() &&
      std::find(key.allowed.begin(), key.allowed.end(), s) == key.allowed.end()) {
    return "expected " + expectation(key) + " " + got(key, in_quotes(s));
  }
  if (key.non_empty && s.empty()) return "expected " + expectation(key) + " " + got(key, in_quotes(s));
  if (key.check != nullptr) {
    if (const char* reason = key.check(s)) return std::string(reason) + " " + got(key, in_quotes(s));
  }
  return std::nullopt;
}


// Emplaces rather than moves a Value: GCC 12 at -O1 reports a false maybe-uninitialized in
// the variant's move constructor.
void parse_text(Kind kind, std::string_view text, std::optional<Value>& out) {
  switch (kind) {
    case Kind::string:
      out.emplace(std::in_place_type<std::string>, text);
      return;
    case Kind::string_list:
      out.emplace(std::in_place_type<std::vector<std::string>>, split_list(text));
      return;
    case Kind::integer:
    case Kind::port:
      if (const auto n = parse_integer(trim(text))) out.emplace(std::in_place_type<std::int64_t>, *n);
      return;
    case Kind::boolean:
      if (const auto b = parse_bool(text)) out.emplace(std::in_place_type<bool>, *b);
      return;
    case Kind::duration:
      if (const auto d = util::parse_duration(trim(text))) out.emplace(std::in_place_type<Duration>, *d);
      return;
  }
}

}  // namespace

Conversion from_text(const KeySpec& key, std::string_view text) {
  Conversion conversion;
  parse_text(key.kind, text, conversion.value);
  if (conversion.value) return conversion;
  if (key.kind == Kind::duration) {
    conversion.reason = "expected a duration, " + std::string(util::kDurationForms) + " " +
                        got(key, in_quotes(text));
  } else {
    conversion.reason = "expected " + expectation(key) + " " + got(key, in_quotes(text));
  }
  return conversion;
}

std::optional<std::string> violation(const KeySpec& key, const Value& value) {
  return std::visit(
      Overloaded{
          [&](const std::string& s) { return violation_of_string(key, s); },
          [&](std::int64_t n) -> std::optional<std::string> {
            if (n >= key.min && n <= key.max) return std::nullopt;
            return "expected " + expectation(key) + " " + got(key, std::to_string(n));
          },
          [&](bool) -> std::optional<std::string> { return std::nullopt; },
          [&](Duration d) -> std::optional<std::string> {
            if (d.count() >= key.min && d.count() <= key.max) return std::nullopt;
            return "expected " + expectation(key) + " " + got(key, util::format_duration(d));
          },
          [&](const std::vector<std::string>& items) -> std::optional<std::string> {
            for (const auto& item : items) {
              if (auto reason = violation_of_string(key, item)) return "each entry " + *reason;
            }
            return std::nullopt;
          },
      },
      value);
}

void assign(const KeySpec& key, Config& config, const Value& value) {
  std::visit(Overloaded{
                 [&](std::string* target) { *target = std::get<std::string>(value); },
                 [&](int* target) { *target = static_cast<int>(std::get<std::int64_t>(value)); },
                 [&](std::int64_t* target) { *target = std::get<std::int64_t>(value); },
                 [&](std::uint16_t* target) {
                   *target = static_cast<std::uint16_t>(std::get<std::int64_t>(value));
                 },
                 [&](bool* target) { *target = std::get<bool>(value); },
                 [&](Duration* target) { *target = std::get<Duration>(value); },
                 [&](std::vector<std::string>* target) {
                   *target = std::get<std::vector<std::string>>(value);
                 },
             },
             key.field(config));
}

Value read(const KeySpec& key, Config& config) {
  return std::visit(Overloaded{
                        [](const std::string* v) { return Value(*v); },
                        [](const int* v) { return Value(std::int64_t{*v}); },
                        [](const std::int64_t* v) { return Value(*v); },
                        [](const std::uint16_t* v) { return Value(std::int64_t{*v}); },
                        [](const bool* v) { return Value(*v); },
                        [](const Duration* v) { return Value(*v); },
                        [](const std::vector<std::string>* v) { return Value(*v); },
                    },
                    key.field(config));
}

Value default_value(const KeySpec& key) {
  Config defaults;
  return read(key, defaults);
}

std::string expectation(const KeySpec& key) {
  switch (key.kind) {
    case Kind::string:
      if (!key.allowed.empty()) return "one of " + join(key.allowed);
      return key.non_empty ? "a non-empty string" : "a string";
    case Kind::string_list:
      return "a list of strings";
    case Kind::integer:
    case Kind::port:
      return "an integer " + std::to_string(key.min) + "-" + std::to_string(key.max);
    case Kind::boolean:
      return "true or false";
    case Kind::duration:
      return "a duration " + duration_range(key);
  }
  return "a value";
}

std::string toml_expectation(const KeySpec& key) {
  switch (key.kind) {
    case Kind::duration:
      return "a duration such as " +
             util::format_duration(std::get<Duration>(default_value(key)));
    case Kind::string_list:
      return "an array of strings";
    default:
      return expectation(key);
  }
}

std::string got(const KeySpec& key, std::string_view shown) {
  if (key.secret) return "(value hidden)";
  return "(got " + std::string(shown) + ")";
}

std::string display(const Value& value) {
  return std::visit(Overloaded{
                        [](const std::string& s) { return in_quotes(s); },
                        [](std::int64_t n) { return std::to_string(n); },
                        [](bool b) { return std::string(b ? "true" : "false"); },
                        [](Duration d) { return util::format_duration(d); },
                        [](const std::vector<std::string>& items) {
                          std::string out = "[";
                          for (const auto& item : items) {
                            if (out.size() > 1) out += ", ";
                            out += in_quotes(item);
                          }
                          return out + "]";
                        },
                    },
                    value);
}

std::string in_quotes(std::string_view text) {
  std::string_view cut = text;
  bool truncated = false;
  if (cut.size() > kShownBytes) {
    std::size_t end = kShownBytes;
    while (end > 0 && (static_cast<unsigned char>(cut[end]) & 0xC0) == 0x80) --end;
    cut = cut.substr(0, end);
    truncated = true;
  }
  const std::string clean = util::sanitize_utf8(cut);
  std::string out = "\"";
  for (const char c : clean) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7F) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  out += '"';
  if (truncated) out += "...";
  return out;
}

}  // namespace tandem::config
