#include "core/store/room_format.hpp"

#include <boost/json.hpp>

#include <array>
#include <cinttypes>
#include <cstdio>
#include <ctime>

#include "core/store/json_text.hpp"
#include "core/util/text.hpp"

namespace tandem::store {

namespace {

constexpr std::string_view kEllipsis = "\u2026";

std::size_t width_of(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// `s` as valid UTF-8 with every control character — C0 (but tab and line breaks when
// `keep_line_breaks`), DEL and C1 — shown as '?', so that nothing a client sent can drive the
// operator's terminal.
std::string printable(std::string_view s, bool keep_line_breaks) {
  const std::string valid = util::sanitize_utf8(s);
  std::string out;
  out.reserve(valid.size());
  for (std::size_t i = 0; i < valid.size(); ++i) {
    const auto c = static_cast<unsigned char>(valid[i]);
    const bool line_break = c == '\t' || c == '\r' || c == '\n';
    if ((c < 0x20 && !(keep_line_breaks && line_break)) || c == 0x7f) {
      out += '?';
    } else if (c == 0xc2 && i + 1 < valid.size() && static_cast<unsigned char>(valid[i + 1]) <= 0x9f) {
      out += '?';  // U+0080-U+009F (a continuation byte after C2 is at least 0x80)
      ++i;
    } else {
      out += valid[i];
    }
  }
  return out;
}

// `s` made printable and cut to `width` code points, the last one an ellipsis when something
// was cut.
std::string cut(std::string_view s, std::size_t width) {
  std::string clean = printable(s, false);
  if (width_of(clean) <= width) return clean;
  std::string out;
  std::size_t n = 0;
  for (std::size_t i = 0; i < clean.size(); ++i) {
    const auto c = static_cast<unsigned char>(clean[i]);
    if ((c & 0xC0) != 0x80 && ++n == width) break;
    out.push_back(clean[i]);
  }
  out += kEllipsis;
  return out;
}

std::string pad(std::string s, std::size_t width, bool right_align = false) {
  const std::size_t w = width_of(s);
  if (w >= width) return s;
  const std::string fill(width - w, ' ');
  return right_align ? fill + s : s + fill;
}

struct Column {
  std::string_view header;
  std::size_t max_width;
  bool right_align = false;
};

// Aligned columns, two spaces apart; the last column is not padded.
std::string render_table(const std::vector<Column>& columns, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& c : columns) widths.push_back(c.header.size());
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : rows) {
    std::vector<std::string> cut_row;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      cut_row.push_back(cut(row[i], columns[i].max_width));
      widths[i] = std::max(widths[i], width_of(cut_row.back()));
    }
    cells.push_back(std::move(cut_row));
  }
  auto line = [&](const std::vector<std::string>& values) {
    std::string out;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) out += "  ";
      const bool last = i + 1 == values.size();
      out += last && !columns[i].right_align ? values[i] : pad(values[i], widths[i], columns[i].right_align);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::vector<std::string> header;
  for (const auto& c : columns) header.emplace_back(c.header);
  std::string out = line(header);
  for (const auto& row : cells) out += line(row);
  return out;
}

std::string csv_field(std::string_view raw) {
  const std::string s = printable(raw, true);
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    out += csv_field(fields[i]);
  }
  return out + "\r\n";
}

std::string optional_or(const std::optional<std::string>& s, std::string_view fallback) {
  return s ? *s : std::string(fallback);
}

boost::json::value json_or_null(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return boost::json::string(*s);
}

std::string table_time(std::int64_t ms) {
  std::string iso = format_iso(ms);  // 2024-11-27T18:30:00.123Z
  iso[10] = ' ';
  return iso.substr(0, 19);
}

