#pragma once

// The parameters of a loadtest run: what the command line gives (RawOptions, all text as typed)
// and the validated plan (Options). Validation explains every refusal in one sentence; refusals
// are usage errors (exit 2).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/fwd.hpp>

#include "core/loadtest/stages.hpp"

namespace tandem::loadtest {

using Millis = std::chrono::milliseconds;

enum class Profile { extension, heartbeat, storm, churn };

// How often each behaviour of docs/protocol.md §9 happens; zero turns it off.
struct Behaviour {
  Millis ping{15'000};          // PING; every client
  Millis pong_timeout{10'000};  // watchdog per PING; the third miss in a row closes and reconnects
  Millis position{500};         // POSITION_UPDATE; every member
  Millis status{2'000};         // GET /status over the client's keep-alive connection
  Millis heartbeat{3'000};      // HOST_HEARTBEAT; the host
  Millis play_pause{30'000};    // the host toggles play/pause and re-sends it 3 s later
  Millis play_pause_resend{3'000};
  Millis seek{60'000};          // the host seeks (isPlaying true); the others answer READY
  Millis ready_delay{300};      // a member's buffering time between SEEK_PAUSE and READY
  Millis churn{0};              // mean lifetime of a connection before LEAVE + re-JOIN
  Millis rejoin_delay{1'000};   // churn: pause between LEAVE and the next JOIN
  bool webrtc = true;           // OFFER to every newcomer; the newcomer answers
  bool aligned_seeks = false;   // storm: every room seeks at the same instants
};

// How far the generator may fall behind, or the target push back, before the run cannot vouch
// for the load it reports (health.hpp).
struct HealthBounds {
  Millis max_lag{kDefaultMaxLagMs};   // p99 of send lag, of event-loop lag and of write wait
  double max_skipped_percent = 0.1;   // skipped sends, as a share of the scheduled ones
  static constexpr int kDefaultMaxLagMs = 100;
};

// Text as given on the command line. Empty behaviour strings mean "the profile's default".
struct RawOptions {
  std::vector<std::string> urls;
  int clients = 100;
  int room_size = 4;
  double ramp = -1;  // clients per second; 0 = all at once; negative = the profile's default
  std::string duration = "30s";
  std::vector<std::string> stages;  // "30s:1000"; when given they replace clients, ramp and duration
  std::string warmup = "0ms";
  std::string drain = "5s";
  std::string profile = "extension";
  int workers = 1;
  std::vector<std::string> bind;
  bool address_per_room = false;
  std::string out;
  std::string html;
  std::vector<std::string> thresholds;
  std::string ping, pong_timeout, position, status, heartbeat, play_pause, seek, ready_delay, churn, rejoin_delay;
  bool no_webrtc = false;
  bool no_leave = false;
  int sdp_bytes = 1500;
  std::string connect_timeout = "10s";
  std::string max_lag = "100ms";
  double max_skipped_percent = 0.1;
  bool progress = false;  // force the progress line when stderr is not a terminal
  bool quiet = false;
  bool json_output = false;  // the report as one JSON line on stdout instead of the table
};

struct Options {
  std::vector<std::string> urls;
  int clients = 0;
  int room_size = 0;
  int rooms = 0;  // ceil(clients / room_size); the last room may be smaller
  double ramp = 0;
  std::vector<Stage> stages;  // empty: connect `clients` at `ramp` per second and hold
  Millis duration{0};
  Millis warmup{0};
  Millis drain{0};
  Profile profile = Profile::extension;
  Behaviour behaviour;
  int workers = 1;
  std::vector<std::string> bind;
  bool address_per_room = false;
  std::string out;
  std::string html;  // --html: the self-contained HTML report
  std::vector<std::string> thresholds;
  bool leave_at_end = true;
  int sdp_bytes = 0;
  Millis connect_timeout{0};
  HealthBounds health;
  bool progress = false;
  bool quiet = false;
  bool json_output = false;
  std::string run_id;  // random; part of every room and user id so runs never share rooms

  // Sockets one client holds: the WebSocket, plus the /status connection when polling.
  int sockets_per_client() const { return behaviour.status.count() > 0 ? 2 : 1; }
  boost::json::value to_json() const;
};

std::string_view profile_name(Profile p);
// The defaults of a profile (before per-behaviour flags).
Behaviour profile_defaults(Profile p);
// Connects per second when --ramp is not given: all at once for storm, kDefaultRamp otherwise.
inline constexpr double kDefaultRamp = 500;
double default_ramp(Profile p);

// In --out and --html, replaced by the start time and the run id ("20261202T151342Z-3fa2c1"), so that
// every run of a Job keeps its own report.
inline constexpr std::string_view kRunPlaceholder = "{run}";

// Validates `raw`. Returns the plan, or the reason it is refused (a usage error).
std::variant<Options, std::string> validate(const RawOptions& raw);

// File descriptors the worker keeps for itself (pipes, epoll, timers, the log).
inline constexpr int kReservedDescriptors = 32;

// Raises the soft RLIMIT_NOFILE to the hard limit and checks that every worker can hold its
// share of sockets. Returns the refusal, with the arithmetic and what to change, when not.
std::optional<std::string> check_descriptor_limit(const Options& options);

// Clients of worker `w` (rooms are split between workers; members of a room stay together).
struct WorkerShare {
  int first_room = 0;
  int rooms = 0;
  int clients = 0;
  int first_client = 0;  // global index of the first member of first_room
};
WorkerShare worker_share(const Options& options, int worker);
// Members of room `room` (room_size, fewer in the last room).
int room_members(const Options& options, int room);

}  // namespace tandem::loadtest
