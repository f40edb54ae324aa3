#pragma once

// What every harness shares: an invariant check that stops the fuzzer with the failed condition,
// and a comparison of JSON values that tolerates Boost.JSON 1.81's inexact number parsing (a
// double written and read back may come back a few units in the last place off; see
// core/room/serialize.cpp).

#include <boost/json/value.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                    \
  do {                                                                                           \
    if (!(condition)) {                                                                          \
      std::fprintf(stderr, "invariant broken: %s (%s:%d)\n", #condition, __FILE__, __LINE__); \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)

namespace tandem::fuzz {

inline bool close_doubles(double a, double b) {
  if (a == b || (std::isnan(a) && std::isnan(b))) return true;
  if (!std::isfinite(a) || !std::isfinite(b)) return false;
  return std::fabs(a - b) <= 1e-12 * std::fmax(std::fabs(a), std::fabs(b));
}

// Equal JSON values, doubles compared as close_doubles.
inline bool same_json(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() && b.is_double()) return close_doubles(a.get_double(), b.get_double());
  // An unsigned integer written and read back is signed when it fits.
  if (a.is_int64() && b.is_uint64()) return a.get_int64() >= 0 && static_cast<std::uint64_t>(a.get_int64()) == b.get_uint64();
  if (a.is_uint64() && b.is_int64()) return same_json(b, a);
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!same_json(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& [key, value] : x) {
      const auto* other = y.if_contains(key);
      if (other == nullptr || !same_json(value, *other)) return false;
    }
    return true;
  }
  return a == b;
}

// Every number in `value` is finite. Boost.JSON 1.81 reads a literal beyond a double's range
// (1e400) as infinity, and 0e400 as NaN, and writes them as `Infinity` and `NaN`, which are no
// JSON: a document holding one does not survive its own serialization.
inline bool all_finite(const boost::json::value& value) {
  if (value.is_double()) return std::isfinite(value.get_double());
  if (value.is_array()) {
    for (const auto& item : value.get_array()) {
      if (!all_finite(item)) return false;
    }
  }
  if (value.is_object()) {
    for (const auto& [key, item] : value.get_object()) {
      if (!all_finite(item)) return false;
    }
  }
  return true;
}

}  // namespace tandem::fuzz
