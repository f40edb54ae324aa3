#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::redis {

// One Redis reply as a plain value, independent of hiredis. Strings are binary-safe (they may
// hold '\0'). `failure` is not something Redis sends: it stands for "no reply", when the
// connection failed or closed before the reply arrived; the outcome of the command is then
// unknown (it may or may not have been executed).
struct Reply {
  enum class Type { nil, integer, string, status, error, array, failure };

  Type type = Type::nil;
  std::int64_t integer = 0;     // integer
  std::string text;             // string: the value; status, error, failure: the message
  std::vector<Reply> elements;  // array

  // True for `error` and `failure`.
  bool is_error() const { return type == Type::error || type == Type::failure; }

  bool operator==(const Reply&) const = default;
};

Reply make_failure(std::string reason);

// For logs and test messages, in the style of redis-cli: `"abc"`, `(integer) 3`, `(nil)`,
// `(error) ERR ...`, `(failure) ...`, `[1) ..., 2) ...]`. Bytes outside printable ASCII in
// strings are escaped as \xHH.
std::string to_string(const Reply& reply);

}  // namespace tandem::redis
