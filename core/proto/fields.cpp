#include "core/proto/fields.hpp"

#include <cmath>

namespace tandem::proto::detail {

std::optional<double> as_number(const boost::json::value& value) {
  if (value.is_int64()) return static_cast<double>(value.get_int64());
  if (value.is_uint64()) return static_cast<double>(value.get_uint64());
  if (value.is_double()) return value.get_double();
  return std::nullopt;
}

const boost::json::value* Fields::find(std::string_view key) const {
  const boost::json::value* value = object_.if_contains(key);
  if (value == nullptr || value->is_null()) return nullptr;
  return value;
}

std::optional<double> Fields::number(std::string_view key) {
  const boost::json::value* value = find(key);
  if (value == nullptr) return std::nullopt;
  const std::optional<double> number = as_number(*value);
  if (!number || !std::isfinite(*number)) {
    bad_ = true;
    return std::nullopt;
  }
  return number;
}

std::optional<double> Fields::time(std::string_view key) {
  const std::optional<double> number = this->number(key);
  if (number && *number < 0) {
    bad_ = true;
    return std::nullopt;
  }
  return number;
}

std::optional<bool> Fields::boolean(std::string_view key) {
  const boost::json::value* value = find(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_bool()) {
    bad_ = true;
    return std::nullopt;
  }
  return value->get_bool();
}

std::optional<std::string> Fields::string(std::string_view key) {
  const boost::json::value* value = find(key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    bad_ = true;
    return std::nullopt;
  }
  return std::string(value->get_string());
}

double Fields::required_time(std::string_view key) {
  if (find(key) == nullptr) bad_ = true;
  return time(key).value_or(0);
}

bool Fields::required_boolean(std::string_view key) {
  if (find(key) == nullptr) bad_ = true;
  return boolean(key).value_or(false);
}

std::string Fields::required_string(std::string_view key) {
  if (find(key) == nullptr) bad_ = true;
  return string(key).value_or(std::string());
}

}  // namespace tandem::proto::detail
