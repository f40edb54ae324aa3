#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <stdexcept>

#include "core/room/steps.hpp"
#include "core/util/random.hpp"

namespace tandem::room {

namespace {

constexpr int kIterations = 2000;
constexpr std::size_t kKeyBytes = 32;

}  // namespace

PinHash hash_pin(const std::string& pin, const std::string& salt_hex) {
  std::array<unsigned char, kKeyBytes> key{};
  const int ok = PKCS5_PBKDF2_HMAC(pin.data(), static_cast<int>(pin.size()),
                                   reinterpret_cast<const unsigned char*>(salt_hex.data()),
                                   static_cast<int>(salt_hex.size()), kIterations, EVP_sha256(),
                                   static_cast<int>(key.size()), key.data());
  if (ok != 1) throw std::runtime_error("PBKDF2 failed");
  return PinHash{salt_hex, util::hex(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()))};
}

bool pin_matches(const PinHash& stored, const std::string& pin) {
  return detail::constant_time_equal(hash_pin(pin, stored.salt).hash, stored.hash);
}

namespace detail {

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace detail

}  // namespace tandem::room
