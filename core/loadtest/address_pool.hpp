#pragma once

// Source addresses for outgoing connections: `--bind 127.0.0.2,127.1.0.0/16,::1`. A CIDR block
// stands for its host addresses (network and broadcast addresses excluded from IPv4 blocks
// larger than /31). Addresses are numbered 0…size()-1 across the entries, in order.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tandem::loadtest {

class AddressPool {
 public:
  // Parses comma-separated entries (several --bind flags are joined). Returns the reason when an
  // entry is not an address or block (a usage error).
  static std::variant<AddressPool, std::string> parse(const std::vector<std::string>& entries);
  // The pool behind --address-per-room without --bind: 127.16.0.0/12 (1,048,574 loopback addresses).
  static AddressPool loopback_rooms();

  bool empty() const { return size_ == 0; }
  std::uint64_t size() const { return size_; }
  // Address number `i % size()`, as text.
  std::string at(std::uint64_t i) const;

 private:
  struct Range {
    bool v6 = false;
    std::string text;       // v6: the single address
    std::uint32_t first = 0;  // v4: first host address
    std::uint64_t count = 0;
  };
  std::vector<Range> ranges_;
  std::uint64_t size_ = 0;
};

}  // namespace tandem::loadtest
