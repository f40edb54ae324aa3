// The loadtest's frame scanner (core/loadtest/frame_scan): reads the top-level fields of a server
// frame without building a document. Invariants: it accepts exactly the texts that are one JSON
// object; on the canonical text of that object it reads every field the way the document has it;
// and a scan depends on its text only, not on the texts scanned before.

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/loadtest/frame_scan.hpp"
#include "tests/fuzz/check.hpp"

namespace {

using namespace tandem;
namespace json = boost::json;

bool same(const loadtest::ScannedFrame& a, const loadtest::ScannedFrame& b) {
  return a.type == b.type && a.user_id == b.user_id && a.room_id == b.room_id && a.to == b.to && a.from == b.from &&
         a.host_user_id == b.host_user_id && a.code == b.code && a.control == b.control && a.has_seq == b.has_seq &&
         (!a.has_seq || a.seq == b.seq) && a.has_event_timestamp == b.has_event_timestamp &&
         (!a.has_event_timestamp || a.event_timestamp == b.event_timestamp) && a.has_sent_at == b.has_sent_at &&
         (!a.has_sent_at || a.sent_at == b.sent_at) && a.has_current_time == b.has_current_time &&
         (!a.has_current_time || a.current_time == b.current_time) && a.has_is_playing == b.has_is_playing &&
         (!a.has_is_playing || a.is_playing == b.is_playing);
}

std::string text_of(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// A number field as the scanner reports it: present when the value is a JSON number.
std::optional<double> number_of(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  return std::nullopt;
}

void check_fields(const loadtest::ScannedFrame& f, const json::object& o) {
  FUZZ_CHECK(f.type == text_of(o, "type") && f.user_id == text_of(o, "userId") && f.room_id == text_of(o, "roomId"));
  FUZZ_CHECK(f.to == text_of(o, "to") && f.from == text_of(o, "from") && f.host_user_id == text_of(o, "hostUserId"));
  FUZZ_CHECK(f.code == text_of(o, "code") && f.control == text_of(o, "control"));
  const std::optional<double> event_timestamp = number_of(o, "eventTimestamp");
  FUZZ_CHECK(f.has_event_timestamp == event_timestamp.has_value());
  if (event_timestamp) FUZZ_CHECK(fuzz::close_doubles(f.event_timestamp, *event_timestamp));
  const std::optional<double> sent_at = number_of(o, "ltSentAt");
  FUZZ_CHECK(f.has_sent_at == sent_at.has_value());
  if (sent_at) FUZZ_CHECK(fuzz::close_doubles(f.sent_at, *sent_at));
  const std::optional<double> current_time = number_of(o, "currentTime");
  FUZZ_CHECK(f.has_current_time == current_time.has_value());
  if (current_time) FUZZ_CHECK(fuzz::close_doubles(f.current_time, *current_time));
  // seq: an integer, as the server sends it.
  const json::value* seq = o.if_contains("seq");
  if (seq != nullptr && seq->is_int64()) FUZZ_CHECK(f.has_seq && f.seq == seq->get_int64());
  if (seq == nullptr || !seq->is_number()) FUZZ_CHECK(!f.has_seq);
  const json::value* playing = o.if_contains("isPlaying");
  FUZZ_CHECK(f.has_is_playing == (playing != nullptr && playing->is_bool()));
  if (f.has_is_playing) FUZZ_CHECK(f.is_playing == playing->get_bool());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static loadtest::FrameScanner scanner;
  const bool scanned = scanner.scan(text);
  const loadtest::ScannedFrame first = scanner.frame();

  json::error_code ec;
  const json::value document = json::parse(text, ec);
  FUZZ_CHECK(scanned == (!ec && document.is_object()));

  // Nothing of this text stays behind for the next one, read by the same scanner.
  FUZZ_CHECK(scanner.scan(R"({"type":"PROBE","seq":1})"));
  FUZZ_CHECK(scanner.frame().type == "PROBE" && scanner.frame().has_seq && scanner.frame().seq == 1);
  FUZZ_CHECK(scanner.frame().user_id.empty() && !scanner.frame().has_current_time);

  // A fresh scanner reads the same.
  loadtest::FrameScanner fresh;
  FUZZ_CHECK(fresh.scan(text) == scanned);
  if (scanned) FUZZ_CHECK(same(fresh.frame(), first));
  if (!scanned || !fuzz::all_finite(document)) return 0;

  const std::string canonical = json::serialize(document);
  FUZZ_CHECK(fresh.scan(canonical));
  check_fields(fresh.frame(), document.get_object());
  return 0;
}
