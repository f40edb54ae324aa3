#pragma once

// Reading fields of a JSON report by path, for the comparison and the HTML report. Boost.JSON's
// JSON Pointer (`at_pointer`) arrives in Boost 1.81; Debian 12 ships 1.74.

#include <boost/json/value.hpp>

#include <initializer_list>
#include <string_view>

namespace tandem::loadtest {

// The value at `path` (object keys from the root), or nullptr where a key or an object is missing.
const boost::json::value* find_path(const boost::json::value& doc, std::initializer_list<std::string_view> path);

// The number at `path`; 0 where it is missing or not a number.
double number_at(const boost::json::value& doc, std::initializer_list<std::string_view> path);

}  // namespace tandem::loadtest
