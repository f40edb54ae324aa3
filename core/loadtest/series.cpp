#include "core/loadtest/series.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json.hpp>

namespace tandem::loadtest {

namespace json = boost::json;

namespace {

struct WindowField {
  const char* name;
  Histogram Window::*member;
};
constexpr WindowField kWindowFields[] = {{"broadcast", &Window::broadcast},
                                         {"status", &Window::status},
                                         {"send_lag", &Window::send_lag},
                                         {"write_wait", &Window::write_wait},
                                         {"loop_lag", &Window::loop_lag}};

constexpr const char* kCounters[] = {"joined",        "frames_sent",     "frames_received", "errors",
                                     "sends_skipped", "status_requests", "cpu_us"};

constexpr double kMinRateWindow = 0.1;  // seconds

double ms(std::int64_t micros) { return std::round(static_cast<double>(micros)) / 1000.0; }

json::object latency(const Histogram& h) {
  return json::object{{"count", h.count()},
                      {"p50", ms(h.quantile(0.50))},
                      {"p90", ms(h.quantile(0.90))},
                      {"p99", ms(h.quantile(0.99))},
                      {"max", ms(h.max())}};
}

// The counters of one second, all workers added.
struct Second {
  double elapsed_s = 0;
  std::map<std::string, std::uint64_t> counts;
  std::vector<const json::object*> samples;  // every sample of the second, for the latencies
};

}  // namespace

json::object take_sample(const SamplePoint& point, const Stats& stats, Window& window) {
  json::object sample{{"t", point.elapsed_s},
                      {"planned", point.planned},
                      {"connected", point.connected},
                      {"joined", stats.joined},
                      {"frames_sent", stats.frames_sent},
                      {"frames_received", stats.frames_received},
                      {"errors", stats.errors()},
                      {"sends_skipped", stats.sends_skipped},
                      {"status_requests", stats.status_requests},
                      {"cpu_us", stats.cpu_us}};
  for (const auto& f : kWindowFields) {
    sample[f.name] = (window.*f.member).to_json();
    window.*f.member = Histogram();
  }
  return sample;
}

json::array merge_series(const std::vector<const json::array*>& workers) {
  // Histograms are merged one second at a time: a long run keeps its samples, not a full
  // histogram per second.
  std::map<long, Second> seconds;
  try {
    for (const auto* samples : workers) {
      // Latencies of every sample count; counters and gauges are the worker's latest in the second.
      std::map<long, const json::object*> latest;
      for (const auto& v : *samples) {
        const auto& o = v.as_object();
        const long whole = std::lround(o.at("t").to_number<double>());
        latest[whole] = &o;
        seconds[whole].samples.push_back(&o);
      }
      for (const auto& [whole, sample] : latest) {
        const auto& o = *sample;
        Second& s = seconds[whole];
        s.elapsed_s = std::max(s.elapsed_s, o.at("t").to_number<double>());
        for (const char* key : {"planned", "connected"}) s.counts[key] += json::value_to<std::uint64_t>(o.at(key));
        for (const char* key : kCounters) s.counts[key] += json::value_to<std::uint64_t>(o.at(key));
      }
    }

    json::array series;
    const Second* previous = nullptr;
    for (const auto& [whole, s] : seconds) {
      const double dt = previous ? s.elapsed_s - previous->elapsed_s : s.elapsed_s;
      auto delta = [&](const char* key) {
        const std::uint64_t before = previous ? previous->counts.at(key) : 0;
        const std::uint64_t now = s.counts.at(key);
        return now >= before ? now - before : 0;
      };
      // A rate over less than kMinRateWindow (the sample at time zero) would divide by almost nothing.
      const bool rated = dt >= kMinRateWindow;
      auto rate = [&](const char* key) {
        return rated ? std::round(static_cast<double>(delta(key)) / dt * 10) / 10 : 0.0;
      };
      json::object entry{{"t", std::round(s.elapsed_s * 1000) / 1000},
                         {"clients_planned", s.counts.at("planned")},
                         {"connected", s.counts.at("connected")},
                         {"joined", s.counts.at("joined")},
                         {"frames_sent_per_s", rate("frames_sent")},
                         {"frames_received_per_s", rate("frames_received")},
                         {"status_per_s", rate("status_requests")},
                         {"errors", s.counts.at("errors")},
                         {"errors_per_s", rate("errors")},
                         {"sends_skipped", s.counts.at("sends_skipped")},
                         {"cpu_percent", rated ? std::round(static_cast<double>(delta("cpu_us")) / (dt * 1e4)) : 0.0}};
      for (const auto& f : kWindowFields) {
        Histogram merged;
        for (const auto* sample : s.samples) merged.merge(Histogram::from_json(sample->at(f.name)));
        entry[std::string(f.name) + "_ms"] = latency(merged);
      }
      series.push_back(std::move(entry));
      previous = &s;
    }
    return series;
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    throw std::invalid_argument(std::string("malformed sample: ") + e.what());
  }
}

}  // namespace tandem::loadtest
