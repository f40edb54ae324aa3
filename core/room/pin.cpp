#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <stdexcept>

#include "core/room/steps.hpp"
#include "core/util/random.hpp"

namespace tandem::room {

namespace {

constexpr int kIterations = 2000;
constexpr std::size_t kKeyBytes = 32;

}  // namespace

PinHash hash_pin(const std::string& pin_text, const std::string& salt_hex, const std::string& secret) {
  // With a secret, what is stretched is HMAC-SHA256(secret, PIN): without the secret a stolen
  // hash cannot be brute-forced over the few PINs people choose.
  std::string peppered;
  if (!secret.empty()) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int mac_len = 0;
    if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(pin_text.data()), pin_text.size(), mac.data(), &mac_len) == nullptr) {
      throw std::runtime_error("HMAC failed");
    }
    peppered = util::hex(std::string_view(reinterpret_cast<const char*>(mac.data()), mac_len));
  }
  const std::string& pin = secret.empty() ? pin_text : peppered;
  std::array<unsigned char, kKeyBytes> key{};
  const int ok = PKCS5_PBKDF2_HMAC(pin.data(), static_cast<int>(pin.size()),
                                   reinterpret_cast<const unsigned char*>(salt_hex.data()),
                                   static_cast<int>(salt_hex.size()), kIterations, EVP_sha256(),
                                   static_cast<int>(key.size()), key.data());
  if (ok != 1) throw std::runtime_error("PBKDF2 failed");
  return PinHash{salt_hex, util::hex(std::string_view(reinterpret_cast<const char*>(key.data()), key.size())),
                 !secret.empty()};
}

bool pin_matches(const PinHash& stored, const std::string& pin, const std::string& secret) {
  if (stored.peppered && secret.empty()) return false;
  return detail::constant_time_equal(hash_pin(pin, stored.salt, stored.peppered ? secret : std::string()).hash,
                                     stored.hash);
}

std::string pin_salt_for(const std::string& room_id) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  const std::string text = "tandem pin salt\n" + room_id;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return util::hex(std::string_view(reinterpret_cast<const char*>(digest.data()), 16));
}

namespace detail {

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace detail

}  // namespace tandem::room
