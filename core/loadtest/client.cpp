#include "core/loadtest/client.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "core/loadtest/frames.hpp"
#include "core/loadtest/world.hpp"

namespace tandem::loadtest {

namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr milliseconds kMaxBackoff{30'000};
constexpr milliseconds kCloseWait{5'000};        // LEAVE or watchdog close → the socket must be gone by then
constexpr milliseconds kStatusRoomGrace{2'000};  // /status snapshots may be 1 s (2 s in a cluster) old
constexpr double kSeekJump = 30.0;               // seconds a host seeks ahead
constexpr std::uint16_t kNormalClose = 1000;

std::int64_t micros(Clock::duration d) { return std::chrono::duration_cast<microseconds>(d).count(); }

bool is(std::string_view a, std::string_view b) { return a == b; }

}  // namespace

Client::Client(World& world, RoomInfo& room, int member, std::string source, const Target& target)
    : world_(world),
      room_(room),
      member_(member),
      user_id_(fmt::format("{}-m{}", room.id, member)),
      username_(fmt::format("viewer {}", member + 1)),
      source_(std::move(source)),
      target_(target),
      room_marker_(fmt::format(R"("roomId":"{}")", room.id)),
      ws_(world.io, *this, net::WsClientOptions{world.options.connect_timeout, 1 << 20, 512}),
      http_(world.io, *this, net::HttpClientOptions{world.options.connect_timeout, 8 << 20}) {
  next_.fill(Clock::time_point::max());
  const auto& b = world_.options.behaviour;
  auto phase = [&](milliseconds interval) {
    if (interval.count() <= 0) return microseconds{0};
    std::uniform_int_distribution<std::int64_t> pick(0, interval.count() * 1000 - 1);
    // On a 1 ms grid: clients due in the same millisecond share one timer firing.
    return microseconds{pick(world_.rng) / 1000 * 1000};
  };
  phase_[Ping] = phase(b.ping);
  phase_[Position] = phase(b.position);
  phase_[Status] = phase(b.status);
  phase_[Heartbeat] = phase(b.heartbeat);
  phase_[PlayPause] = phase(b.play_pause);
  phase_[Seek] = b.aligned_seeks ? microseconds{0} : phase(b.seek);
}

Client::~Client() {
  world_.scheduler.cancel(*this);
  ws_.abort();
  http_.close();
}

// ---- schedule -------------------------------------------------------------------------------

void Client::reschedule() {
  const auto earliest = *std::min_element(next_.begin(), next_.end());
  if (earliest != Clock::time_point::max()) world_.scheduler.wake_at(*this, earliest);
}

void Client::clear_session_acts() {
  for (Act a : {Ping, PongDeadline, Position, Status, Heartbeat, PlayPause, PlayPauseResend, Seek, Ready, Churn}) {
    clear(a);
  }
  status_queued_.reset();
}

Clock::time_point Client::next_on_grid(Act a, Clock::time_point now, milliseconds interval) const {
  Clock::time_point origin = world_.start + phase_[a];
  if (a == Seek && world_.options.behaviour.aligned_seeks) origin = room_.first_seek;
  if (now <= origin) return origin;
  const auto periods = (now - origin + interval - Clock::duration(1)) / interval;
  return origin + periods * interval;
}

template <typename SendFn>
void Client::periodic(Act a, Clock::time_point now, milliseconds interval, SendFn send_at) {
  int sent = 0;
  while (next_[a] <= now) {
    if (sent < kMaxCatchUp) {
      send_at(next_[a]);
      ++sent;
    } else {
      ++world_.stats.sends_skipped;
      ++world_.stats.sends_skipped_late;
    }
    if (next_[a] == Clock::time_point::max()) return;  // the send ended the session
    next_[a] += interval;
  }
}

void Client::start(Clock::time_point connect_at) {
  first_connect_ = std::min(first_connect_, connect_at);
  retiring_ = false;
  reconnect_attempts_ = 0;
  // A client still closing after retire() connects once the close is done (connect() starts afresh).
  if (state_ != State::leaving && state_ != State::closing) state_ = State::waiting;
  next_[Connect] = connect_at;
  reschedule();
}

void Client::retire(Clock::time_point now) {
  retiring_ = true;
  clear_session_acts();
  clear(Connect);
  http_.close();
  if (state_ == State::joined && send(frames::leave(user_id_, room_.id), now, now)) {
    ++world_.stats.leaves;
    seq_.stop();
    state_ = State::leaving;
    next_[CloseDeadline] = now + kCloseWait;
  } else if (state_ == State::joining || state_ == State::joined) {
    seq_.stop();
    state_ = State::closing;
    next_[CloseDeadline] = now + kCloseWait;
    ws_.close(kNormalClose);
  } else if (state_ == State::connecting) {
    ws_.abort();
    state_ = State::done;
  } else if (state_ != State::leaving && state_ != State::closing) {
    state_ = State::done;
  }
  reschedule();
}

void Client::stop_activity() {
  for (auto& t : next_) t = Clock::time_point::max();  // a pending wake-up finds nothing to do
  if (state_ == State::waiting || state_ == State::idle) state_ = State::done;
}

void Client::on_wake(Clock::time_point now) {
  const auto& b = world_.options.behaviour;
  const bool open = state_ == State::joining || state_ == State::joined;

  if (next_[Connect] <= now) {
    const auto scheduled = next_[Connect];
    clear(Connect);
    connect(scheduled);
  }
  if (next_[CloseDeadline] <= now) {
    // The server did not close after LEAVE (or our close handshake hung): drop the socket.
    clear(CloseDeadline);
    if (state_ == State::leaving || state_ == State::closing) {
      ws_.abort();
      net::WsCloseInfo info;
      info.by_us = true;
      info.reason = "close timed out";
      on_ws_closed(info);
      return;
    }
  }
  if (open && next_[PongDeadline] <= now) {
    clear(PongDeadline);
    if (awaiting_pong_) {
      awaiting_pong_ = false;
      ++world_.stats.pong_timeouts;
      if (++missed_pongs_ >= kPongMissesBeforeReconnect) {
        ++world_.stats.watchdog_reconnects;
        watchdog_close_ = true;
        clear_session_acts();
        state_ = State::closing;
        next_[CloseDeadline] = now + kCloseWait;
        ws_.close(kNormalClose);
        reschedule();
        return;
      }
    }
  }
  if (open && next_[Ping] <= now) {
    periodic(Ping, now, b.ping, [&](Clock::time_point at) {
      if (send(frames::ping(world_.wall_ms(now)), at, now)) {
        ++world_.stats.pings_sent;
        awaiting_pong_ = true;
        ping_sent_ = now;
        next_[PongDeadline] = now + b.pong_timeout;
      }
    });
  }
  if (open && next_[Status] <= now) {
    periodic(Status, now, b.status, [&](Clock::time_point at) {
      if (!http_.busy()) return start_status(at);
      if (status_queued_) {
        ++world_.stats.sends_skipped;  // two polls behind: the browser would not queue more either
        ++world_.stats.status_skipped;
      } else {
        status_queued_ = at;
      }
    });
  }
  if (state_ == State::joined) {
    if (next_[Position] <= now) {
      periodic(Position, now, b.position, [&](Clock::time_point at) {
        if (send(frames::position_update(user_id_, room_.id, position_at(at), playing_), at, now)) {
          ++world_.stats.positions_sent;
        }
      });
    }
    if (next_[Ready] <= now) {
      const auto at = next_[Ready];
      clear(Ready);
      if (send(frames::ready(user_id_, room_.id, ready_target_), at, now)) ++world_.stats.readies_sent;
    }
    if (is_host_ && next_[Heartbeat] <= now) {
      periodic(Heartbeat, now, b.heartbeat, [&](Clock::time_point at) {
        if (send(frames::host_heartbeat(user_id_, room_.id, position_at(at), playing_, world_.wall_ms(at)), at, now)) {
          ++world_.stats.heartbeats_sent;
          ++awaiting_echo_;
        }
      });
    }
    if (is_host_ && next_[PlayPause] <= now) {
      periodic(PlayPause, now, b.play_pause, [&](Clock::time_point at) {
        const double position = position_at(at);
        base_position_ = position;
        base_at_ = at;
        playing_ = !playing_;
        resend_play_ = playing_;
        awaiting_gate_ = false;
        if (send(frames::play_pause(user_id_, room_.id, playing_, position, world_.wall_ms(at)), at, now)) {
          ++world_.stats.play_pauses_sent;
          ++awaiting_echo_;
          next_[PlayPauseResend] = at + b.play_pause_resend;
        }
      });
    }
    if (is_host_ && next_[PlayPauseResend] <= now) {
      const auto at = next_[PlayPauseResend];
      clear(PlayPauseResend);
      if (send(frames::play_pause(user_id_, room_.id, resend_play_, position_at(at), world_.wall_ms(at)), at, now)) {
        ++world_.stats.play_pauses_sent;
        ++awaiting_echo_;
      }
    }
    if (is_host_ && next_[Seek] <= now) {
      periodic(Seek, now, b.seek, [&](Clock::time_point at) {
        const double target = position_at(at) + kSeekJump;
        if (send(frames::seek(user_id_, room_.id, target, true, world_.wall_ms(at)), at, now)) {
          ++world_.stats.seeks_sent;
          ++awaiting_echo_;
          base_position_ = target;
          base_at_ = at;
          playing_ = false;  // until the READY gate releases
          awaiting_gate_ = true;
          clear(PlayPauseResend);
        }
      });
    }
    if (next_[Churn] <= now) {
      clear(Churn);
      if (send(frames::leave(user_id_, room_.id), now, now)) {
        ++world_.stats.leaves;
        clear_session_acts();
        seq_.stop();
        state_ = State::leaving;
        next_[CloseDeadline] = now + kCloseWait;
      }
    }
  }
  // Whatever is still due does not apply in the current state (a host act after losing the
  // host role, a member act while leaving): drop it, or the client would be woken again at once.
  for (auto& t : next_) {
    if (t <= now) t = Clock::time_point::max();
  }
  reschedule();
}

// ---- connection -----------------------------------------------------------------------------

void Client::connect(Clock::time_point scheduled) {
  if (world_.stopping) {
    state_ = State::done;
    return;
  }
  state_ = State::connecting;
  connect_scheduled_ = scheduled;
  ++world_.stats.connect_attempts;
  if (reconnecting_) ++world_.stats.reconnects;
  if (rejoining_) ++world_.stats.rejoins;
  reconnecting_ = rejoining_ = false;
  ws_.connect(target_.ws, source_);
}

void Client::on_ws_open() {
  const auto now = Clock::now();
  ++world_.connected;
  // A connect still in flight when the run ends joins during the drain like any other (its JOIN
  // and ROOM_STATE are checked) but starts no periodic activity: see opened_session().
  if (world_.recording(now)) world_.stats.connect.record(micros(now - connect_scheduled_));
  reconnect_attempts_ = 0;
  opened_session(now);
}

void Client::opened_session(Clock::time_point now) {
  const auto& b = world_.options.behaviour;
  state_ = State::joining;
  awaiting_pong_ = false;
  missed_pongs_ = 0;
  awaiting_echo_ = 0;
  watchdog_close_ = false;
  join_sent_ = now;
  unwritten_.clear();
  send(frames::join(user_id_, room_.id, username_, world_.wall_ms(now)), now, now);
  send(frames::request_sync(user_id_, room_.id), now, now);
  if (world_.stopping) {
    reschedule();
    return;
  }
  if (b.ping.count() > 0) next_[Ping] = now + b.ping;  // the extension's interval starts on open
  if (b.status.count() > 0) next_[Status] = next_on_grid(Status, now, b.status);
  reschedule();
}

void Client::on_ws_failed(std::string_view reason, unsigned http_status) {
  const auto now = Clock::now();
  ++world_.stats.connect_failures;
  ++world_.stats.connect_failure_reasons[http_status ? fmt::format("HTTP {}", http_status) : std::string(reason)];
  after_disconnect(now, true);
}

void Client::on_ws_closed(const net::WsCloseInfo& info) {
  const auto now = Clock::now();
  if (world_.connected > 0) --world_.connected;
  unwritten_.clear();
  seq_.stop();
  clear_session_acts();
  clear(CloseDeadline);
  http_.close();  // a browser tab that lost its socket is reloaded; the poller starts afresh
  if (retiring_) {
    state_ = next_[Connect] != Clock::time_point::max() ? State::waiting : State::done;
    reschedule();
    return;
  }
  if (state_ == State::leaving) {
    if (world_.stopping) {
      state_ = State::done;
      return;
    }
    state_ = State::waiting;
    rejoining_ = true;
    next_[Connect] = now + world_.options.behaviour.rejoin_delay;
    reschedule();
    return;
  }
  if (info.by_us && !watchdog_close_) {
    state_ = State::done;
    return;
  }
  if (!info.by_us) {
    ++world_.stats.unintended_closes;
    ++world_.stats.close_codes[std::to_string(info.code)];
  }
  watchdog_close_ = false;
  after_disconnect(now, true);
}

void Client::after_disconnect(Clock::time_point now, bool unintended) {
  clear_session_acts();
  is_host_ = false;
  if (world_.stopping || !unintended) {
    state_ = State::done;
    return;
  }
  if (++reconnect_attempts_ > kMaxReconnects) {
    ++world_.stats.gave_up;
    state_ = State::gave_up;
    return;
  }
  const auto backoff = std::min<milliseconds>(milliseconds(1000LL << (reconnect_attempts_ - 1)), kMaxBackoff);
  state_ = State::waiting;
  reconnecting_ = true;
  next_[Connect] = now + backoff;
  reschedule();
}

void Client::finish(bool leave) {
  const auto now = Clock::now();
  http_.close();
  status_queued_.reset();
  seq_.stop();
  if (state_ == State::joined && leave && send(frames::leave(user_id_, room_.id), now, now)) {
    ++world_.stats.leaves;
    state_ = State::leaving;
  } else if (state_ == State::joining || state_ == State::joined) {
    state_ = State::closing;
    ws_.close(kNormalClose);
  } else if (state_ == State::connecting) {
    ws_.abort();
    state_ = State::done;
  }
}

void Client::abort() {
  for (auto& t : next_) t = Clock::time_point::max();
  if (ws_.is_open() && world_.connected > 0) --world_.connected;
  ws_.abort();
  http_.close();
  state_ = State::done;
}

// A connect or a JOIN in flight is not settled: the drain waits for it (up to --drain).
bool Client::settled() const {
  if (state_ == State::connecting || state_ == State::joining) return false;
  return state_ != State::joined || (awaiting_echo_ <= 0 && !http_.busy());
}

bool Client::send(std::string frame, Clock::time_point scheduled, Clock::time_point now) {
  const auto bytes = frame.size();
  if (!ws_.send(std::move(frame))) {
    ++world_.stats.sends_skipped;
    ++world_.stats.sends_refused;
    return false;
  }
  // The teardown (every client's LEAVE at once when the run ends) is not load: its write wait
  // is not recorded.
  unwritten_.push_back(world_.stopping ? kUnmeasured : now);
  ++world_.stats.frames_sent;
  world_.stats.bytes_sent += bytes;
  if (scheduled != now && world_.recording(now)) {
    world_.stats.send_lag.record(micros(now - scheduled));
    world_.window.send_lag.record(micros(now - scheduled));
  }
  return true;
}

void Client::on_ws_written() {
  if (unwritten_.empty()) return;
  const auto now = Clock::now();
  if (world_.recording(now) && unwritten_.front() != kUnmeasured) {
    world_.stats.write_wait.record(micros(now - unwritten_.front()));
    world_.window.write_wait.record(micros(now - unwritten_.front()));
  }
  unwritten_.pop_front();
}

// ---- inbound frames -------------------------------------------------------------------------

void Client::on_ws_message(std::string_view text) {
  const auto now = Clock::now();
  auto& stats = world_.stats;
  ++stats.frames_received;
  stats.bytes_received += text.size();
  if (!world_.scanner.scan(text)) {
    ++stats.error_frames;
    ++stats.errors_by_code["(frame is not a JSON object)"];
    return;
  }
  const ScannedFrame& f = world_.scanner.frame();
  const std::string_view type = f.type;

  if (is(type, "ROOM_STATE")) {
    if (f.has_seq) seq_.restart(f.seq);
    on_room_state(now);
    return;
  }
  if (f.has_seq) seq_.observe(f.seq);
  if (state_ != State::joined && state_ != State::joining) return;

  if (is(type, "HOST_HEARTBEAT")) {
    record_broadcast_latency(now);
    if (f.user_id == user_id_) {
      --awaiting_echo_;
    } else {
      adopt_position(now);
    }
  } else if (is(type, "PLAY_PAUSE")) {
    if (f.user_id == "server") {  // a READY gate released
      if (awaiting_gate_) {
        awaiting_gate_ = false;
        ++stats.gates_released;
      }
      adopt_position(now);
      playing_ = f.control == "play";
      return;
    }
    record_broadcast_latency(now);
    if (f.user_id == user_id_) {
      --awaiting_echo_;
    } else {
      adopt_position(now);
      playing_ = f.control == "play";
    }
  } else if (is(type, "SEEK_PAUSE")) {
    record_broadcast_latency(now);
    if (f.user_id == user_id_) {
      --awaiting_echo_;
    } else {
      adopt_position(now);
      playing_ = false;
      ready_target_ = f.current_time;
      if (state_ == State::joined && !world_.stopping) {
        next_[Ready] = now + world_.options.behaviour.ready_delay;
        reschedule();
      }
    }
  } else if (is(type, "PONG")) {
    if (awaiting_pong_) {
      awaiting_pong_ = false;
      missed_pongs_ = 0;
      clear(PongDeadline);
      if (world_.recording(now)) stats.pong.record(micros(now - ping_sent_));
    }
  } else if (is(type, "USER_JOINED")) {
    if (world_.options.behaviour.webrtc && state_ == State::joined && !f.user_id.empty() && f.user_id != user_id_) {
      if (send(frames::offer(f.user_id, world_.sdp, world_.wall_ms(now)), now, now)) ++stats.offers_sent;
    }
  } else if (is(type, "OFFER")) {
    if (f.has_sent_at && world_.recording(now)) {
      stats.relay.record(static_cast<std::int64_t>((world_.wall_ms(now) - f.sent_at) * 1000.0));
    }
    if (world_.options.behaviour.webrtc && !f.from.empty()) {
      if (send(frames::answer(f.from, world_.sdp, world_.wall_ms(now)), now, now)) ++stats.answers_sent;
    }
  } else if (is(type, "ANSWER")) {
    if (f.has_sent_at && world_.recording(now)) {
      stats.relay.record(static_cast<std::int64_t>((world_.wall_ms(now) - f.sent_at) * 1000.0));
    }
  } else if (is(type, "HOST_CHANGED")) {
    if (!f.host_user_id.empty() && state_ == State::joined) set_host(f.host_user_id == user_id_, now);
  } else if (is(type, "ERROR")) {
    ++stats.error_frames;
    ++stats.errors_by_code[f.code.empty() ? std::string("(no code)") : f.code];
    if (awaiting_echo_ > 0) --awaiting_echo_;  // a refused broadcast never comes back
  }
}

void Client::on_room_state(Clock::time_point now) {
  const ScannedFrame& f = world_.scanner.frame();
  if (state_ == State::joining) {
    if (world_.recording(now)) world_.stats.join.record(micros(now - join_sent_));
    if (!ever_joined_) {
      ever_joined_ = true;
      ++world_.stats.joined;
    }
  } else if (state_ != State::joined) {
    return;
  }
  state_ = State::joined;
  joined_at_ = now;
  if (f.has_current_time && f.current_time > 0) {
    base_position_ = f.current_time;
    base_at_ = now;
  } else {
    base_at_ = now;
  }
  if (f.has_is_playing) playing_ = f.is_playing;
  if (world_.stopping) return;  // joined during the drain: checked, but sends nothing more
  const auto& b = world_.options.behaviour;
  if (b.position.count() > 0) next_[Position] = next_on_grid(Position, now, b.position);
  if (b.churn.count() > 0) {
    std::exponential_distribution<double> lifetime(1.0 / static_cast<double>(b.churn.count()));
    next_[Churn] = now + milliseconds(std::max<std::int64_t>(100, static_cast<std::int64_t>(lifetime(world_.rng))));
  }
  is_host_ = false;
  set_host(f.host_user_id == user_id_, now);
  reschedule();
}

void Client::set_host(bool host, Clock::time_point now) {
  const auto& b = world_.options.behaviour;
  if (host == is_host_) return;
  is_host_ = host;
  if (!host || world_.stopping) {
    for (Act a : {Heartbeat, PlayPause, PlayPauseResend, Seek}) clear(a);
    return;
  }
  if (b.heartbeat.count() > 0) next_[Heartbeat] = next_on_grid(Heartbeat, now, b.heartbeat);
  if (b.play_pause.count() > 0) next_[PlayPause] = next_on_grid(PlayPause, now + b.play_pause / 2, b.play_pause);
  if (b.seek.count() > 0) {
    next_[Seek] = b.aligned_seeks ? next_on_grid(Seek, now, b.seek) : next_on_grid(Seek, now + b.seek / 2, b.seek);
  }
  reschedule();
}

void Client::record_broadcast_latency(Clock::time_point now) {
  const ScannedFrame& f = world_.scanner.frame();
  if (!f.has_event_timestamp || !f.has_seq || !world_.recording(now)) return;
  const auto latency = static_cast<std::int64_t>((world_.wall_ms(now) - f.event_timestamp) * 1000.0);
  world_.stats.broadcast.record(latency);
  world_.window.broadcast.record(latency);
}

double Client::position_at(Clock::time_point t) const {
  if (!playing_ || t <= base_at_) return base_position_;
  return base_position_ + std::chrono::duration<double>(t - base_at_).count();
}

void Client::adopt_position(Clock::time_point now) {
  const ScannedFrame& f = world_.scanner.frame();
  if (f.has_current_time && f.current_time > 0) {
    base_position_ = f.current_time;
    base_at_ = now;
  }
  if (f.has_is_playing) playing_ = f.is_playing;
}

// ---- /status --------------------------------------------------------------------------------

void Client::start_status(Clock::time_point scheduled) {
  status_scheduled_ = scheduled;
  if (http_.get(target_.ws, source_, target_.status_path)) ++world_.stats.status_requests;
}

void Client::on_http_response(unsigned status, std::string_view body) {
  const auto now = Clock::now();
  auto& stats = world_.stats;
  if (world_.recording(now)) {
    stats.status.record(micros(now - status_scheduled_));
    world_.window.status.record(micros(now - status_scheduled_));
  }
  if (status == 200) {
    ++stats.status_ok;
    if (state_ == State::joined && now - joined_at_ > kStatusRoomGrace && body.find(room_marker_) == std::string_view::npos) {
      ++stats.status_without_room;
    }
  } else {
    ++stats.status_failed;
  }
  if (status_queued_) start_status(*std::exchange(status_queued_, std::nullopt));
}

void Client::on_http_failed(std::string_view) {
  ++world_.stats.status_failed;
  if (status_queued_) start_status(*std::exchange(status_queued_, std::nullopt));
}

}  // namespace tandem::loadtest
