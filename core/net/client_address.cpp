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

bool trusted(const std::string& addr, const std::vector<std::string>& proxies) {
  return std::any_of(proxies.begin(), proxies.end(), [&](const std::string& p) { return canonical(p) == addr; });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           const std::vector<std::string>& trusted_proxies) {
  std::string current = canonical(peer);
  if (forwarded_for.empty() || !trusted(current, trusted_proxies)) return current;
  std::string_view rest = forwarded_for;
  while (!rest.empty()) {
    const auto comma = rest.rfind(',');
    const std::string_view hop = trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
    if (hop.empty()) continue;
    current = canonical(hop);
    if (!trusted(current, trusted_proxies)) return current;
  }
  return current;
}

}  // namespace tandem::net
