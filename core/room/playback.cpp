#include <algorithm>

#include "core/room/frames.hpp"
#include "core/room/steps.hpp"

namespace tandem::room::detail {

namespace {

bool controller_frame_ok(Context& ctx, const Sender& sender, const proto::Frame& frame) {
  return allowed_and_valid(ctx, sender, frame, ctx.is_controller(sender.user_id));
}

void store_position(Context& ctx, double current_time, bool is_playing) {
  ctx.s.current_time = current_time;
  ctx.s.is_playing = is_playing;
  ctx.s.position_at = ctx.reported_at;
  ctx.mark_changed();
}

}  // namespace

bool url_allowed(const Settings& settings, std::string_view url) {
  if (settings.allowed_url_prefixes.empty()) return true;
  return std::any_of(settings.allowed_url_prefixes.begin(), settings.allowed_url_prefixes.end(),
                     [&](const std::string& prefix) { return url.starts_with(prefix); });
}

void handle_play_pause(Context& ctx, const Sender& sender, const proto::Frame& frame, const proto::PlayPause& body) {
  if (!controller_frame_ok(ctx, sender, frame)) return;
  gate_cancel(ctx);
  // Without currentTime the position continues from where it is now: a pause freezes it.
  store_position(ctx, body.current_time.value_or(position_at(ctx.s, ctx.reported_at)), body.play);
  const std::uint64_t seq = ctx.broadcast(
      play_pause(sender.user_id, body.play, body.current_time, body.event_timestamp, ctx.now), ctx.member_conns());
  boost::json::object detail;
  detail["control"] = body.play ? "play" : "pause";
  detail["currentTime"] = json_number(ctx.s.current_time);
  ctx.audit("PLAY_PAUSE", sender.user_id, seq, std::move(detail));
}

void handle_seek(Context& ctx, const Sender& sender, const proto::Frame& frame, const proto::Seek& body) {
  if (!controller_frame_ok(ctx, sender, frame)) return;
  gate_cancel(ctx);
  store_position(ctx, body.current_time, false);
  const std::uint64_t seq = ctx.broadcast(
      seek_pause(sender.user_id, body.current_time, body.event_timestamp, ctx.now), ctx.member_conns());
  boost::json::object detail;
  detail["currentTime"] = json_number(body.current_time);
  detail["isPlaying"] = body.is_playing;
  ctx.audit("SEEK", sender.user_id, seq, std::move(detail));
  gate_open(ctx, sender.user_id, body.current_time, body.is_playing);
}

void handle_host_heartbeat(Context& ctx, const Sender& sender, const proto::Frame& frame,
                           const proto::HostHeartbeat& body) {
  if (!controller_frame_ok(ctx, sender, frame)) return;
  store_position(ctx, body.current_time, body.is_playing);
  ctx.broadcast(host_heartbeat(sender.user_id, body.current_time, body.is_playing, body.event_timestamp, ctx.now),
                ctx.member_conns());
}

void handle_position_update(Context& ctx, const Sender& sender, const proto::Frame& frame,
                            const proto::PositionUpdate& body) {
  if (frame.field_error || !ctx.is_controller(sender.user_id) || body.current_time == 0) return;
  store_position(ctx, body.current_time, body.is_playing);
}

void handle_url_change(Context& ctx, const Sender& sender, const proto::Frame& frame, const proto::UrlChange& body) {
  if (!controller_frame_ok(ctx, sender, frame)) return;
  if (!url_allowed(ctx.settings, body.url)) {
    ctx.send_error(sender.conn, proto::ErrorCode::bad_url);
    return;
  }
  gate_cancel(ctx);
  ctx.s.url = body.url;
  if (body.current_time) {
    ctx.s.current_time = *body.current_time;
    ctx.s.position_at = ctx.reported_at;
  }
  ctx.mark_changed();
  const std::uint64_t seq =
      ctx.broadcast(url_change(sender.user_id, body.url, body.current_time, ctx.now), ctx.member_conns());
  boost::json::object detail;
  detail["url"] = body.url;
  if (body.current_time) detail["currentTime"] = json_number(*body.current_time);
  ctx.audit("URL_CHANGE", sender.user_id, seq, std::move(detail));
}

}  // namespace tandem::room::detail

namespace tandem::room {

double position_at(const RoomState& state, Millis now) {
  if (!state.is_playing) return state.current_time;
  const Millis elapsed = std::max<Millis>(0, now - state.position_at);
  return state.current_time + static_cast<double>(elapsed) / 1000.0;
}

}  // namespace tandem::room
