#include "core/redis/reply.hpp"

#include <cstdio>
#include <utility>

namespace tandem::redis {

namespace {

void append_quoted(std::string& out, const std::string& bytes) {
  out += '"';
  for (unsigned char c : bytes) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  out += '"';
}

void append(std::string& out, const Reply& reply) {
  switch (reply.type) {
    case Reply::Type::nil: out += "(nil)"; break;
    case Reply::Type::integer: out += "(integer) " + std::to_string(reply.integer); break;
    case Reply::Type::string: append_quoted(out, reply.text); break;
    case Reply::Type::status: out += reply.text; break;
    case Reply::Type::error: out += "(error) " + reply.text; break;
    case Reply::Type::failure: out += "(failure) " + reply.text; break;
    case Reply::Type::array:
      out += '[';
      for (std::size_t i = 0; i < reply.elements.size(); ++i) {
        if (i > 0) out += ", ";
        out += std::to_string(i + 1) + ") ";
        append(out, reply.elements[i]);
      }
      out += ']';
      break;
  }
}

}  // namespace

Reply make_failure(std::string reason) {
  Reply reply;
  reply.type = Reply::Type::failure;
  reply.text = std::move(reason);
  return reply;
}

std::string to_string(const Reply& reply) {
  std::string out;
  append(out, reply);
  return out;
}

}  // namespace tandem::redis
