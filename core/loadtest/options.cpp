#include "core/loadtest/options.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <ctime>
#include <random>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/loadtest/threshold.hpp"
#include "core/util/duration.hpp"

namespace tandem::loadtest {

namespace {

constexpr Millis kMaxDrain{60'000};
constexpr int kMaxSdpBytes = 60'000;  // an OFFER must fit limits.max_frame_bytes (64 KiB)

std::optional<Profile> parse_profile(std::string_view name) {
  if (name == "extension") return Profile::extension;
  if (name == "heartbeat") return Profile::heartbeat;
  if (name == "storm") return Profile::storm;
  if (name == "churn") return Profile::churn;
  return std::nullopt;
}

// A duration flag: "0" or "off" turn the behaviour off.
std::optional<std::string> apply_duration(std::string_view flag, const std::string& text, Millis& into,
                                          bool allow_off) {
  if (text.empty()) return std::nullopt;
  if (allow_off && (text == "0" || text == "off")) {
    into = Millis{0};
    return std::nullopt;
  }
  const auto d = util::parse_duration(text);
  if (!d || (!allow_off && d->count() == 0)) {
    return fmt::format("{} '{}': expected {}{}", flag, text, util::kDurationForms, allow_off ? ", or off" : "");
  }
  into = *d;
  return std::nullopt;
}

std::string random_run_id() {
  std::random_device device;
  return fmt::format("{:06x}", device() & 0xffffffu);
}

std::string seconds(Millis d) { return fmt::format("{:g} s", static_cast<double>(d.count()) / 1000.0); }

}  // namespace

std::string_view profile_name(Profile p) {
  switch (p) {
    case Profile::extension: return "extension";
    case Profile::heartbeat: return "heartbeat";
    case Profile::storm: return "storm";
    case Profile::churn: return "churn";
  }
  return "extension";
}

Behaviour profile_defaults(Profile p) {
  Behaviour b;  // the extension (docs/protocol.md §9)
  switch (p) {
    case Profile::extension:
      break;
    case Profile::heartbeat:  // the v2.0 server's light profile: no polling, no positions
      b.position = Millis{0};
      b.status = Millis{0};
      b.heartbeat = Millis{1'000};
      b.play_pause = Millis{0};
      b.seek = Millis{0};
      b.webrtc = false;
      break;
    case Profile::storm:  // everyone at once, then seeks in every room at the same instants
      b.play_pause = Millis{0};
      b.seek = Millis{10'000};
      b.aligned_seeks = true;
      break;
    case Profile::churn:
      b.churn = Millis{10'000};
      break;
  }
  return b;
}

double default_ramp(Profile p) { return p == Profile::storm ? 0.0 : kDefaultRamp; }

std::variant<Options, std::string> validate(const RawOptions& raw) {
  Options o;
  if (raw.urls.empty()) return std::string("give at least one --url ws://HOST:PORT/ws");
  o.urls = raw.urls;
  const auto profile = parse_profile(raw.profile);
  if (!profile) return fmt::format("--profile '{}': expected extension, heartbeat, storm or churn", raw.profile);
  o.profile = *profile;
  o.behaviour = profile_defaults(o.profile);
  if (raw.room_size < 1) {
    return fmt::format("--room-size {}: a room needs at least one member", raw.room_size);
  }
  if (raw.clients < 1) return fmt::format("--clients {}: at least one client is needed", raw.clients);
  o.clients = raw.clients;
  for (const auto& text : raw.stages) {
    auto parsed = parse_stage(text);
    if (auto* refusal = std::get_if<std::string>(&parsed)) return *refusal;
    o.stages.push_back(std::get<Stage>(parsed));
  }
  if (!o.stages.empty()) {
    o.clients = peak_clients(o.stages);
    if (o.clients < 1) return "--stage: no stage has a client; at least one stage needs a count above 0";
  }
  o.room_size = raw.room_size;
  o.rooms = (o.clients + o.room_size - 1) / o.room_size;

  for (const auto& [flag, text, into] :
       {std::tuple{"--duration", &raw.duration, &o.duration}, std::tuple{"--warmup", &raw.warmup, &o.warmup},
        std::tuple{"--drain", &raw.drain, &o.drain},
        std::tuple{"--connect-timeout", &raw.connect_timeout, &o.connect_timeout}}) {
    const bool allow_zero = into == &o.warmup || into == &o.drain;
    if (allow_zero && (*text == "0" || *text == "0ms")) continue;
    if (auto error = apply_duration(flag, *text, *into, false)) return *error;
  }
  if (!o.stages.empty()) {
    o.duration = total_duration(o.stages);
    if (o.duration.count() == 0) return "--stage: the stages last 0 s together";
  }
  auto& b = o.behaviour;
  for (const auto& [flag, text, into, off] : {
           std::tuple{"--ping-interval", &raw.ping, &b.ping, true},
           std::tuple{"--pong-timeout", &raw.pong_timeout, &b.pong_timeout, false},
           std::tuple{"--position-interval", &raw.position, &b.position, true},
           std::tuple{"--status-interval", &raw.status, &b.status, true},
           std::tuple{"--heartbeat-interval", &raw.heartbeat, &b.heartbeat, true},
           std::tuple{"--play-pause-interval", &raw.play_pause, &b.play_pause, true},
           std::tuple{"--seek-interval", &raw.seek, &b.seek, true},
           std::tuple{"--ready-delay", &raw.ready_delay, &b.ready_delay, true},
           std::tuple{"--churn-interval", &raw.churn, &b.churn, true},
           std::tuple{"--rejoin-delay", &raw.rejoin_delay, &b.rejoin_delay, true},
       }) {
    if (auto error = apply_duration(flag, *text, *into, off)) return *error;
  }
  if (raw.no_webrtc) b.webrtc = false;
  if (auto error = apply_duration("--max-lag", raw.max_lag, o.health.max_lag, false)) return *error;
  if (!(raw.max_skipped_percent >= 0 && raw.max_skipped_percent <= 100)) {
    return fmt::format("--max-skipped {:g}: expected a percentage from 0 to 100", raw.max_skipped_percent);
  }
  o.health.max_skipped_percent = raw.max_skipped_percent;

  if (o.drain > kMaxDrain) return fmt::format("--drain {}: at most {}", seconds(o.drain), seconds(kMaxDrain));
  if (o.warmup >= o.duration) {
    return fmt::format("--warmup {} must be shorter than --duration {}", seconds(o.warmup), seconds(o.duration));
  }
  o.ramp = !o.stages.empty() ? 0.0 : raw.ramp < 0 ? default_ramp(o.profile) : raw.ramp;
  if (o.ramp > 0) {
    const double ramp_seconds = o.clients / o.ramp;
    if (ramp_seconds >= std::chrono::duration<double>(o.duration).count()) {
      return fmt::format("--ramp {:g}/s needs {:.1f} s to connect {} clients, longer than --duration {}; raise "
                         "--ramp or --duration",
                         o.ramp, ramp_seconds, o.clients, seconds(o.duration));
    }
  }
  if (raw.workers < 1) return fmt::format("--workers {}: at least one", raw.workers);
  if (raw.workers > o.rooms) {
    return fmt::format("--workers {}: only {} room(s) to share; the members of a room stay in one worker",
                       raw.workers, o.rooms);
  }
  o.workers = raw.workers;
  if (raw.sdp_bytes < 0 || raw.sdp_bytes > kMaxSdpBytes) {
    return fmt::format("--sdp-bytes {}: expected 0 to {}", raw.sdp_bytes, kMaxSdpBytes);
  }
  o.sdp_bytes = raw.sdp_bytes;
  o.bind = raw.bind;
  o.address_per_room = raw.address_per_room;
  o.run_id = random_run_id();
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  for (auto [from, into] : {std::pair{&raw.out, &o.out}, std::pair{&raw.html, &o.html}}) {
    *into = *from;
    if (const auto at = into->find(kRunPlaceholder); at != std::string::npos) {
      into->replace(at, kRunPlaceholder.size(), fmt::format("{}-{}", stamp, o.run_id));
    }
  }
  o.thresholds = raw.thresholds;
  for (const auto& text : o.thresholds) {
    if (auto parsed = parse_threshold(text); std::holds_alternative<std::string>(parsed)) {
      return std::get<std::string>(parsed);
    }
  }
  o.leave_at_end = !raw.no_leave;
  o.progress = raw.progress;
  o.quiet = raw.quiet;
  o.json_output = raw.json_output;
  return o;
}

WorkerShare worker_share(const Options& options, int worker) {
  WorkerShare share;
  const auto rooms = static_cast<long long>(options.rooms);
  share.first_room = static_cast<int>(rooms * worker / options.workers);
  const int end_room = static_cast<int>(rooms * (worker + 1) / options.workers);
  share.rooms = end_room - share.first_room;
  share.first_client = share.first_room * options.room_size;
  for (int r = share.first_room; r < end_room; ++r) share.clients += room_members(options, r);
  return share;
}

int room_members(const Options& options, int room) {
  const int before = room * options.room_size;
  return std::clamp(options.clients - before, 0, options.room_size);
}

std::optional<std::string> check_descriptor_limit(const Options& options) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  int largest = 0;
  for (int w = 0; w < options.workers; ++w) largest = std::max(largest, worker_share(options, w).clients);
  const int per_client = options.sockets_per_client();
  const long long needed = static_cast<long long>(largest) * per_client + kReservedDescriptors;
  if (limit.rlim_cur == RLIM_INFINITY || needed <= static_cast<long long>(limit.rlim_cur)) return std::nullopt;
  const long long usable = static_cast<long long>(limit.rlim_cur) - kReservedDescriptors;
  const long long per_worker = std::max<long long>(0, usable / per_client);
  const long long workers_needed = per_worker > 0 ? (options.clients + per_worker - 1) / per_worker : 0;
  std::string advice =
      per_worker > 0 ? fmt::format("use --workers {} or more (each process has its own limit)", workers_needed)
                     : std::string("raise the limit (ulimit -n)");
  return fmt::format(
      "{} clients in one worker need {} file descriptors ({} socket{} each{} + {} reserved), but the limit "
      "(RLIMIT_NOFILE) is {}: one worker holds at most {} clients; {}",
      largest, needed, per_client, per_client == 1 ? "" : "s",
      per_client == 2 ? ": the WebSocket and the /status keep-alive connection" : "", kReservedDescriptors,
      static_cast<long long>(limit.rlim_cur), per_worker, advice);
}

boost::json::value Options::to_json() const {
  namespace json = boost::json;
  auto ms = [](Millis d) { return d.count(); };
  json::array url_list(urls.begin(), urls.end());
  json::array bind_list(bind.begin(), bind.end());
  json::array threshold_list(thresholds.begin(), thresholds.end());
  json::array stage_list;
  for (const auto& s : stages) stage_list.push_back(json::object{{"duration_ms", s.duration.count()}, {"clients", s.target}});
  const auto& b = behaviour;
  return json::object{
      {"urls", std::move(url_list)},
      {"clients", clients},
      {"room_size", room_size},
      {"rooms", rooms},
      {"ramp_per_s", ramp},
      {"stages", std::move(stage_list)},
      {"duration_ms", ms(duration)},
      {"warmup_ms", ms(warmup)},
      {"drain_ms", ms(drain)},
      {"profile", profile_name(profile)},
      {"workers", workers},
      {"bind", std::move(bind_list)},
      {"address_per_room", address_per_room},
      {"thresholds", std::move(threshold_list)},
      {"leave_at_end", leave_at_end},
      {"sdp_bytes", sdp_bytes},
      {"max_lag_ms", ms(health.max_lag)},
      {"max_skipped_percent", health.max_skipped_percent},
      {"run_id", run_id},
      {"behaviour_ms",
       json::object{{"ping", ms(b.ping)},
                    {"pong_timeout", ms(b.pong_timeout)},
                    {"position", ms(b.position)},
                    {"status", ms(b.status)},
                    {"heartbeat", ms(b.heartbeat)},
                    {"play_pause", ms(b.play_pause)},
                    {"play_pause_resend", ms(b.play_pause_resend)},
                    {"seek", ms(b.seek)},
                    {"ready_delay", ms(b.ready_delay)},
                    {"churn", ms(b.churn)},
                    {"rejoin_delay", ms(b.rejoin_delay)}}},
      {"webrtc", b.webrtc},
      {"aligned_seeks", b.aligned_seeks},
  };
}

}  // namespace tandem::loadtest
