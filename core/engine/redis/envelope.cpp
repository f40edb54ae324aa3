#include "core/engine/redis/envelope.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <stdexcept>

namespace tandem::engine::redis {

namespace json = boost::json;

std::string encode_envelope(const std::string& room_id, std::uint64_t version, room::Millis sent_at,
                            const std::vector<room::OutFrame>& frames, const std::vector<room::Close>& closes,
                            std::string_view state_json, const std::optional<Advance>& advance) {
  // The frames go after the head as they are: serialized once here, never escaped into a JSON
  // string nor parsed again by a node that receives them.
  std::string texts;
  json::array f;
  f.reserve(frames.size());
  for (const auto& out : frames) {
    json::array to;
    to.reserve(out.recipients.size());
    for (const auto& r : out.recipients) to.emplace_back(r);
    const std::size_t before = texts.size();
    texts += json::serialize(out.frame);
    json::array item{std::move(to), texts.size() - before};
    if (out.sequenced) item.emplace_back(1);
    f.emplace_back(std::move(item));
  }
  json::array c;
  for (const auto& close : closes) c.emplace_back(json::array{json::value(close.conn), close.code, json::value(close.reason)});
  json::object head;
  head["r"] = room_id;
  if (version != 0) head["v"] = version;
  head["t"] = sent_at;
  head["f"] = std::move(f);
  head["c"] = std::move(c);
  if (version != 0 && advance) {
    head["q"] = advance->seq;
    head["a"] = advance->last_activity;
  }
  std::string out = json::serialize(head);
  if (version != 0 && !advance) {
    // Splice the state in without parsing it again: `{…,"s":<state>}`.
    out.pop_back();
    out += ",\"s\":";
    out += state_json.empty() ? std::string_view("null") : state_json;
    out += '}';
  }
  // Serialized JSON holds no raw line feed (the serializer escapes control characters), so the
  // first one ends the head.
  out.reserve(out.size() + 1 + texts.size());
  out += '\n';
  out += texts;
  return out;
}

Envelope decode_envelope(std::string_view payload) {
  // Releases before the frames went raw sent the head alone, each frame a JSON string in it.
  const std::size_t newline = payload.find('\n');
  const std::string_view head = payload.substr(0, newline);
  std::string_view texts = newline == std::string_view::npos ? std::string_view() : payload.substr(newline + 1);
  json::error_code ec;
  json::value doc = json::parse(head, ec);
  if (ec || !doc.is_object()) throw std::invalid_argument("envelope head is not a JSON object");
  const json::object& o = doc.get_object();
  Envelope env;
  try {
    env.room_id = std::string(o.at("r").as_string());
    // Versions and close codes are read in their own types: a negative version or an
    // out-of-range code is malformed, never wrapped around.
    if (const auto* v = o.if_contains("v")) env.version = v->to_number<std::uint64_t>();
    if (const auto* t = o.if_contains("t")) env.sent_at = t->to_number<std::int64_t>();
    for (const auto& item : o.at("f").as_array()) {
      const auto& a = item.as_array();
      Envelope::Frame frame;
      for (const auto& to : a.at(0).as_array()) frame.to.emplace_back(to.as_string());
      if (const auto* inline_text = a.at(1).if_string()) {
        frame.text = std::make_shared<const std::string>(*inline_text);
      } else {
        const auto length = a.at(1).to_number<std::size_t>();
        if (length > texts.size()) throw std::invalid_argument("a frame runs past the end of the envelope");
        frame.text = std::make_shared<const std::string>(texts.substr(0, length));
        texts.remove_prefix(length);
      }
      frame.sequenced = a.size() > 2;
      env.frames.push_back(std::move(frame));
    }
    if (!texts.empty()) throw std::invalid_argument("bytes after the envelope's last frame");
    for (const auto& item : o.at("c").as_array()) {
      const auto& a = item.as_array();
      env.closes.push_back(room::Close{std::string(a.at(0).as_string()),
                                       a.at(1).to_number<std::uint16_t>(),
                                       std::string(a.at(2).as_string())});
    }
    if (env.version != 0) {
      if (const auto* s = o.if_contains("s")) {
        if (!s->is_null()) env.state = room::from_json(*s);
      } else {
        env.advance = Advance{o.at("q").to_number<std::uint64_t>(), o.at("a").to_number<std::int64_t>()};
      }
    }
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("malformed envelope: ") + e.what());
  }
  return env;
}

}  // namespace tandem::engine::redis
