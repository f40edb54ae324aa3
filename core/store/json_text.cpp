#include "core/store/json_text.hpp"

#include <cstdio>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

namespace tandem::store {

namespace {

// A serialized JSON string, with DEL and the C1 controls (U+0080-U+009F; UTF-8 C2 80-C2 9F) also
// written as \u escapes: Boost.JSON escapes only what JSON requires (below U+0020), and a C1 CSI
// printed raw is a terminal escape sequence.
void append_string(const std::string& json, std::string& out) {
  for (std::size_t i = 0; i < json.size(); ++i) {
    const auto c = static_cast<unsigned char>(json[i]);
    const auto next = i + 1 < json.size() ? static_cast<unsigned char>(json[i + 1]) : 0;
    if (c == 0x7f || (c == 0xc2 && next >= 0x80 && next <= 0x9f)) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", c == 0x7f ? 0x7fU : static_cast<unsigned>(next));
      out += escape;
      i += c == 0x7f ? 0 : 1;
    } else {
      out += json[i];
    }
  }
}

void write(const boost::json::value& value, std::string& out) {
  switch (value.kind()) {
    case boost::json::kind::null:
      out += "null";
      break;
    case boost::json::kind::bool_:
      out += value.get_bool() ? "true" : "false";
      break;
    case boost::json::kind::int64:
      out += std::to_string(value.get_int64());
      break;
    case boost::json::kind::uint64:
      out += std::to_string(value.get_uint64());
      break;
    case boost::json::kind::double_: {
      const double d = value.get_double();
      if (!std::isfinite(d)) {
        out += "null";
        break;
      }
      char buffer[32];
      const auto result = std::to_chars(buffer, buffer + sizeof buffer, d);
      out.append(buffer, result.ptr);
      break;
    }
    case boost::json::kind::string:
      append_string(boost::json::serialize(value.get_string()), out);
      break;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : value.get_array()) {
        if (!first) out += ',';
        first = false;
        write(item, out);
      }
      out += ']';
      break;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& member : value.get_object()) {
        if (!first) out += ',';
        first = false;
        out += boost::json::serialize(boost::json::string_view(member.key()));
        out += ':';
        write(member.value(), out);
      }
      out += '}';
      break;
    }
  }
}

boost::json::value sorted(const boost::json::value& value) {
  if (value.is_array()) {
    boost::json::array copy;
    for (const auto& item : value.get_array()) copy.push_back(sorted(item));
    return copy;
  }
  if (!value.is_object()) return value;
  std::vector<const boost::json::key_value_pair*> members;
  for (const auto& member : value.get_object()) members.push_back(&member);
  std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) { return a->key() < b->key(); });
  boost::json::object copy;
  for (const auto* member : members) copy[member->key()] = sorted(member->value());
  return copy;
}

}  // namespace

std::string write_json(const boost::json::value& value) {
  std::string out;
  write(value, out);
  return out;
}

std::string normalize_json(std::string_view text) {
  if (text.empty()) return "null";
  boost::json::error_code ec;
  const boost::json::value parsed = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
  if (ec) return write_json(boost::json::string(boost::json::string_view(text.data(), text.size())));
  return write_json(sorted(parsed));
}

}  // namespace tandem::store
