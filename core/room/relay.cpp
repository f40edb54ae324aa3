#include "core/room/steps.hpp"

namespace tandem::room::detail {

namespace {

void stamp(Context& ctx, const Sender& sender, boost::json::object& body) {
  body["userId"] = sender.user_id;
  body["nodeId"] = sender.node_id;
  body["timestamp"] = ctx.now;
}

}  // namespace

void handle_targeted(Context& ctx, const Sender& sender, const proto::Frame& frame, const proto::Targeted& body) {
  // A peer's SYNC_RESPONSE moves its recipient's player: the controller rule and the URL
  // allow-list of PLAY_PAUSE / URL_CHANGE hold for it too (not_allowed before bad_field, §10).
  const bool sync = frame.type == "SYNC_RESPONSE";
  if (sync && !ctx.is_controller(sender.user_id)) {
    ctx.send_error(sender.conn, proto::ErrorCode::not_allowed);
    return;
  }
  if (frame.field_error) {
    ctx.send_error(sender.conn, *frame.field_error);
    return;
  }
  if (sync && body.url && !body.url->empty() && !url_allowed(ctx.settings, *body.url)) {  // "": no URL
    ctx.send_error(sender.conn, proto::ErrorCode::bad_url);
    return;
  }
  const Member* target = ctx.member_by_user(body.to);
  if (target == nullptr) return;
  boost::json::object out = body.body;
  out.erase("seq");  // frames to one recipient carry no seq
  out["from"] = sender.user_id;
  stamp(ctx, sender, out);
  ctx.send(target->conn, std::move(out));
}

void handle_relay(Context& ctx, const Sender& sender, const proto::Frame& frame, const proto::Relay& body) {
  if (frame.field_error) {
    ctx.send_error(sender.conn, *frame.field_error);
    return;
  }
  boost::json::object out = body.body;
  stamp(ctx, sender, out);
  ctx.broadcast(std::move(out), ctx.member_conns());
}

}  // namespace tandem::room::detail
