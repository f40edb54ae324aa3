#include "core/net/client_socket.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

namespace tandem::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

tcp::endpoint open_client_socket(LoopSocket& socket, const ClientEndpoint& endpoint, const std::string& source,
                                 boost::system::error_code& ec) {
  const auto address = asio::ip::make_address(endpoint.address, ec);
  if (ec) return {};
  const tcp::endpoint remote(address, endpoint.port);
  socket.open(remote.protocol(), ec);
  if (ec) return {};
  if (!source.empty()) {
    const auto local = asio::ip::make_address(source, ec);
    if (ec) return {};
#ifdef IP_BIND_ADDRESS_NO_PORT
    const int one = 1;
    ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    socket.bind(tcp::endpoint(local, 0), ec);
    if (ec) return {};
  }
  return remote;
}

}  // namespace tandem::net
