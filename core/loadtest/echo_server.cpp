#include "core/loadtest/echo_server.hpp"

#include <csignal>
#include <iostream>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include "core/loadtest/frame_scan.hpp"
#include "core/metrics/metrics.hpp"
#include "core/net/handler.hpp"
#include "core/net/server.hpp"

namespace tandem::loadtest {

namespace {

using Text = std::shared_ptr<const std::string>;

// The frame with `extra` (",\"seq\":7") inserted before its closing brace.
Text with_fields(std::string_view frame, std::string_view extra) {
  const auto brace = frame.rfind('}');
  if (brace == std::string_view::npos) return std::make_shared<const std::string>(frame);
  std::string out;
  out.reserve(frame.size() + extra.size());
  out.append(frame.substr(0, brace)).append(extra).append(frame.substr(brace));
  return std::make_shared<const std::string>(std::move(out));
}

class EchoHandler final : public net::Handler {
 public:
  void http(const net::HttpRequest& request, Respond respond) override {
    if (request.target == "/status") {
      return respond(net::HttpResponse{200, "application/json", R"({"nodeId":"echo","rooms":[]})", {}});
    }
    if (request.target == "/health") {
      return respond(net::HttpResponse{200, "application/json", R"({"status":"ok"})", {}});
    }
    respond(net::HttpResponse{404, "text/plain", "Not found\n", {}});
  }

  std::optional<net::HttpResponse> admit(const net::HttpRequest&) override { return std::nullopt; }

  void opened(const std::shared_ptr<net::WsConnection>&) override {}

  void message(const std::shared_ptr<net::WsConnection>& conn, std::string_view text) override {
    std::lock_guard lock(mutex_);
    if (!scanner_.scan(text)) return;
    const ScannedFrame& f = scanner_.frame();
    const std::string_view type = f.type;
    if (type == "PING") {
      conn->send(std::make_shared<const std::string>(R"({"type":"PONG"})"));
      return;
    }
    if (type == "JOIN") return join(conn, f.room_id, f.user_id);
    const auto it = members_.find(conn->id());
    if (it == members_.end()) return;
    Room& room = rooms_[it->second.room];
    if (type == "LEAVE") {
      leave(conn->id());
      conn->close(1000, "Client left");
      return;
    }
    if (type == "POSITION_UPDATE" || type == "READY" || type == "REQUEST_SYNC") return;
    if (!f.to.empty()) {
      for (const auto& [id, member] : room.members) {
        if (member.user == f.to) {
          member.conn->send(with_fields(text, fmt::format(R"(,"from":"{}")", it->second.user)));
          break;
        }
      }
      return;
    }
    Text frame = with_fields(text, fmt::format(R"(,"seq":{})", ++room.seq));
    if (type == "SEEK") {
      std::string renamed(*frame);
      if (const auto at = renamed.find(R"("type":"SEEK")"); at != std::string::npos) {
        renamed.replace(at, 13, R"("type":"SEEK_PAUSE")");
      }
      frame = std::make_shared<const std::string>(std::move(renamed));
    }
    broadcast(room, frame);
  }

  void closed(const std::shared_ptr<net::WsConnection>& conn) override {
    std::lock_guard lock(mutex_);
    leave(conn->id());
  }

 private:
  struct Member {
    std::string room;
    std::string user;
    std::shared_ptr<net::WsConnection> conn;
  };
  struct Room {
    std::vector<std::pair<std::uint64_t, Member>> members;  // join order; the first is host
    std::int64_t seq = 0;
  };

  void join(const std::shared_ptr<net::WsConnection>& conn, const std::string& room_id, const std::string& user) {
    if (room_id.empty() || user.empty()) return;
    leave(conn->id());
    Room& room = rooms_[room_id];
    const Text joined = std::make_shared<const std::string>(
        fmt::format(R"({{"type":"USER_JOINED","userId":"{}","seq":{}}})", user, ++room.seq));
    broadcast(room, joined);
    room.members.emplace_back(conn->id(), Member{room_id, user, conn});
    members_[conn->id()] = Member{room_id, user, nullptr};
    const std::string& host = room.members.front().second.user;
    conn->send(std::make_shared<const std::string>(fmt::format(
        R"({{"type":"ROOM_STATE","roomId":"{}","currentTime":0,"isPlaying":false,"hostUserId":"{}","seq":{}}})",
        room_id, host, room.seq)));
  }

  void leave(std::uint64_t id) {
    const auto it = members_.find(id);
    if (it == members_.end()) return;
    const std::string room_id = it->second.room;
    const std::string user = it->second.user;
    members_.erase(it);
    Room& room = rooms_[room_id];
    std::erase_if(room.members, [&](const auto& entry) { return entry.first == id; });
    if (room.members.empty()) {
      rooms_.erase(room_id);
      return;
    }
    broadcast(room, std::make_shared<const std::string>(
                        fmt::format(R"({{"type":"USER_LEFT","userId":"{}","seq":{}}})", user, ++room.seq)));
  }

  void broadcast(const Room& room, const Text& frame) {
    for (const auto& [id, member] : room.members) member.conn->send(frame);
  }

  std::mutex mutex_;
  FrameScanner scanner_;
  std::unordered_map<std::string, Room> rooms_;
  std::unordered_map<std::uint64_t, Member> members_;  // connection id → where it is
};

}  // namespace

int run_echo_server(const std::string& host, std::uint16_t port, int threads) {
  boost::asio::io_context io(1);
  metrics::Registry registry;
  EchoHandler handler;
  net::ServerOptions options;
  options.host = host;
  options.port = port;
  options.msgs_per_sec = 1e9;
  options.msgs_burst = 1e9;
  options.max_conns_per_ip = 1'000'000;
  options.max_connections = 1'000'000;
  options.idle_timeout = std::chrono::hours(1);
  options.loops = static_cast<unsigned>(threads);  // io itself is run by this thread alone
  net::Server server(io, options, handler, registry);
  server.start();
  std::cerr << fmt::format("tandem loadtest: echo target listening on {}:{} ({} thread{})\n", host, server.port(),
                           threads, threads == 1 ? "" : "s");
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server.stop_accepting();
    server.close_all(1001, "echo target stopping");
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace tandem::loadtest
