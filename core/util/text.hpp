#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tandem::util {

// UTF-8 helpers written here because none of the project's libraries offers them: Boost.JSON
// passes invalid UTF-8 through unchanged, and the protocol counts Unicode code points.

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s);

// `s` with every ill-formed byte sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view s);

// Number of code points in valid UTF-8 `s`.
std::size_t count_code_points(std::string_view s);

// True when `s` (valid UTF-8) contains a control character (Unicode category Cc:
// U+0000-U+001F, U+007F-U+009F).
bool has_control_chars(std::string_view s);

// The display-name rule of docs/protocol.md §2/§10: remove control characters, trim Unicode
// White_Space at both ends, cut to `max_code_points`, trim again. Input must be valid UTF-8.
std::string clean_display_name(std::string_view s, std::size_t max_code_points);

// Levenshtein distance in bytes, for "did you mean" suggestions (CLI11 and toml++ offer none).
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace tandem::util
