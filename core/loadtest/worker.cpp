#include "core/loadtest/worker.hpp"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <csignal>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include "core/loadtest/address_pool.hpp"
#include "core/loadtest/client.hpp"
#include "core/loadtest/frames.hpp"
#include "core/loadtest/world.hpp"

namespace tandem::loadtest {

namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

constexpr milliseconds kStartDelay{100};    // between set-up and the first connect
constexpr milliseconds kTick{1'000};        // progress
constexpr milliseconds kPoll{50};           // drain and close checks
constexpr milliseconds kSettleWait{300};    // frames in flight when the room's last seq was taken
constexpr milliseconds kCloseWait{3'000};   // LEAVE / close handshakes at the end
constexpr milliseconds kFirstStormSeek{2'000};  // after the last client of the ramp connected
constexpr milliseconds kLoopProbe{100};     // how often the event-loop lag is measured

double realtime_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

std::uint64_t thread_cpu_us() {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  auto us = [](const timeval& tv) {
    return static_cast<std::uint64_t>(tv.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(tv.tv_usec);
  };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

// Measures how late the event loop serves a wake-up: asks for one every kLoopProbe and records
// the difference between the time asked for and the time it ran. Stops with the run phase.
class LoopProbe final : public Scheduler::Task {
 public:
  explicit LoopProbe(World& world) : world_(world) {}
  void begin() { wake(world_.start); }
  void on_wake(Clock::time_point) override {
    const auto now = Clock::now();
    if (world_.stopping) return;
    if (world_.recording(now)) {
      const auto late = std::chrono::duration_cast<std::chrono::microseconds>(now - due_).count();
      world_.stats.loop_lag.record(late);
      world_.window.loop_lag.record(late);
    }
    wake(std::max(due_ + kLoopProbe, now));
  }

 private:
  void wake(Clock::time_point at) {
    due_ = at;
    world_.scheduler.wake_at(*this, at);
  }
  World& world_;
  Clock::time_point due_{};
};

// Stages: connects and retires clients at the instants stages.hpp computes for them. The first
// connect of each client is scheduled by the client itself (Client::start), like the ramp's.
class StageDriver final : public Scheduler::Task {
 public:
  struct Event {
    Clock::time_point at;
    Client* client;
    bool up;
  };
  StageDriver(World& world, std::vector<Event> events) : world_(world), events_(std::move(events)) {
    std::sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) { return a.at < b.at; });
  }
  void begin() {
    if (!events_.empty()) world_.scheduler.wake_at(*this, events_.front().at);
  }
  void on_wake(Clock::time_point now) override {
    while (next_ < events_.size() && events_[next_].at <= now && !world_.stopping) {
      const Event& e = events_[next_++];
      if (e.up) {
        e.client->start(e.at);
      } else {
        e.client->retire(now);
      }
    }
    if (next_ < events_.size() && !world_.stopping) world_.scheduler.wake_at(*this, events_[next_].at);
  }

 private:
  World& world_;
  std::vector<Event> events_;
  std::size_t next_ = 0;
};

// Drives the phases of the run on the scheduler (see worker.hpp).
class Conductor final : public Scheduler::Task {
 public:
  Conductor(World& world, std::vector<std::unique_ptr<Client>>& clients, std::vector<RoomInfo>& rooms,
            const ProgressSink& progress, Clock::time_point end, boost::json::array& series)
      : world_(world), clients_(clients), rooms_(rooms), progress_(progress), end_(end), series_(series),
        cpu_at_start_(thread_cpu_us()) {}

  void begin() { world_.scheduler.wake_at(*this, world_.start); }

  // SIGINT/SIGTERM: end the run now (drain and report as usual).
  void end_now() {
    if (phase_ != Phase::run) return;
    end_ = Clock::now();
    world_.scheduler.wake_at(*this, end_);
  }

  void on_wake(Clock::time_point now) override {
    switch (phase_) {
      case Phase::run:
        if (now >= end_) {
          begin_drain(now);
          break;
        }
        report(now);
        world_.scheduler.wake_at(*this, std::min(now + kTick, end_));
        break;
      case Phase::drain:
        if (now >= drain_until_ || all_settled()) {
          snapshot_rooms();
          phase_ = Phase::settle;
          world_.scheduler.wake_at(*this, now + kSettleWait);
        } else {
          tick(now);
        }
        break;
      case Phase::settle:
        settle_and_close(now);
        break;
      case Phase::close:
        if (now >= close_until_ || all_closed()) {
          finish(now);
        } else {
          tick(now);
        }
        break;
      case Phase::done:
        break;
    }
  }

  Clock::time_point finished_at() const { return finished_at_; }

 private:
  enum class Phase { run, drain, settle, close, done };

  void tick(Clock::time_point now) {
    if (now >= next_report_) report(now);
    world_.scheduler.wake_at(*this, now + kPoll);
  }

  void report(Clock::time_point now) {
    next_report_ = now + kTick;
    world_.stats.cpu_us = thread_cpu_us() - cpu_at_start_;
    SamplePoint point;
    point.elapsed_s = std::chrono::duration<double>(now - world_.start).count();
    point.planned = planned_clients(now);
    point.connected = world_.connected;
    series_.push_back(take_sample(point, world_.stats, world_.window));
    if (!progress_) return;
    Progress p;
    p.elapsed_s = std::chrono::duration<double>(now - world_.start).count();
    p.target = world_.stats.clients;
    p.connected = world_.connected;
    p.joined = world_.stats.joined;
    p.sent = world_.stats.frames_sent;
    p.received = world_.stats.frames_received;
    p.errors = world_.stats.errors();
    for (const auto& c : clients_) p.lost += c->seq().counts().lost;
    p.phase = phase_name();
    p.broadcast = world_.stats.broadcast;
    progress_(p);
  }

  std::string phase_name() const {
    switch (phase_) {
      case Phase::run: return world_.connected < world_.stats.clients ? "ramp" : "run";
      case Phase::drain:
      case Phase::settle: return "drain";
      case Phase::close:
      case Phase::done: return "close";
    }
    return "run";
  }

  void begin_drain(Clock::time_point now) {
    phase_ = Phase::drain;
    world_.stopping = true;
    for (auto& c : clients_) c->stop_activity();
    drain_until_ = now + world_.options.drain;
    world_.scheduler.wake_at(*this, now);
  }

  // Every echo and /status answer is in, and in every room all checking members have seen the
  // same last seq (nothing in flight any more).
  bool all_settled() const {
    for (const auto& c : clients_) {
      if (!c->settled()) return false;
    }
    for (const auto& room : rooms_) {
      std::int64_t first = -1;
      for (Client* c : room.members) {
        if (!c->seq().active()) continue;
        if (first < 0) {
          first = c->seq().last();
        } else if (c->seq().last() != first) {
          return false;
        }
      }
    }
    return true;
  }

  bool all_closed() const {
    for (const auto& c : clients_) {
      if (!c->closed()) return false;
    }
    return true;
  }

  void snapshot_rooms() {
    room_last_.assign(rooms_.size(), -1);
    for (std::size_t r = 0; r < rooms_.size(); ++r) {
      for (Client* c : rooms_[r].members) {
        if (c->seq().active()) room_last_[r] = std::max(room_last_[r], c->seq().last());
      }
    }
  }

  void settle_and_close(Clock::time_point now) {
    auto& stats = world_.stats;
    for (std::size_t r = 0; r < rooms_.size(); ++r) {
      for (Client* c : rooms_[r].members) {
        if (c->seq().active()) stats.tail_lost += c->seq().settle(room_last_[r]);
        if (c->joined()) ++stats.connected_end;
      }
    }
    for (auto& c : clients_) {
      const auto& counts = c->seq().counts();
      stats.broadcasts_received += counts.received;
      stats.lost += counts.lost;
      stats.duplicated += counts.duplicated;
      stats.out_of_order += counts.out_of_order;
      c->finish(world_.options.leave_at_end);
    }
    phase_ = Phase::close;
    close_until_ = now + kCloseWait;
    world_.scheduler.wake_at(*this, now + kPoll);
  }

  void finish(Clock::time_point now) {
    world_.scheduler.stop();  // first: the clients' cancel() is then O(1)
    for (auto& c : clients_) c->abort();
    phase_ = Phase::done;
    finished_at_ = now;
    report(now);
    world_.io.stop();
  }

  // Clients the schedule wants connected at `now`: those whose first connect is due, until the
  // run phase ends.
  std::uint64_t planned_clients(Clock::time_point now) const {
    if (phase_ != Phase::run) return 0;
    const auto& stages = world_.options.stages;
    if (!stages.empty()) {
      const double share = static_cast<double>(clients_.size()) / world_.options.clients;
      const auto t = std::chrono::duration_cast<milliseconds>(now - world_.start);
      return static_cast<std::uint64_t>(planned_at(stages, t, share) + 1e-9);
    }
    std::uint64_t n = 0;
    for (const auto& c : clients_) n += c->first_connect() <= now ? 1 : 0;
    return n;
  }

  World& world_;
  std::vector<std::unique_ptr<Client>>& clients_;
  std::vector<RoomInfo>& rooms_;
  const ProgressSink& progress_;
  Clock::time_point end_;
  boost::json::array& series_;
  std::uint64_t cpu_at_start_;
  Phase phase_ = Phase::run;
  Clock::time_point next_report_{};
  Clock::time_point drain_until_{};
  Clock::time_point close_until_{};
  Clock::time_point finished_at_{};
  std::vector<std::int64_t> room_last_;
};

}  // namespace

WorkerResult run_worker(const Options& options, const std::vector<Target>& targets, int index,
                        const ProgressSink& progress) {
  asio::io_context io(1);
  Scheduler scheduler(io);
  WorkerResult result;
  result.index = index;
  Stats& stats = result.stats;
  World world(io, scheduler, options, stats);
  world.targets = targets;
  world.sdp = frames::fake_sdp(static_cast<std::size_t>(options.sdp_bytes));

  AddressPool pool;
  if (!options.bind.empty()) {
    pool = std::get<AddressPool>(AddressPool::parse(options.bind));  // validated before
  } else if (options.address_per_room) {
    pool = AddressPool::loopback_rooms();
  }

  const WorkerShare share = worker_share(options, index);
  stats.clients = static_cast<std::uint64_t>(share.clients);
  std::vector<RoomInfo> rooms(static_cast<std::size_t>(share.rooms));
  std::vector<std::unique_ptr<Client>> clients;
  clients.reserve(static_cast<std::size_t>(share.clients));
  for (int i = 0; i < share.rooms; ++i) {
    RoomInfo& room = rooms[static_cast<std::size_t>(i)];
    room.index = share.first_room + i;
    room.id = fmt::format("lt-{}-{}", options.run_id, room.index);
    const int members = room_members(options, room.index);
    for (int m = 0; m < members; ++m) {
      const auto global = static_cast<std::uint64_t>(room.index) * static_cast<std::uint64_t>(options.room_size) +
                          static_cast<std::uint64_t>(m);
      std::string source;
      if (!pool.empty()) source = pool.at(options.address_per_room ? static_cast<std::uint64_t>(room.index) : global);
      const Target& target = world.targets[static_cast<std::size_t>(room.index + m) % world.targets.size()];
      clients.push_back(std::make_unique<Client>(world, room, m, std::move(source), target));
      room.members.push_back(clients.back().get());
    }
  }

  const auto now = Clock::now();
  world.wall_offset_ms = realtime_ms() - std::chrono::duration<double, std::milli>(now.time_since_epoch()).count();
  world.start = now + kStartDelay;
  world.record_from = world.start + options.warmup;
  const double rate = options.ramp > 0 ? options.ramp / options.workers : 0.0;
  std::vector<StageDriver::Event> stage_events;
  const double client_share = static_cast<double>(clients.size()) / options.clients;
  for (std::size_t k = 0; k < clients.size(); ++k) {
    if (!options.stages.empty()) {
      bool first = true;
      for (const auto& t : transitions(options.stages, static_cast<int>(k), client_share)) {
        if (first && t.up) {
          clients[k]->start(world.start + t.at);
        } else {
          stage_events.push_back(StageDriver::Event{world.start + t.at, clients[k].get(), t.up});
        }
        first = false;
      }
      continue;
    }
    const auto offset = rate > 0 ? std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(static_cast<double>(k) / rate))
                                 : Clock::duration::zero();
    clients[k]->start(world.start + offset);
  }
  StageDriver stage_driver(world, std::move(stage_events));
  stage_driver.begin();
  const auto ramp_end = world.start + (rate > 0 ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                                      static_cast<double>(clients.size()) / rate))
                                                : Clock::duration::zero());
  for (auto& room : rooms) room.first_seek = ramp_end + kFirstStormSeek;

  Conductor conductor(world, clients, rooms, progress, world.start + options.duration, result.series);
  conductor.begin();
  LoopProbe probe(world);
  probe.begin();

  asio::signal_set signals(io, SIGINT, SIGTERM);
  int signals_seen = 0;
  std::function<void()> arm;
  arm = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      if (++signals_seen > 1) {
        scheduler.stop();
        for (auto& c : clients) c->abort();
        io.stop();
        return;
      }
      conductor.end_now();
      arm();
    });
  };
  arm();

  io.run();
  signals.cancel();
  result.elapsed_s = std::chrono::duration<double>(
                         (conductor.finished_at() == Clock::time_point{} ? Clock::now() : conductor.finished_at()) -
                         world.start)
                         .count();
  scheduler.stop();
  clients.clear();  // before the io_context and the scheduler go
  return result;
}

}  // namespace tandem::loadtest
