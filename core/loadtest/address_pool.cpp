#include "core/loadtest/address_pool.hpp"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>

namespace tandem::loadtest {

namespace {

std::vector<std::string_view> split(std::string_view text) {
  std::vector<std::string_view> parts;
  while (!text.empty()) {
    const auto comma = text.find(',');
    auto part = text.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) parts.push_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return parts;
}

std::string v4_text(std::uint32_t host_order) {
  return fmt::format("{}.{}.{}.{}", host_order >> 24, (host_order >> 16) & 0xff, (host_order >> 8) & 0xff,
                     host_order & 0xff);
}

}  // namespace

std::variant<AddressPool, std::string> AddressPool::parse(const std::vector<std::string>& entries) {
  AddressPool pool;
  for (const auto& entry : entries) {
    for (const auto part : split(entry)) {
      const auto slash = part.find('/');
      const std::string address(part.substr(0, slash));
      in_addr v4{};
      in6_addr v6{};
      Range range;
      if (::inet_pton(AF_INET, address.c_str(), &v4) == 1) {
        int prefix = 32;
        if (slash != std::string_view::npos) {
          const auto digits = part.substr(slash + 1);
          const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
          if (ec != std::errc() || end != digits.data() + digits.size() || prefix < 0 || prefix > 32) {
            return fmt::format("--bind {}: the prefix length must be 0 to 32", part);
          }
        }
        const std::uint32_t base = ntohl(v4.s_addr);
        const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
        const std::uint32_t network = base & mask;
        const std::uint64_t block = std::uint64_t{1} << (32 - prefix);
        if (block <= 2) {
          range.first = network;
          range.count = block;
        } else {
          range.first = network + 1;  // without the network and broadcast addresses
          range.count = block - 2;
        }
      } else if (slash == std::string_view::npos && ::inet_pton(AF_INET6, address.c_str(), &v6) == 1) {
        range.v6 = true;
        range.text = address;
        range.count = 1;
      } else {
        return fmt::format("--bind {}: expected an IPv4 address, an IPv4 CIDR block (127.1.0.0/16) or an IPv6 "
                           "address",
                           part);
      }
      pool.size_ += range.count;
      pool.ranges_.push_back(std::move(range));
    }
  }
  return pool;
}

AddressPool AddressPool::loopback_rooms() { return std::get<AddressPool>(parse({"127.16.0.0/12"})); }

std::string AddressPool::at(std::uint64_t i) const {
  if (size_ == 0) return {};
  i %= size_;
  for (const auto& r : ranges_) {
    if (i < r.count) return r.v6 ? r.text : v4_text(r.first + static_cast<std::uint32_t>(i));
    i -= r.count;
  }
  return {};
}

}  // namespace tandem::loadtest
