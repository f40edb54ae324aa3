#include "core/cluster/keys.hpp"

namespace tandem::cluster {

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

std::string_view node_of(std::string_view conn_id) {
  const auto slash = conn_id.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : conn_id.substr(0, slash);
}

}  // namespace tandem::cluster
