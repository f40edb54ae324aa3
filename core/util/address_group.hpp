#pragma once

#include <string>

namespace tandem::util {

// The key per-address limits count under: an IPv4 address itself (also when written IPv4-mapped),
// an IPv6 address's /64 (one subscriber's prefix: a client cannot step around a limit by changing
// its interface id), e.g. "2001:db8:1:2::/64". Text that is not an address is its own key.
std::string address_group(const std::string& addr);

}  // namespace tandem::util
