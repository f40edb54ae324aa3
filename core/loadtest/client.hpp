#pragma once

// One simulated viewer: the v2.0 extension's behaviour (docs/protocol.md §9) on a fixed schedule.
//
// * Connects to its node's /ws, sends JOIN and at once REQUEST_SYNC; ROOM_STATE starts the seq
//   check (SeqTracker) and the member's periodic sends.
// * PING every behaviour.ping; each PING has a pong_timeout watchdog; the third miss in a row
//   closes the socket and reconnects, as the extension does.
// * Every member: POSITION_UPDATE every behaviour.position; /status every behaviour.status on its
//   own keep-alive HTTP connection (from the same source address as its WebSocket).
// * The host (whoever ROOM_STATE / HOST_CHANGED names): HOST_HEARTBEAT every behaviour.heartbeat,
//   PLAY_PAUSE toggles with the re-send 3 s later, SEEKs (the others answer READY after
//   ready_delay). These carry eventTimestamp = the scheduled send time, so every receiver can
//   measure delivery latency (docs/protocol.md: eventTimestamp is passed through untouched).
// * Existing members answer USER_JOINED with an OFFER to the newcomer, who answers it.
// * After an unintended close (or a failed connect) it reconnects after
//   min(1000·2^(n−1), 30000) ms, at most 10 times in a row; the count restarts on open.
// * churn: after a random lifetime (mean behaviour.churn) it sends LEAVE and re-joins after
//   rejoin_delay on a new connection.
//
// Fixed schedules, no coordinated omission: a periodic send happens at phase + k·interval (a
// random phase per client) whatever happened before; latencies are measured from that scheduled
// time. A client more than kMaxCatchUp periods behind skips the surplus and counts it
// (sends_skipped_late: the generator was late). A frame the socket refuses because its queue is
// full counts as sends_refused (the target is not reading); the time each frame waits in that
// queue until its write completes is write_wait.
//
// Single-threaded (the worker's thread). The destructor removes the client's wake-ups from the
// scheduler (cheap once the scheduler is stopped, as the worker does first) and drops its
// connections without callbacks.

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "core/loadtest/scheduler.hpp"
#include "core/loadtest/seq_tracker.hpp"
#include "core/net/http_client.hpp"
#include "core/net/ws_client.hpp"

namespace tandem::loadtest {

struct World;
struct RoomInfo;
struct Target;

class Client final : public Scheduler::Task, public net::WsClientHandler, public net::HttpClientHandler {
 public:
  static constexpr int kMaxReconnects = 10;
  static constexpr int kMaxCatchUp = 3;
  static constexpr int kPongMissesBeforeReconnect = 3;

  Client(World& world, RoomInfo& room, int member, std::string source, const Target& target);
  ~Client();

  // Schedules a connect: the first one, or (stages) one after retire().
  void start(Clock::time_point connect_at);
  // Stages ramping down: LEAVE (or close) and stay closed until start() is called again.
  void retire(Clock::time_point now);
  Clock::time_point first_connect() const { return first_connect_; }
  // The run is over: no more scheduled sends or reconnects. A connection still being opened
  // joins when it opens (its ROOM_STATE is checked) and then sends nothing more.
  void stop_activity();
  // Not connecting or joining, no own broadcast awaiting its echo and no /status request in flight.
  bool settled() const;
  // The seq check of the current connection (active while joined).
  SeqTracker& seq() { return seq_; }
  bool joined() const { return state_ == State::joined; }
  bool ever_joined() const { return ever_joined_; }
  // Sends LEAVE when joined and `leave` (the server then closes), else closes 1000; closes /status.
  void finish(bool leave);
  bool closed() const { return !ws_.is_open() && state_ != State::leaving && state_ != State::closing; }
  void abort();

  void on_wake(Clock::time_point now) override;

  void on_ws_open() override;
  void on_ws_message(std::string_view text) override;
  void on_ws_failed(std::string_view reason, unsigned http_status) override;
  void on_ws_closed(const net::WsCloseInfo& info) override;
  void on_ws_written() override;

  void on_http_response(unsigned status, std::string_view body) override;
  void on_http_failed(std::string_view reason) override;

 private:
  enum class State { idle, connecting, joining, joined, leaving, closing, waiting, gave_up, done };
  enum Act { Connect, Ping, PongDeadline, Position, Status, Heartbeat, PlayPause, PlayPauseResend, Seek, Ready,
             Churn, CloseDeadline, kActs };

  void reschedule();
  void clear(Act a) { next_[a] = Clock::time_point::max(); }
  void clear_session_acts();
  // The first instant of `a`'s grid (phase + k·interval) at or after `now`.
  Clock::time_point next_on_grid(Act a, Clock::time_point now, std::chrono::milliseconds interval) const;
  template <typename Send>
  void periodic(Act a, Clock::time_point now, std::chrono::milliseconds interval, Send send);

  void connect(Clock::time_point scheduled);
  void opened_session(Clock::time_point now);
  void on_room_state(Clock::time_point now);
  void set_host(bool host, Clock::time_point now);
  void after_disconnect(Clock::time_point now, bool unintended);
  bool send(std::string frame, Clock::time_point scheduled, Clock::time_point now);
  void record_broadcast_latency(Clock::time_point now);
  void start_status(Clock::time_point scheduled);
  double position_at(Clock::time_point t) const;
  void adopt_position(Clock::time_point now);

  World& world_;
  RoomInfo& room_;
  const int member_;
  const std::string user_id_;
  const std::string username_;
  const std::string source_;
  const Target& target_;
  const std::string room_marker_;  // "roomId":"<id>" as it appears in /status
  net::WsClient ws_;
  net::HttpClient http_;

  State state_ = State::idle;
  Clock::time_point first_connect_ = Clock::time_point::max();
  std::array<Clock::time_point, kActs> next_{};
  std::array<std::chrono::microseconds, kActs> phase_{};
  SeqTracker seq_;
  bool ever_joined_ = false;
  bool is_host_ = false;
  int reconnect_attempts_ = 0;  // consecutive, reset when a connection opens
  bool reconnecting_ = false;   // the next connect follows an unintended close
  bool rejoining_ = false;      // the next connect follows a churn LEAVE
  bool watchdog_close_ = false;
  bool retiring_ = false;       // retire(): the close that follows is final
  Clock::time_point connect_scheduled_{};
  Clock::time_point join_sent_{};
  Clock::time_point joined_at_{};

  // Playback as this client believes it to be.
  double base_position_ = 1.0;  // seconds; POSITION_UPDATE with 0 is ignored by the server
  Clock::time_point base_at_{};
  bool playing_ = true;
  bool resend_play_ = true;       // control of the PLAY_PAUSE to re-send
  bool awaiting_gate_ = false;    // this host seeked; the server's PLAY_PAUSE releases the gate
  double ready_target_ = 0;

  bool awaiting_pong_ = false;
  Clock::time_point ping_sent_{};
  int missed_pongs_ = 0;
  int awaiting_echo_ = 0;  // own room broadcasts not yet received back
  // When each frame still in the socket's queue was queued (kUnmeasured: sent after the run ended).
  static constexpr Clock::time_point kUnmeasured = Clock::time_point::min();
  std::deque<Clock::time_point> unwritten_;

  Clock::time_point status_scheduled_{};
  std::optional<Clock::time_point> status_queued_;
};

}  // namespace tandem::loadtest
