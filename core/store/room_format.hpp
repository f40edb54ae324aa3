#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/store/room_store.hpp"

namespace tandem::store {

// How `tandem rooms` prints. table: for people — aligned columns, relative times, every line at
// most kTableWidth columns (long values are cut with "…"). json: one object per line, for
// scripts (times as ISO-8601 UTC with milliseconds). csv: RFC 4180 with a header row.
enum class Format { table, json, csv };

inline constexpr std::size_t kTableWidth = 100;
inline constexpr std::string_view kFormatForms = "table, json or csv";

std::optional<Format> parse_format(std::string_view text);

// "now", "42s ago", "5m ago", "3h ago", "12d ago" for `then` seen from `now`.
std::string format_age(std::int64_t now_ms, std::int64_t then_ms);

// "2024-11-27T18:30:00.123Z"
std::string format_iso(std::int64_t ms);

// Parses "2024-11-27T18:30:00Z" / "2024-11-27T18:30:00.123Z" / "2024-11-27 18:30:00Z" (UTC).
std::optional<std::int64_t> parse_iso(std::string_view text);

// `rooms list`. Table and csv start with a header row when `header`.
std::string format_rooms(const std::vector<RoomSummary>& rooms, Format format, std::int64_t now_ms,
                         bool header = true);

// `rooms events`. `header`: print the table/csv header first (--follow prints it once).
std::string format_events(const std::vector<Event>& events, Format format, bool header);

// `rooms show` (table or json; csv is not offered for one room).
std::string format_room(const RoomDetail& room, const std::vector<Event>& last_events, Format format,
                        std::int64_t now_ms);

}  // namespace tandem::store
