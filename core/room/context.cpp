#include "core/room/context.hpp"

#include <utility>

#include "core/room/frames.hpp"

namespace tandem::room::detail {

Member* Context::member_by_conn(std::string_view conn) {
  for (Member& member : s.members) {
    if (member.conn == conn) return &member;
  }
  return nullptr;
}

Member* Context::member_by_user(std::string_view user_id) {
  for (Member& member : s.members) {
    if (member.user_id == user_id) return &member;
  }
  return nullptr;
}

bool Context::is_member(std::string_view user_id) const {
  for (const Member& member : s.members) {
    if (member.user_id == user_id) return true;
  }
  return false;
}

bool Context::is_controller(std::string_view user_id) const {
  return s.guest_control || user_id == s.host_user_id;
}

std::vector<ConnId> Context::member_conns(std::string_view except) const {
  std::vector<ConnId> conns;
  conns.reserve(s.members.size());
  for (const Member& member : s.members) {
    if (except.empty() || member.conn != except) conns.push_back(member.conn);
  }
  return conns;
}

std::uint64_t Context::broadcast(boost::json::object frame, std::vector<ConnId> recipients) {
  ++s.seq;
  frame["seq"] = s.seq;
  fx.frames.push_back(OutFrame{std::move(recipients), std::move(frame), true});
  mark_changed();
  return s.seq;
}

void Context::send(const ConnId& conn, boost::json::object frame) {
  fx.frames.push_back(OutFrame{{conn}, std::move(frame), false});
}

void Context::send_error(const ConnId& conn, proto::ErrorCode code) { send(conn, error_object(code)); }

void Context::close(const ConnId& conn, std::uint16_t code, std::string reason) {
  fx.closes.push_back(Close{conn, code, std::move(reason)});
}

void Context::audit(std::string type, std::string user_id, std::uint64_t seq, boost::json::object detail) {
  fx.audit.push_back(AuditRecord{s.room_id, std::move(type), std::move(user_id), seq, now, std::move(detail)});
}

}  // namespace tandem::room::detail
