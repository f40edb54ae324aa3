#include "core/net/client_address.hpp"

#include <algorithm>

#include <boost/asio/ip/address.hpp>

namespace tandem::net {

namespace {

std::string canonical(std::string_view text) {
  boost::system::error_code ec;
  auto addr = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::string(text);
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, addr.to_v6()).to_string();
  }
  return addr.to_string();
}

// The first `bits` bits of two addresses of one family are equal.
template <typename Bytes>
bool same_prefix(const Bytes& a, const Bytes& b, unsigned bits) {
  for (std::size_t i = 0; i < a.size() && bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const auto mask = static_cast<unsigned char>(0xFF << (8 - take));
    if ((a[i] & mask) != (b[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

// `proxy` is an address or a CIDR range ("10.0.0.0/8").
bool matches(const std::string& addr, const std::string& proxy) {
  const auto slash = proxy.find('/');
  if (slash == std::string::npos) return canonical(proxy) == addr;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(addr, ec);
  const auto network = boost::asio::ip::make_address(proxy.substr(0, slash), ec);
  if (ec || address.is_v4() != network.is_v4()) return false;
  const unsigned bits = static_cast<unsigned>(std::stoul(proxy.substr(slash + 1)));
  return address.is_v4() ? same_prefix(address.to_v4().to_bytes(), network.to_v4().to_bytes(), bits)
                         : same_prefix(address.to_v6().to_bytes(), network.to_v6().to_bytes(), bits);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool is_trusted_proxy(const std::string& addr, const std::vector<std::string>& proxies) {
  return std::any_of(proxies.begin(), proxies.end(), [&](const std::string& p) { return matches(addr, p); });
}

std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           const std::vector<std::string>& trusted_proxies) {
  std::string current = canonical(peer);
  if (forwarded_for.empty() || !is_trusted_proxy(current, trusted_proxies)) return current;
  std::string_view rest = forwarded_for;
  while (!rest.empty()) {
    const auto comma = rest.rfind(',');
    const std::string_view hop = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    if (hop.empty()) continue;
    current = canonical(hop);
    if (!is_trusted_proxy(current, trusted_proxies)) return current;
  }
  return current;
}

}  // namespace tandem::net
