#include "core/util/address_group.hpp"

#include <algorithm>

#include <boost/asio/ip/address.hpp>

namespace tandem::util {

std::string address_group(const std::string& addr) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(addr, ec);
  if (ec || address.is_v4()) return addr;
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::make_address_v6(bytes).to_string() + "/64";
}

}  // namespace tandem::util
