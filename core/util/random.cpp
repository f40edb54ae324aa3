#include "core/util/random.hpp"

#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace tandem::util {

namespace {

void fill(unsigned char* out, std::size_t n) {
  if (n > 0 && RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
}

}  // namespace

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  fill(buf.data(), bytes);
  return hex(std::string_view(reinterpret_cast<const char*>(buf.data()), buf.size()));
}

std::string random_string(std::string_view alphabet, std::size_t length) {
  if (alphabet.empty() || alphabet.size() > 256) throw std::invalid_argument("random_string: alphabet size");
  // Rejection sampling keeps every character equally likely.
  const unsigned limit = 256 - 256 % static_cast<unsigned>(alphabet.size());
  std::string out;
  out.reserve(length);
  unsigned char buf[64];
  while (out.size() < length) {
    fill(buf, sizeof buf);
    for (const unsigned char b : buf) {
      if (b >= limit) continue;
      out += alphabet[b % alphabet.size()];
      if (out.size() == length) break;
    }
  }
  return out;
}

}  // namespace tandem::util
