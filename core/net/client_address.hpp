#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tandem::net {

// docs/protocol.md §10 "Client address": the TCP peer, or — when the peer is a trusted proxy — the
// last address of X-Forwarded-For that is not itself a trusted proxy. Addresses are compared
// in their canonical text form.
std::string client_address(std::string_view peer, std::string_view forwarded_for,
                           const std::vector<std::string>& trusted_proxies);

// `addr` (canonical text) is one of `proxies` (addresses or CIDR ranges).
bool is_trusted_proxy(const std::string& addr, const std::vector<std::string>& proxies);

}  // namespace tandem::net
