#include "core/loadtest/report.hpp"

#include <algorithm>
#include <cmath>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/loadtest/series.hpp"
#include "core/store/json_text.hpp"
#include "core/util/version.hpp"

namespace tandem::loadtest {

namespace json = boost::json;

namespace {

double ms(std::int64_t micros) { return static_cast<double>(micros) / 1000.0; }
// Rounded to `places` decimals, so the JSON report reads 72.553 rather than 72.55312755301.
double rounded(double v, int places) {
  const double scale = std::pow(10.0, places);
  return std::round(v * scale) / scale;
}

json::object latency_json(const Histogram& h) {
  return json::object{{"count", h.count()},          {"min", ms(h.min())},
                      {"mean", rounded(h.mean() / 1000.0, 3)},    {"p50", ms(h.quantile(0.50))},
                      {"p90", ms(h.quantile(0.90))},  {"p99", ms(h.quantile(0.99))},
                      {"p99_9", ms(h.quantile(0.999))}, {"max", ms(h.max())}};
}

json::object map_json(const std::map<std::string, std::uint64_t, std::less<>>& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

std::string thousands(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string per_second(std::uint64_t n, double seconds) {
  const double r = seconds > 0 ? static_cast<double>(n) / seconds : 0;
  return r >= 10'000 ? fmt::format("{:.1f}k/s", r / 1000) : fmt::format("{:.0f}/s", r);
}

std::string map_line(const std::map<std::string, std::uint64_t, std::less<>>& m) {
  std::string out;
  for (const auto& [k, v] : m) out += fmt::format("{}{} × {}", out.empty() ? "" : ", ", k, thousands(v));
  return out;
}

}  // namespace

Report build_report(const Options& options, std::vector<WorkerResult> workers, std::string started_at) {
  Report r;
  r.options = &options;
  r.started_at = std::move(started_at);
  std::sort(workers.begin(), workers.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  for (const auto& w : workers) {
    r.total.merge(w.stats);
    r.elapsed_s = std::max(r.elapsed_s, w.elapsed_s);
  }
  for (const auto& text : options.thresholds) {
    const auto parsed = parse_threshold(text);
    if (const auto* t = std::get_if<Threshold>(&parsed)) {
      r.thresholds.push_back(evaluate(*t, r.total));
      r.thresholds_passed = r.thresholds_passed && r.thresholds.back().passed;
    }
  }
  r.health = judge_health(options, r.total, workers);
  r.verdict = decide(r.health, r.thresholds_passed);
  r.passed = r.verdict == Verdict::passed;
  std::vector<const json::array*> samples;
  for (const auto& w : workers) samples.push_back(&w.series);
  r.series = merge_series(samples);
  r.workers = std::move(workers);
  return r;
}

json::value report_json(const Report& r) {
  const Stats& s = r.total;
  json::array workers;
  for (const auto& w : r.workers) {
    workers.push_back(json::object{{"index", w.index},
                                   {"clients", w.stats.clients},
                                   {"joined", w.stats.joined},
                                   {"connected_end", w.stats.connected_end},
                                   {"frames_sent", w.stats.frames_sent},
                                   {"frames_received", w.stats.frames_received},
                                   {"broadcasts_received", w.stats.broadcasts_received},
                                   {"lost", w.stats.lost},
                                   {"elapsed_s", rounded(w.elapsed_s, 3)},
                                   {"cpu_percent", w.elapsed_s > 0 ? rounded(static_cast<double>(w.stats.cpu_us) /
                                                                                (w.elapsed_s * 1e4), 1)
                                                                   : 0.0}});
  }
  json::object counters;
  for (const auto& f : Stats::fields()) counters[f.name] = s.*f.member;
  json::object latency;
  for (const auto& h : Stats::histograms()) latency[h.name] = latency_json(s.*h.member);
  json::array thresholds;
  for (const auto& t : r.thresholds) {
    thresholds.push_back(json::object{{"expr", t.text}, {"actual", rounded(t.actual, 3)}, {"actual_text", t.actual_text},
                                      {"passed", t.passed}});
  }
  const double operations = static_cast<double>(s.operations());
  const Health& h = r.health;
  auto rate = [&](std::uint64_t n) { return r.elapsed_s > 0 ? rounded(static_cast<double>(n) / r.elapsed_s, 1) : 0.0; };
  json::object generator{{"healthy", h.generator.empty()},
                         {"reasons", json::array(h.generator.begin(), h.generator.end())},
                         {"send_lag_p99_ms", h.send_lag_p99_ms},
                         {"loop_lag_p99_ms", h.loop_lag_p99_ms},
                         {"skipped_late_percent", rounded(h.skipped_late_percent, 4)},
                         {"max_cpu_percent", rounded(h.max_cpu_percent, 1)},
                         {"max_lag_ms", r.options->health.max_lag.count()},
                         {"max_skipped_percent", r.options->health.max_skipped_percent}};
  json::object target{{"took_the_load", h.target.empty()},
                      {"reasons", json::array(h.target.begin(), h.target.end())},
                      {"write_wait_p99_ms", h.write_wait_p99_ms},
                      {"skipped_percent", rounded(h.skipped_target_percent, 4)},
                      {"unreachable", h.unreachable}};
  return json::object{
      {"tool", "tandem loadtest"},
      {"version", util::version()},
      {"started_at", r.started_at},
      {"elapsed_s", rounded(r.elapsed_s, 3)},
      {"parameters", r.options->to_json()},
      {"workers", std::move(workers)},
      {"clients",
       json::object{{"target", s.clients}, {"joined", s.joined}, {"connected_end", s.connected_end},
                    {"gave_up", s.gave_up}}},
      {"counters", std::move(counters)},
      {"rates_per_s",
       json::object{{"frames_sent", rate(s.frames_sent)},
                    {"frames_received", rate(s.frames_received)},
                    {"broadcasts_received", rate(s.broadcasts_received)},
                    {"status_requests", rate(s.status_requests)}}},
      {"latency_ms", std::move(latency)},
      {"delivery",
       json::object{{"broadcasts_received", s.broadcasts_received}, {"lost", s.lost}, {"tail_lost", s.tail_lost},
                    {"duplicated", s.duplicated}, {"out_of_order", s.out_of_order}}},
      {"errors",
       json::object{{"total", s.errors()},
                    {"operations", s.operations()},
                    {"percent", operations > 0 ? rounded(100.0 * static_cast<double>(s.errors()) / operations, 4) : 0.0},
                    {"by_code", map_json(s.errors_by_code)},
                    {"close_codes", map_json(s.close_codes)},
                    {"connect_failures", map_json(s.connect_failure_reasons)}}},
      {"thresholds", std::move(thresholds)},
      {"generator", std::move(generator)},
      {"target", std::move(target)},
      {"verdict", verdict_name(r.verdict)},
      {"advice", h.advice},
      {"exit_code", exit_code(r.verdict)},
      {"passed", r.passed},
      {"series", r.series},
  };
}

std::string report_text(const Report& report) { return store::write_json(report_json(report)); }

std::string human_table(const Report& r) {
  const Options& o = *r.options;
  const Stats& s = r.total;
  std::string out;
  auto line = [&](std::string text) {
    out += text;
    out += '\n';
  };
  std::string urls;
  for (const auto& u : o.urls) urls += (urls.empty() ? "" : ", ") + u;
  line(fmt::format("tandem loadtest: {} clients in {} rooms of {} ({} profile), {} worker{}, {:.1f} s against {}",
                   thousands(s.clients), thousands(static_cast<std::uint64_t>(o.rooms)), o.room_size,
                   profile_name(o.profile), o.workers, o.workers == 1 ? "" : "s", r.elapsed_s, urls));
  line(fmt::format("clients    joined {}/{}  open at end {}  reconnects {}  gave up {}  leaves {}",
                   thousands(s.joined), thousands(s.clients), thousands(s.connected_end), thousands(s.reconnects),
                   thousands(s.gave_up), thousands(s.leaves)));
  line(fmt::format("messages   sent {} ({})  received {} ({})  /status {} ({})", thousands(s.frames_sent),
                   per_second(s.frames_sent, r.elapsed_s), thousands(s.frames_received),
                   per_second(s.frames_received, r.elapsed_s), thousands(s.status_requests),
                   per_second(s.status_requests, r.elapsed_s)));
  line(fmt::format("delivery   broadcasts {}  lost {} ({} still missing when the drain ended)  duplicated {}  out of order {}",
                   thousands(s.broadcasts_received), thousands(s.lost), thousands(s.tail_lost),
                   thousands(s.duplicated), thousands(s.out_of_order)));
  const double operations = static_cast<double>(s.operations());
  line(fmt::format("errors     {} ({:.3f}% of {} operations)  skipped sends {}", thousands(s.errors()),
                   operations > 0 ? 100.0 * static_cast<double>(s.errors()) / operations : 0.0,
                   thousands(s.operations()), thousands(s.sends_skipped)));
  if (!s.errors_by_code.empty()) line("  ERROR frames: " + map_line(s.errors_by_code));
  if (!s.close_codes.empty()) line("  unintended closes: " + map_line(s.close_codes));
  if (!s.connect_failure_reasons.empty()) line("  failed connects: " + map_line(s.connect_failure_reasons));
  if (s.status_without_room > 0) line(fmt::format("  /status answers without the client's room: {}", s.status_without_room));
  line("");
  line(fmt::format("{:<10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}", "latency", "count", "p50", "p90", "p99",
                   "p99.9", "max", "mean"));
  for (const auto& h : Stats::histograms()) {
    const Histogram& hist = s.*h.member;
    if (hist.count() == 0) {
      line(fmt::format("{:<10} {:>10}", h.name, 0));
      continue;
    }
    auto f = [](double micros) { return format_micros(micros); };
    line(fmt::format("{:<10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}", h.name, thousands(hist.count()),
                     f(static_cast<double>(hist.quantile(0.5))), f(static_cast<double>(hist.quantile(0.9))),
                     f(static_cast<double>(hist.quantile(0.99))), f(static_cast<double>(hist.quantile(0.999))),
                     f(static_cast<double>(hist.max())), f(hist.mean())));
  }
  const Health& h = r.health;
  line("");
  line(fmt::format("generator  send lag p99 {}  event-loop lag p99 {}  skipped late {:.2f}%  busiest worker CPU {:.0f}%  "
                   "(bound: --max-lag {}, --max-skipped {:g}%)",
                   format_micros(h.send_lag_p99_ms * 1000), format_micros(h.loop_lag_p99_ms * 1000),
                   h.skipped_late_percent, h.max_cpu_percent,
                   format_micros(static_cast<double>(o.health.max_lag.count()) * 1000), o.health.max_skipped_percent));
  line(fmt::format("target     write wait p99 {}  sends held back {:.2f}%", format_micros(h.write_wait_p99_ms * 1000),
                   h.skipped_target_percent));
  int missed = 0;
  if (!r.thresholds.empty()) {
    line("");
    for (const auto& t : r.thresholds) {
      if (!t.passed) ++missed;
      line(fmt::format("threshold  {:<24} {:>12}  {}", t.text, t.actual_text, t.passed ? "ok" : "MISSED"));
    }
  }
  line("");
  auto reasons = [&](const std::vector<std::string>& list) {
    for (const auto& reason : list) line("  * " + reason);
  };
  switch (r.verdict) {
    case Verdict::invalid:
      line("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
      line("result     INVALID: the load generator fell behind; the figures above measure the loadtest, not the");
      line("           target, and no threshold can pass this run");
      reasons(h.generator);
      line("  what to do: " + h.advice);
      line("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
      break;
    case Verdict::unreachable:
      line("result     UNREACHABLE: " + h.unreachable);
      line("  what to do: " + h.advice);
      break;
    case Verdict::held_back:
      line("result     NOT APPLIED: the target held the load back (the generator kept up); the run cannot vouch");
      line("           for the target at this load");
      reasons(h.target);
      line("  what to do: " + h.advice);
      break;
    case Verdict::threshold_missed:
      line(fmt::format("result     FAILED ({} of {} thresholds missed)", missed, r.thresholds.size()));
      break;
    case Verdict::passed:
      line("result     PASSED");
      break;
  }
  return out;
}

}  // namespace tandem::loadtest
