// The cluster envelope (core/engine/redis/envelope), what one node reads from another over Redis.
// Any payload decodes or throws std::invalid_argument (the router's "malformed envelope"), never
// anything else and never a crash; and a decoded envelope, encoded again the way a node encodes
// it, decodes to the same envelope (frames compared as JSON, the room state exactly).

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "core/engine/redis/envelope.hpp"
#include "core/room/room.hpp"
#include "tests/fuzz/check.hpp"

namespace {

using namespace tandem;
using engine::redis::Envelope;
namespace json = boost::json;

std::optional<Envelope> decode(std::string_view payload) {
  try {
    return engine::redis::decode_envelope(payload);
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

bool same_closes(const std::vector<room::Close>& a, const std::vector<room::Close>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].conn != b[i].conn || a[i].code != b[i].code || a[i].reason != b[i].reason) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  const std::optional<Envelope> env = decode(payload);
  if (!env) return 0;
  FUZZ_CHECK(!env->state || env->version != 0);
  FUZZ_CHECK(!env->advance || (env->version != 0 && !env->state));

  // A node encodes frames it built as objects, with finite numbers (core/proto refuses others);
  // frames whose text is not such an object are left out.
  std::vector<room::OutFrame> frames;
  std::vector<json::value> texts;
  for (const Envelope::Frame& frame : env->frames) {
    FUZZ_CHECK(frame.text != nullptr);
    json::error_code ec;
    json::value parsed = json::parse(*frame.text, ec);
    if (ec || !parsed.is_object() || !fuzz::all_finite(parsed)) continue;
    frames.push_back(room::OutFrame{frame.to, parsed.get_object(), frame.sequenced});
    texts.push_back(std::move(parsed));
  }
  const std::string state_json = env->state ? json::serialize(room::to_json(*env->state)) : std::string();
  const std::string encoded =
      engine::redis::encode_envelope(env->room_id, env->version, env->sent_at, frames, env->closes, state_json,
                                     env->advance);
  const std::optional<Envelope> again = decode(encoded);
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->room_id == env->room_id && again->version == env->version && again->sent_at == env->sent_at);
  FUZZ_CHECK(same_closes(again->closes, env->closes));
  FUZZ_CHECK(again->state == env->state);
  FUZZ_CHECK(again->advance == env->advance);
  FUZZ_CHECK(again->frames.size() == frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    FUZZ_CHECK(again->frames[i].to == frames[i].recipients && again->frames[i].sequenced == frames[i].sequenced);
    FUZZ_CHECK(fuzz::same_json(json::parse(*again->frames[i].text), texts[i]));
  }
  return 0;
}
