#include <algorithm>

#include "core/room/steps.hpp"

namespace tandem::room::detail {

void resolve_due(Context& ctx, bool tick) {
  RoomState& s = ctx.s;
  if (!s.exists || s.archived) return;
  gate_expire(ctx);
  if (s.host_grace_deadline && ctx.now >= *s.host_grace_deadline) {
    s.host_grace_deadline.reset();
    ctx.mark_changed();
    if (!ctx.is_member(s.host_user_id)) elect_host(ctx, "grace_expired");
  }
  if (tick && s.members.empty() && s.empty_deadline && ctx.now >= *s.empty_deadline) {
    archive(ctx, "expired");
  }
}

}  // namespace tandem::room::detail

namespace tandem::room {

std::optional<Millis> next_deadline(const RoomState& state) {
  if (!state.exists || state.archived) return std::nullopt;
  std::optional<Millis> earliest;
  auto consider = [&](std::optional<Millis> deadline) {
    if (deadline && (!earliest || *deadline < *earliest)) earliest = deadline;
  };
  if (state.gate) consider(state.gate->deadline);
  consider(state.host_grace_deadline);
  if (state.members.empty()) consider(state.empty_deadline);
  return earliest;
}

}  // namespace tandem::room
