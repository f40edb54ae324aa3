#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tandem::util {

// Lower-case hexadecimal of every byte of `bytes`.
std::string hex(std::string_view bytes);

// `bytes` bytes from OpenSSL's CSPRNG as lower-case hex (peer ids, session tokens, PIN salts,
// instance names). Throws std::runtime_error if the generator fails.
std::string random_hex(std::size_t bytes);

// `length` characters drawn uniformly from `alphabet` (at most 256 characters) with the CSPRNG
// (short ids). Throws std::runtime_error if the generator fails.
std::string random_string(std::string_view alphabet, std::size_t length);

}  // namespace tandem::util
