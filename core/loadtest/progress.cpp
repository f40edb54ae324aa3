#include "core/loadtest/progress.hpp"

#include <algorithm>
#include <stdexcept>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/loadtest/threshold.hpp"

namespace tandem::loadtest {

namespace json = boost::json;

json::value Progress::to_json() const {
  return json::object{{"elapsed_s", elapsed_s}, {"target", target},     {"connected", connected},
                      {"joined", joined},       {"sent", sent},         {"received", received},
                      {"errors", errors},       {"lost", lost},         {"phase", phase},
                      {"broadcast", broadcast.to_json()}};
}

Progress Progress::from_json(const json::value& v) {
  try {
    const auto& o = v.as_object();
    Progress p;
    p.elapsed_s = o.at("elapsed_s").to_number<double>();
    p.target = json::value_to<std::uint64_t>(o.at("target"));
    p.connected = json::value_to<std::uint64_t>(o.at("connected"));
    p.joined = json::value_to<std::uint64_t>(o.at("joined"));
    p.sent = json::value_to<std::uint64_t>(o.at("sent"));
    p.received = json::value_to<std::uint64_t>(o.at("received"));
    p.errors = json::value_to<std::uint64_t>(o.at("errors"));
    p.lost = json::value_to<std::uint64_t>(o.at("lost"));
    p.phase = json::value_to<std::string>(o.at("phase"));
    p.broadcast = Histogram::from_json(o.at("broadcast"));
    return p;
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("malformed progress: ") + e.what());
  }
}

namespace {
std::string rate(double per_second) {
  if (per_second >= 10'000) return fmt::format("{:.1f}k", per_second / 1000);
  return fmt::format("{:.0f}", per_second);
}
}  // namespace

std::string ProgressLine::render() {
  Progress total;
  Histogram broadcast;
  std::string phase;
  for (const auto& p : latest_) {
    total.elapsed_s = std::max(total.elapsed_s, p.elapsed_s);
    total.target += p.target;
    total.connected += p.connected;
    total.joined += p.joined;
    total.sent += p.sent;
    total.received += p.received;
    total.errors += p.errors;
    total.lost += p.lost;
    broadcast.merge(p.broadcast);
    if (phase.empty()) phase = p.phase;
  }
  const double dt = total.elapsed_s - last_elapsed_;
  const double out = dt > 0 ? static_cast<double>(total.sent - std::min(total.sent, last_sent_)) / dt : 0;
  const double in = dt > 0 ? static_cast<double>(total.received - std::min(total.received, last_received_)) / dt : 0;
  last_elapsed_ = total.elapsed_s;
  last_sent_ = total.sent;
  last_received_ = total.received;
  return fmt::format("[{:4.0f}s] {:<5} connected {}/{}  joined {}  msgs/s out {} in {}  bcast p99 {}  errors {}  lost {}",
                     total.elapsed_s, phase, total.connected, total.target, total.joined, rate(out), rate(in),
                     broadcast.count() ? format_micros(static_cast<double>(broadcast.quantile(0.99))) : "-",
                     total.errors, total.lost);
}

}  // namespace tandem::loadtest
