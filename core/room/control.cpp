#include "core/room/frames.hpp"
#include "core/room/steps.hpp"

namespace tandem::room::detail {

namespace {

bool host_frame_ok(Context& ctx, const Sender& sender, const proto::Frame& frame) {
  return allowed_and_valid(ctx, sender, frame, sender.user_id == ctx.s.host_user_id);
}

}  // namespace

void handle_toggle_guest_control(Context& ctx, const Sender& sender, const proto::Frame& frame,
                                 const proto::ToggleGuestControl& body) {
  if (!host_frame_ok(ctx, sender, frame)) return;
  ctx.s.guest_control = body.enabled;
  ctx.mark_changed();
  const std::uint64_t seq = ctx.broadcast(guest_control(body.enabled, ctx.now), ctx.member_conns());
  boost::json::object detail;
  detail["enabled"] = body.enabled;
  ctx.audit("GUEST_CONTROL", sender.user_id, seq, std::move(detail));
}

void handle_transfer_host(Context& ctx, const Sender& sender, const proto::Frame& frame,
                          const proto::TransferHost& body) {
  if (!host_frame_ok(ctx, sender, frame)) return;
  if (!ctx.is_member(body.target_user_id)) {
    ctx.send_error(sender.conn, proto::ErrorCode::bad_target);
    return;
  }
  boost::json::object detail;
  detail["from"] = ctx.s.host_user_id;
  detail["reason"] = "transfer";
  ctx.s.host_user_id = body.target_user_id;
  ctx.s.host_grace_deadline.reset();
  ctx.mark_changed();
  const std::uint64_t seq = ctx.broadcast(host_changed(body.target_user_id, ctx.now), ctx.member_conns());
  ctx.audit("HOST_CHANGED", body.target_user_id, seq, std::move(detail));
}

void handle_update_username(Context& ctx, const Sender& sender, const proto::Frame& frame,
                            const proto::UpdateUsername& body) {
  if (frame.field_error) {
    ctx.send_error(sender.conn, *frame.field_error);
    return;
  }
  Member* member = ctx.member_by_user(sender.user_id);
  member->username = body.username;
  ctx.mark_changed();
  const std::uint64_t seq = ctx.broadcast(username_updated(*member, ctx.now), ctx.member_conns());
  boost::json::object detail;
  detail["username"] = body.username ? boost::json::value(*body.username) : boost::json::value(nullptr);
  ctx.audit("USERNAME_UPDATED", sender.user_id, seq, std::move(detail));
}

}  // namespace tandem::room::detail
