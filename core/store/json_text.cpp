#include "core/store/json_text.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

namespace tandem::store {

namespace {

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
      out += boost::json::serialize(value.get_string());
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