boost::json::object event_json(const Event& e) {
  boost::json::object o;
  o["id"] = e.id;
  o["room"] = e.room_id;
  o["seq"] = e.seq ? boost::json::value(*e.seq) : boost::json::value(nullptr);
  o["type"] = e.type;
  o["user"] = json_or_null(e.user_id);
  o["node"] = json_or_null(e.node_id);
  o["time"] = format_iso(e.at_ms);
  o["data"] = boost::json::parse(e.data);
  return o;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (auto end = text.find('\n'); end != std::string::npos; end = text.find('\n', start)) {
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string number_text(double d) {
  return write_json(boost::json::value(d));
}

}  // namespace

std::optional<Format> parse_format(std::string_view text) {
  if (text == "table") return Format::table;
  if (text == "json") return Format::json;
  if (text == "csv") return Format::csv;
  return std::nullopt;
}

std::string format_age(std::int64_t now_ms, std::int64_t then_ms) {
  const std::int64_t s = (now_ms - then_ms) / 1000;
  if (s < 1) return "now";
  if (s < 60) return std::to_string(s) + "s ago";
  if (s < 3600) return std::to_string(s / 60) + "m ago";
  if (s < 48 * 3600) return std::to_string(s / 3600) + "h ago";
  return std::to_string(s / 86400) + "d ago";
}

std::string format_iso(std::int64_t ms) {
  std::int64_t seconds = ms / 1000;
  std::int64_t millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03" PRId64 "Z", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buffer;
}

std::optional<std::int64_t> parse_iso(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, consumed = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second,
                  &consumed) != 6) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(static_cast<std::size_t>(consumed));
  std::int64_t millis = 0;
  if (rest.starts_with('.')) {
    rest.remove_prefix(1);
    int digits = 0;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      if (digits < 3) millis = millis * 10 + (rest.front() - '0');
      ++digits;
      rest.remove_prefix(1);
    }
    if (digits == 0) return std::nullopt;
    for (int d = digits; d < 3; ++d) millis *= 10;
  }
  if (rest != "Z" || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + millis;
}

std::string format_rooms(const std::vector<RoomSummary>& rooms, Format format, std::int64_t now_ms, bool header) {
  std::string out;
  switch (format) {
    case Format::table: {
      std::vector<std::vector<std::string>> rows;
      for (const auto& r : rooms) {
        rows.push_back({r.id, r.state, std::to_string(r.member_count), r.host_user_id.empty() ? "-" : r.host_user_id,
                        format_age(now_ms, r.created_at_ms), format_age(now_ms, r.last_activity_ms)});
      }
      // 34 + 8 + 7 + 18 + 9 + 13 + 5 gaps of 2 = 99 columns at most.
      out = render_table({{"ROOM", 34}, {"STATE", 8}, {"MEMBERS", 7, true}, {"HOST", 18}, {"CREATED", 9},
                          {"LAST ACTIVITY", 13}},
                         rows);
      if (!header) out.erase(0, out.find('\n') + 1);
      break;
    }
    case Format::json:
      for (const auto& r : rooms) {
        boost::json::object o;
        o["id"] = r.id;
        o["state"] = r.state;
        o["members"] = r.member_count;
        o["host"] = r.host_user_id.empty() ? boost::json::value(nullptr) : boost::json::value(r.host_user_id);
        o["created_at"] = format_iso(r.created_at_ms);
        o["last_activity"] = format_iso(r.last_activity_ms);
        out += write_json(o) + "\n";
      }
      break;
    case Format::csv:
      if (header) out = csv_line({"id", "state", "members", "host", "created_at", "last_activity"});
      for (const auto& r : rooms) {
        out += csv_line({r.id, r.state, std::to_string(r.member_count), r.host_user_id, format_iso(r.created_at_ms),
                         format_iso(r.last_activity_ms)});
      }
      break;
  }
  return out;
}

std::string format_events(const std::vector<Event>& events, Format format, bool header) {
  std::string out;
  switch (format) {
    case Format::table: {
      // Fixed widths, so that --follow batches line up: 19 + 6 + 16 + 16 + 35 + 4 gaps of 2 = 100.
      auto line = [](std::string time, std::string seq, std::string type, std::string user, std::string detail) {
        std::string l = pad(cut(time, 19), 19) + "  " + pad(cut(seq, 6), 6, true) + "  " + pad(cut(type, 16), 16) +
                        "  " + pad(cut(user, 16), 16) + "  " + cut(detail, 35);
        while (!l.empty() && l.back() == ' ') l.pop_back();
        return l + "\n";
      };
      if (header) out += line("TIME (UTC)", "SEQ", "TYPE", "USER", "DETAIL");
      for (const auto& e : events) {
        out += line(table_time(e.at_ms), e.seq ? std::to_string(*e.seq) : "-", e.type, optional_or(e.user_id, "-"),
                    e.data == "null" || e.data == "{}" ? "" : e.data);
      }
      break;
    }
    case Format::json:
      for (const auto& e : events) out += write_json(event_json(e)) + "\n";
      break;
    case Format::csv:
      if (header) out += csv_line({"id", "room", "seq", "type", "user", "node", "time", "data"});
      for (const auto& e : events) {
        out += csv_line({std::to_string(e.id), e.room_id, e.seq ? std::to_string(*e.seq) : "", e.type,
                         optional_or(e.user_id, ""), optional_or(e.node_id, ""), format_iso(e.at_ms), e.data});
      }
      break;
  }
  return out;
}

