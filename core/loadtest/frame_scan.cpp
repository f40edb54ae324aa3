#include "core/loadtest/frame_scan.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <cmath>
#include <limits>

namespace tandem::loadtest {

namespace {

namespace json = boost::json;
using json::error_code;
using json::string_view;

constexpr double kTwoPow63 = 9223372036854775808.0;

enum class Key { none, type, user_id, room_id, to, from, host_user_id, code, control, seq, event_timestamp, sent_at, current_time, is_playing };

Key key_of(std::string_view k) {
  switch (k.size()) {
    case 2: return k == "to" ? Key::to : Key::none;
    case 3: return k == "seq" ? Key::seq : Key::none;
    case 4:
      if (k == "type") return Key::type;
      if (k == "from") return Key::from;
      if (k == "code") return Key::code;
      return Key::none;
    case 6:
      if (k == "userId") return Key::user_id;
      if (k == "roomId") return Key::room_id;
      return Key::none;
    case 7: return k == "control" ? Key::control : Key::none;
    case 8: return k == "ltSentAt" ? Key::sent_at : Key::none;
    case 9: return k == "isPlaying" ? Key::is_playing : Key::none;
    case 10: return k == "hostUserId" ? Key::host_user_id : Key::none;
    case 11: return k == "currentTime" ? Key::current_time : Key::none;
    case 14: return k == "eventTimestamp" ? Key::event_timestamp : Key::none;
    default: return Key::none;
  }
}

struct Handler {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  ScannedFrame* out = nullptr;
  int depth = 0;  // 1 inside the top-level object
  bool top_is_object = false;
  Key key = Key::none;
  std::string key_text;
  std::string* string_target = nullptr;

  void reset(ScannedFrame& frame) {
    out = &frame;
    depth = 0;
    top_is_object = false;
    key = Key::none;
    key_text.clear();  // a text cut inside an escaped key leaves a part behind
    string_target = nullptr;
    frame.type.clear();
    frame.user_id.clear();
    frame.room_id.clear();
    frame.to.clear();
    frame.from.clear();
    frame.host_user_id.clear();
    frame.code.clear();
    frame.control.clear();
    frame.has_seq = frame.has_event_timestamp = frame.has_sent_at = false;
    frame.has_current_time = frame.has_is_playing = false;
  }

  std::string* target_for(Key k) {
    switch (k) {
      case Key::type: return &out->type;
      case Key::user_id: return &out->user_id;
      case Key::room_id: return &out->room_id;
      case Key::to: return &out->to;
      case Key::from: return &out->from;
      case Key::host_user_id: return &out->host_user_id;
      case Key::code: return &out->code;
      case Key::control: return &out->control;
      default: return nullptr;
    }
  }

  void number(double d, bool integral, std::int64_t i) {
    if (depth != 1) return;
    switch (key) {
      case Key::seq:
        // A seq is a whole number; a fraction or a number beyond int64 is none.
        if (!integral && !(d == std::trunc(d) && d >= -kTwoPow63 && d < kTwoPow63)) break;
        out->has_seq = true;
        out->seq = integral ? i : static_cast<std::int64_t>(d);
        break;
      case Key::event_timestamp:
        out->has_event_timestamp = true;
        out->event_timestamp = d;
        break;
      case Key::sent_at:
        out->has_sent_at = true;
        out->sent_at = d;
        break;
      case Key::current_time:
        out->has_current_time = true;
        out->current_time = d;
        break;
      default:
        break;
    }
  }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_array_begin(error_code&) {
    ++depth;
    return true;
  }
  bool on_array_end(std::size_t, error_code&) {
    --depth;
    return true;
  }
  bool on_object_begin(error_code&) {
    if (depth == 0) top_is_object = true;
    ++depth;
    return true;
  }
  bool on_object_end(std::size_t, error_code&) {
    --depth;
    return true;
  }
  bool on_string_part(string_view s, std::size_t, error_code&) {
    if (depth == 1) {
      if (!string_target) {
        string_target = target_for(key);
        if (string_target) string_target->clear();
      }
      if (string_target) string_target->append(s.data(), s.size());
    }
    return true;
  }
  bool on_string(string_view s, std::size_t, error_code&) {
    if (depth == 1) {
      std::string* target = string_target ? string_target : target_for(key);
      if (target) {
        if (!string_target) target->clear();
        target->append(s.data(), s.size());
      }
    }
    string_target = nullptr;
    return true;
  }
  bool on_key_part(string_view s, std::size_t, error_code&) {
    key_text.append(s.data(), s.size());
    return true;
  }
  bool on_key(string_view s, std::size_t, error_code&) {
    if (key_text.empty()) {
      key = depth == 1 ? key_of(std::string_view(s.data(), s.size())) : Key::none;
    } else {
      key_text.append(s.data(), s.size());
      key = depth == 1 ? key_of(key_text) : Key::none;
      key_text.clear();
    }
    return true;
  }
  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(std::int64_t i, string_view, error_code&) {
    number(static_cast<double>(i), true, i);
    return true;
  }
  bool on_uint64(std::uint64_t u, string_view, error_code&) {
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      number(static_cast<double>(u), false, 0);
    } else {
      number(static_cast<double>(u), true, static_cast<std::int64_t>(u));
    }
    return true;
  }
  bool on_double(double d, string_view, error_code&) {
    number(d, false, 0);
    return true;
  }
  bool on_bool(bool b, error_code&) {
    if (depth == 1 && key == Key::is_playing) {
      out->has_is_playing = true;
      out->is_playing = b;
    }
    return true;
  }
  bool on_null(error_code&) { return true; }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }
};

}  // namespace

struct FrameScanner::Impl {
  Impl() : parser(json::parse_options{}) {}
  json::basic_parser<Handler> parser;
  ScannedFrame frame;
};

FrameScanner::FrameScanner() : impl_(std::make_unique<Impl>()) {}
FrameScanner::~FrameScanner() = default;

bool FrameScanner::scan(std::string_view text) {
  auto& p = impl_->parser;
  p.reset();
  p.handler().reset(impl_->frame);
  error_code ec;
  const std::size_t used = p.write_some(false, text.data(), text.size(), ec);
  // The parser stops after one value: anything after it makes the text no JSON object.
  return !ec && p.done() && used == text.size() && p.handler().top_is_object;
}

const ScannedFrame& FrameScanner::frame() const { return impl_->frame; }

}  // namespace tandem::loadtest
