#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace tandem::util {

// The whole content of `file`; nullopt when it cannot be opened or read.
std::optional<std::string> read_file(const std::filesystem::path& file);

}  // namespace tandem::util