std::string format_room(const RoomDetail& room, const std::vector<Event>& last_events, Format format,
                        std::int64_t now_ms) {
  const RoomSummary& s = room.summary;
  if (format == Format::json) {
    boost::json::object o;
    o["id"] = s.id;
    o["state"] = s.state;
    o["members"] = s.member_count;
    o["host"] = s.host_user_id.empty() ? boost::json::value(nullptr) : boost::json::value(s.host_user_id);
    o["short_id"] = json_or_null(room.short_id);
    o["url"] = room.url;
    o["position"] = room.position_s;
    o["playing"] = room.playing;
    o["guest_control"] = room.guest_control;
    o["seq"] = room.seq;
    o["created_at"] = format_iso(s.created_at_ms);
    o["last_activity"] = format_iso(s.last_activity_ms);
    o["archived_at"] = room.archived_at_ms ? boost::json::value(format_iso(*room.archived_at_ms))
                                           : boost::json::value(nullptr);
    boost::json::array members;
    for (const auto& m : room.members) {
      members.push_back(boost::json::object{{"userId", m.user_id}, {"username", json_or_null(m.username)}});
    }
    o["member_list"] = std::move(members);
    boost::json::array events;
    for (const auto& e : last_events) events.push_back(event_json(e));
    o["events"] = std::move(events);
    return write_json(o) + "\n";
  }

  constexpr std::size_t kValueWidth = kTableWidth - 15;
  std::string out;
  auto field = [&](std::string_view name, const std::string& value) {
    out += pad(std::string(name), 13) + "  " + cut(value, kValueWidth) + "\n";
  };
  field("room", s.id);
  field("state", s.state + " (" + std::to_string(s.member_count) + (s.member_count == 1 ? " member)" : " members)"));
  field("host", s.host_user_id.empty() ? "-" : s.host_user_id);
  if (room.short_id) {
    const std::int64_t expires = room.short_id_expires_ms.value_or(0);
    std::string when = expires <= now_ms ? "expired " + format_age(now_ms, expires)
                                         : "expires in " + format_age(expires, now_ms);
    if (when.ends_with(" ago") && expires > now_ms) when.resize(when.size() - 4);
    field("short id", *room.short_id + " (" + when + ")");
  } else {
    field("short id", "-");
  }
  field("url", room.url.empty() ? "-" : room.url);
  field("position", number_text(room.position_s) + " s, " + (room.playing ? "playing" : "paused"));
  field("guest control", room.guest_control ? "on" : "off");
  field("seq", std::to_string(room.seq));
  field("created", table_time(s.created_at_ms) + " UTC (" + format_age(now_ms, s.created_at_ms) + ")");
  field("last activity", table_time(s.last_activity_ms) + " UTC (" + format_age(now_ms, s.last_activity_ms) + ")");
  if (room.archived_at_ms) {
    field("archived", table_time(*room.archived_at_ms) + " UTC (" + format_age(now_ms, *room.archived_at_ms) + ")");
  }

  out += "\nmembers (" + std::to_string(room.members.size()) + ")\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : room.members) rows.push_back({m.user_id, optional_or(m.username, "-")});
  if (!rows.empty()) {
    // Indented, without a header: two obvious columns (2 + 48 + 2 + 48 = 100).
    const std::string table = render_table({{"USER", 48}, {"NAME", 48}}, rows);
    for (const auto& line : split_lines(table.substr(table.find('\n') + 1))) out += "  " + line + "\n";
  }

  out += "\nlast " + std::to_string(last_events.size()) + " events\n";
  if (!last_events.empty()) out += format_events(last_events, Format::table, true);
  return out;
}

}  // namespace tandem::store
