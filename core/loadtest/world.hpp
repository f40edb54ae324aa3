#pragma once

// What the simulated clients of one worker share: the event loop, the scheduler, the run's
// clock, the results, and the rooms. Single-threaded, like everything in a worker.

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "core/loadtest/frame_scan.hpp"
#include "core/loadtest/options.hpp"
#include "core/loadtest/scheduler.hpp"
#include "core/loadtest/series.hpp"
#include "core/loadtest/stats.hpp"
#include "core/loadtest/target.hpp"

namespace boost::asio {
class io_context;
}

namespace tandem::loadtest {

class Client;

struct RoomInfo {
  int index = 0;       // global room number
  std::string id;      // "lt-<run>-<index>"
  std::vector<Client*> members;
  Clock::time_point first_seek{};  // aligned seeks (storm): every room seeks at first_seek + k·interval
};

struct World {
  World(boost::asio::io_context& io_, Scheduler& scheduler_, const Options& options_, Stats& stats_)
      : io(io_), scheduler(scheduler_), options(options_), stats(stats_) {}

  boost::asio::io_context& io;
  Scheduler& scheduler;
  const Options& options;
  Stats& stats;
  Window window;  // latencies since the last per-second sample
  std::vector<Target> targets;
  FrameScanner scanner;
  std::string sdp;
  std::mt19937_64 rng{std::random_device{}()};

  Clock::time_point start{};        // the run's time zero
  Clock::time_point record_from{};  // end of --warmup: latencies before it are not recorded
  bool stopping = false;            // past --duration: no more scheduled sends, no reconnects
  std::uint64_t connected = 0;      // WebSockets open now

  // Wall-clock milliseconds (with a microsecond fraction) for a steady-clock instant. One
  // offset per worker, taken at start, so a clock step during the run cannot distort latencies:
  // every room lives in one worker, so sender and receiver always use the same offset.
  double wall_ms(Clock::time_point t) const {
    return wall_offset_ms + std::chrono::duration<double, std::milli>(t.time_since_epoch()).count();
  }
  double wall_offset_ms = 0;

  bool recording(Clock::time_point now) const { return now >= record_from; }
};

}  // namespace tandem::loadtest
