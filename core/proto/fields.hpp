#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace tandem::proto::detail {

// Typed access to the fields of one client object (docs/protocol.md §10 "Fields"): an absent field
// and a `null` one are the same; a present field of the wrong type or range marks the whole
// frame bad (`bad()`), and the accessor then returns its default.
class Fields {
 public:
  explicit Fields(const boost::json::object& object) : object_(object) {}

  // The field, or nullptr when absent or null.
  const boost::json::value* find(std::string_view key) const;

  std::optional<double> number(std::string_view key);  // finite
  std::optional<double> time(std::string_view key);    // finite, >= 0
  std::optional<bool> boolean(std::string_view key);
  std::optional<std::string> string(std::string_view key);

  // Required fields: absence is bad too.
  double required_time(std::string_view key);
  bool required_boolean(std::string_view key);
  std::string required_string(std::string_view key);

  bool bad() const { return bad_; }

 private:
  const boost::json::object& object_;
  bool bad_ = false;
};

// The numeric value of a JSON number, nullopt for anything else.
std::optional<double> as_number(const boost::json::value& value);

}  // namespace tandem::proto::detail
