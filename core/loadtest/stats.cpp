#include "core/loadtest/stats.hpp"

#include <stdexcept>

#include <boost/json.hpp>

namespace tandem::loadtest {

namespace json = boost::json;

const std::array<Stats::Field, 40>& Stats::fields() {
  static const std::array<Field, 40> table{
      Field{"clients", &Stats::clients},
      Field{"joined", &Stats::joined},
      Field{"connected_end", &Stats::connected_end},
      Field{"gave_up", &Stats::gave_up},
      Field{"connect_attempts", &Stats::connect_attempts},
      Field{"connect_failures", &Stats::connect_failures},
      Field{"reconnects", &Stats::reconnects},
      Field{"unintended_closes", &Stats::unintended_closes},
      Field{"pong_timeouts", &Stats::pong_timeouts},
      Field{"watchdog_reconnects", &Stats::watchdog_reconnects},
      Field{"leaves", &Stats::leaves},
      Field{"rejoins", &Stats::rejoins},
      Field{"frames_sent", &Stats::frames_sent},
      Field{"frames_received", &Stats::frames_received},
      Field{"bytes_sent", &Stats::bytes_sent},
      Field{"bytes_received", &Stats::bytes_received},
      Field{"positions_sent", &Stats::positions_sent},
      Field{"heartbeats_sent", &Stats::heartbeats_sent},
      Field{"play_pauses_sent", &Stats::play_pauses_sent},
      Field{"seeks_sent", &Stats::seeks_sent},
      Field{"readies_sent", &Stats::readies_sent},
      Field{"pings_sent", &Stats::pings_sent},
      Field{"offers_sent", &Stats::offers_sent},
      Field{"answers_sent", &Stats::answers_sent},
      Field{"gates_released", &Stats::gates_released},
      Field{"sends_skipped", &Stats::sends_skipped},
      Field{"sends_skipped_late", &Stats::sends_skipped_late},
      Field{"sends_refused", &Stats::sends_refused},
      Field{"status_skipped", &Stats::status_skipped},
      Field{"broadcasts_received", &Stats::broadcasts_received},
      Field{"lost", &Stats::lost},
      Field{"tail_lost", &Stats::tail_lost},
      Field{"duplicated", &Stats::duplicated},
      Field{"out_of_order", &Stats::out_of_order},
      Field{"error_frames", &Stats::error_frames},
      Field{"status_requests", &Stats::status_requests},
      Field{"status_ok", &Stats::status_ok},
      Field{"status_failed", &Stats::status_failed},
      Field{"status_without_room", &Stats::status_without_room},
      Field{"cpu_us", &Stats::cpu_us}};
  return table;
}

const std::array<Stats::HistogramField, 9>& Stats::histograms() {
  static const std::array<HistogramField, 9> table{
      HistogramField{"connect", &Stats::connect},   HistogramField{"join", &Stats::join},
      HistogramField{"broadcast", &Stats::broadcast}, HistogramField{"relay", &Stats::relay},
      HistogramField{"status", &Stats::status},     HistogramField{"pong", &Stats::pong},
      HistogramField{"send_lag", &Stats::send_lag},   HistogramField{"write_wait", &Stats::write_wait},
      HistogramField{"loop_lag", &Stats::loop_lag}};
  return table;
}

std::uint64_t Stats::errors() const {
  return error_frames + connect_failures + unintended_closes + status_failed + pong_timeouts + sends_skipped;
}

std::uint64_t Stats::operations() const { return frames_sent + status_requests + connect_attempts; }

namespace {

void add_map(std::map<std::string, std::uint64_t, std::less<>>& into,
             const std::map<std::string, std::uint64_t, std::less<>>& from) {
  for (const auto& [key, n] : from) into[key] += n;
}

json::object map_json(const std::map<std::string, std::uint64_t, std::less<>>& m) {
  json::object o;
  for (const auto& [key, n] : m) o[key] = n;
  return o;
}

std::map<std::string, std::uint64_t, std::less<>> map_from(const json::value& v) {
  std::map<std::string, std::uint64_t, std::less<>> m;
  for (const auto& [key, n] : v.as_object()) m[std::string(key)] = json::value_to<std::uint64_t>(n);
  return m;
}

}  // namespace

void Stats::merge(const Stats& other) {
  for (const auto& f : fields()) this->*f.member += other.*f.member;
  for (const auto& h : histograms()) (this->*h.member).merge(other.*h.member);
  add_map(errors_by_code, other.errors_by_code);
  add_map(close_codes, other.close_codes);
  add_map(connect_failure_reasons, other.connect_failure_reasons);
}

json::value Stats::to_json() const {
  json::object counters;
  for (const auto& f : fields()) counters[f.name] = this->*f.member;
  json::object hists;
  for (const auto& h : histograms()) hists[h.name] = (this->*h.member).to_json();
  return json::object{{"counters", std::move(counters)},
                      {"histograms", std::move(hists)},
                      {"errors_by_code", map_json(errors_by_code)},
                      {"close_codes", map_json(close_codes)},
                      {"connect_failure_reasons", map_json(connect_failure_reasons)}};
}

Stats Stats::from_json(const json::value& v) {
  try {
    Stats s;
    const auto& o = v.as_object();
    const auto& counters = o.at("counters").as_object();
    for (const auto& f : fields()) s.*f.member = json::value_to<std::uint64_t>(counters.at(f.name));
    const auto& hists = o.at("histograms").as_object();
    for (const auto& h : histograms()) s.*h.member = Histogram::from_json(hists.at(h.name));
    s.errors_by_code = map_from(o.at("errors_by_code"));
    s.close_codes = map_from(o.at("close_codes"));
    s.connect_failure_reasons = map_from(o.at("connect_failure_reasons"));
    return s;
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("malformed worker result: ") + e.what());
  }
}

const std::uint64_t* Stats::counter(std::string_view name) const {
  for (const auto& f : fields()) {
    if (f.name == name) return &(this->*f.member);
  }
  return nullptr;
}

const Histogram* Stats::histogram(std::string_view name) const {
  for (const auto& h : histograms()) {
    if (h.name == name) return &(this->*h.member);
  }
  return nullptr;
}

}  // namespace tandem::loadtest
