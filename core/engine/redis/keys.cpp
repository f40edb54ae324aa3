#include "core/engine/redis/keys.hpp"

namespace tandem::engine::redis {

std::string_view node_of(std::string_view conn_id) {
  const auto slash = conn_id.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : conn_id.substr(0, slash);
}

}  // namespace tandem::engine::redis
