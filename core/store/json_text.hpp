#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace tandem::store {

// Compact JSON text of `value`. Written here rather than with boost::json::serialize because
// that prints doubles in exponent form (12.5 -> 1.25E1); here doubles take their shortest
// round-trip form ("12.5", "3", "1e+21"), non-finite ones become null.
std::string write_json(const boost::json::value& value);

// `text` parsed and re-written with object keys sorted at every level, so that PostgreSQL
// JSONB (which reorders keys and adds spaces) and SQLite TEXT print the same. Text that is not
// JSON becomes a JSON string holding it; empty text becomes "null".
std::string normalize_json(std::string_view text);

}  // namespace tandem::store
