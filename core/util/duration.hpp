#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::util {

// Durations as operators write them: an integer followed by a unit, "500ms", "15s", "10m", "4h",
// "30d". Several parts may be chained ("1h30m"). Returns nullopt for anything else
// (empty, negative, unknown unit, overflow).
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// The inverse for messages and the example config: the shortest exact form ("90s" -> "90s",
// "3600000ms" -> "1h").
std::string format_duration(std::chrono::milliseconds d);

// The wall clock in epoch milliseconds: the server time of frames, audit records and deadlines.
inline std::int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The accepted forms, for error messages.
inline constexpr std::string_view kDurationForms = "an integer with a unit: ms, s, m, h or d (e.g. 500ms, 15s, 10m, 4h, 30d)";

}  // namespace tandem::util
