#include "core/loadtest/html_report.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/loadtest/report_path.hpp"

namespace tandem::loadtest {

namespace json = boost::json;

namespace {

constexpr int kWidth = 600;   // one plot, in CSS pixels
constexpr int kHeight = 240;
constexpr int kLeft = 56;     // room for the y labels
constexpr int kRight = 12;
constexpr int kTop = 30;      // the legend
constexpr int kBottom = 28;   // the x labels

// A field as text: strings as they are, arrays of strings joined by ", ", other values as JSON.
std::string text(const json::value& doc, std::initializer_list<std::string_view> path) {
  const auto* v = find_path(doc, path);
  if (!v) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_array()) {
    std::string joined;
    for (const auto& item : v->as_array()) {
      if (!joined.empty()) joined += ", ";
      joined += item.is_string() ? std::string(item.as_string()) : json::serialize(item);
    }
    return joined;
  }
  return json::serialize(*v);
}

std::string escape(std::string_view in) {
  std::string out;
  for (char c : in) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// A number for an axis label: 3 significant digits, no exponent.
std::string label(double v) {
  if (v >= 10'000) return fmt::format("{:.0f}k", v / 1000);
  if (v >= 100) return fmt::format("{:.0f}", v);
  if (v >= 10) return fmt::format("{:.1f}", v);
  return fmt::format("{:.2f}", v);
}

struct Line {
  std::string name;
  const char* colour;
  std::vector<std::string_view> path;  // into each series entry, e.g. {"broadcast_ms", "p99"}
  bool dashed = false;
};

// One SVG line plot of `lines` over the series' time axis, with the stage ends as dashed
// vertical lines.
std::string plot(const std::string& title, const std::string& unit, const json::array& series,
                 const std::vector<Line>& lines, const std::vector<double>& stage_ends) {
  double t_max = 1;
  double y_max = 0;
  auto value_at = [](const json::value& entry, const Line& line) {
    const json::value* at = &entry;
    for (auto key : line.path) {
      const auto* o = at->if_object();
      at = o ? o->if_contains(key) : nullptr;
      if (!at) return 0.0;
    }
    return at->is_number() ? at->to_number<double>() : 0.0;
  };
  for (const auto& entry : series) {
    t_max = std::max(t_max, number_at(entry, {"t"}));
    for (const auto& line : lines) y_max = std::max(y_max, value_at(entry, line));
  }
  for (double end : stage_ends) t_max = std::max(t_max, end);
  y_max = y_max > 0 ? y_max * 1.1 : 1.0;
  const double plot_w = kWidth - kLeft - kRight;
  const double plot_h = kHeight - kTop - kBottom;
  auto x = [&](double t) { return kLeft + t / t_max * plot_w; };
  auto y = [&](double v) { return kTop + plot_h - v / y_max * plot_h; };

  std::string svg = fmt::format(
      R"(<figure><figcaption>{}</figcaption><svg class="plot" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">)",
      escape(title), kWidth, kHeight, kWidth, kHeight, escape(title));
  svg += fmt::format(R"(<rect x="{}" y="{}" width="{:.1f}" height="{:.1f}" fill="#fff" stroke="#ccc"/>)", kLeft, kTop,
                     plot_w, plot_h);
  for (int i = 0; i <= 4; ++i) {  // horizontal grid and y labels
    const double v = y_max * i / 4;
    svg += fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#eee"/>)", kLeft, kWidth - kRight,
                       y(v), y(v));
    svg += fmt::format(R"(<text x="{}" y="{:.1f}" text-anchor="end" class="axis">{}</text>)", kLeft - 4, y(v) + 4,
                       label(v));
  }
  const double step = t_max <= 20 ? 2 : t_max <= 60 ? 10 : t_max <= 600 ? 60 : 300;
  for (double t = 0; t <= t_max + 1e-9; t += step) {  // x labels, seconds
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle" class="axis">{:g}s</text>)", x(t),
                       kHeight - 8, t);
  }
  svg += fmt::format(R"(<text x="4" y="{}" class="axis">{}</text>)", kTop - 18, escape(unit));
  for (double end : stage_ends) {
    svg += fmt::format(R"(<line class="stage" x1="{:.1f}" x2="{:.1f}" y1="{}" y2="{:.1f}" stroke="#999" stroke-dasharray="4 3"/>)",
                       x(end), x(end), kTop, kTop + plot_h);
  }
  double legend_x = kLeft;
  for (const auto& line : lines) {
    std::string d;
    for (const auto& entry : series) {
      d += fmt::format("{}{:.1f},{:.1f}", d.empty() ? "M" : " L", x(number_at(entry, {"t"})), y(value_at(entry, line)));
    }
    svg += fmt::format(R"(<path class="series" data-name="{}" d="{}" fill="none" stroke="{}" stroke-width="2.5"{}/>)",
                       escape(line.name), d, line.colour, line.dashed ? R"( stroke-dasharray="6 4")" : "");
    svg += fmt::format(R"(<rect x="{:.0f}" y="{}" width="14" height="4" fill="{}"/><text x="{:.0f}" y="{}" class="legend">{}</text>)",
                       legend_x, kTop - 12, line.colour, legend_x + 18, kTop - 7, escape(line.name));
    legend_x += 26 + 7.0 * static_cast<double>(line.name.size());
  }
  svg += "</svg></figure>\n";
  return svg;
}

std::string verdict_class(std::string_view verdict) {
  if (verdict == "PASSED") return "passed";
  if (verdict == "FAILED") return "failed";
  return "invalid";
}

}  // namespace

std::string html_report(const json::value& report) {
  static const json::array kNoSeries;
  const auto* series_value = find_path(report, {"series"});
  const json::array& series = series_value && series_value->is_array() ? series_value->as_array() : kNoSeries;
  std::vector<double> stage_ends;
  if (const auto* stages = find_path(report, {"parameters", "stages"}); stages && stages->is_array()) {
    double end = 0;
    for (const auto& s : stages->as_array()) {
      end += number_at(s, {"duration_ms"}) / 1000.0;
      stage_ends.push_back(end);
    }
  }
  const std::string verdict = text(report, {"verdict"});

  std::string html = R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tandem loadtest report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1260px}
h1{font-size:20px;margin:0 0 8px}
.verdict{font-size:18px;font-weight:700;padding:10px 14px;border-radius:4px;margin:12px 0}
.verdict.passed{background:#e3f4e1;color:#1b5e20}.verdict.failed{background:#fdecea;color:#b71c1c}
.verdict.invalid{background:#b71c1c;color:#fff}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}
.plots{display:grid;grid-template-columns:repeat(2,620px);gap:8px}
figure{margin:0}figcaption{font-weight:600}
.axis{font-size:11px;fill:#555}.legend{font-size:12px;fill:#222}
.missed{color:#b71c1c;font-weight:700}.ok{color:#1b5e20}
</style></head><body>
)";
  html += fmt::format("<h1>tandem loadtest — {} clients, {} profile, started {}</h1>\n",
                      escape(text(report, {"clients", "target"})), escape(text(report, {"parameters", "profile"})),
                      escape(text(report, {"started_at"})));
  html += fmt::format("<p>Run {} against {}, {:.1f} s, {} worker(s); tandem {}.</p>\n",
                      escape(text(report, {"parameters", "run_id"})), escape(text(report, {"parameters", "urls"})),
                      number_at(report, {"elapsed_s"}), escape(text(report, {"parameters", "workers"})),
                      escape(text(report, {"version"})));
  html += fmt::format(R"(<div class="verdict {}">result: {} (exit {})</div>)", verdict_class(verdict), escape(verdict),
                      escape(text(report, {"exit_code"})));
  html += "\n<ul>\n";
  for (const char* side : {"generator", "target"}) {
    if (const auto* reasons = find_path(report, {side, "reasons"}); reasons && reasons->is_array()) {
      for (const auto& reason : reasons->as_array()) {
        if (!reason.is_string()) continue;
        const auto& s = reason.as_string();
        html += fmt::format("<li>{}: {}</li>\n", side, escape(std::string_view(s.data(), s.size())));
      }
    }
  }
  if (const std::string advice = text(report, {"advice"}); !advice.empty()) {
    html += fmt::format("<li>what to do: {}</li>\n", escape(advice));
  }
  html += fmt::format(
      "<li>generator: send lag p99 {:.1f} ms, event-loop lag p99 {:.1f} ms, busiest worker CPU {:.0f} %; "
      "target: write wait p99 {:.1f} ms</li>\n</ul>\n",
      number_at(report, {"generator", "send_lag_p99_ms"}), number_at(report, {"generator", "loop_lag_p99_ms"}),
      number_at(report, {"generator", "max_cpu_percent"}), number_at(report, {"target", "write_wait_p99_ms"}));

  html += "<h2>Summary</h2>\n<table><tr><th>latency (ms)</th><th>count</th><th>p50</th><th>p90</th><th>p99</th>"
          "<th>p99.9</th><th>max</th></tr>\n";
  if (const auto* latency = find_path(report, {"latency_ms"}); latency && latency->is_object()) {
    for (const auto& entry : latency->as_object()) {
      const json::value& h = entry.value();
      html += fmt::format("<tr><td>{}</td><td>{:.0f}</td><td>{:.2f}</td><td>{:.2f}</td><td>{:.2f}</td><td>{:.2f}</td>"
                          "<td>{:.2f}</td></tr>\n",
                          escape(std::string_view(entry.key().data(), entry.key().size())), number_at(h, {"count"}), number_at(h, {"p50"}), number_at(h, {"p90"}),
                          number_at(h, {"p99"}), number_at(h, {"p99_9"}), number_at(h, {"max"}));
    }
  }
  html += "</table>\n<table>";
  html += fmt::format("<tr><td>clients joined</td><td>{} of {}</td></tr>", escape(text(report, {"clients", "joined"})),
                      escape(text(report, {"clients", "target"})));
  html += fmt::format("<tr><td>frames sent / received per s</td><td>{:.0f} / {:.0f}</td></tr>",
                      number_at(report, {"rates_per_s", "frames_sent"}), number_at(report, {"rates_per_s", "frames_received"}));
  html += fmt::format("<tr><td>broadcasts received, lost, duplicated, out of order</td><td>{}, {}, {}, {}</td></tr>",
                      escape(text(report, {"delivery", "broadcasts_received"})), escape(text(report, {"delivery", "lost"})),
                      escape(text(report, {"delivery", "duplicated"})),
                      escape(text(report, {"delivery", "out_of_order"})));
  html += fmt::format("<tr><td>errors</td><td>{} ({:.3f} %)</td></tr></table>\n",
                      escape(text(report, {"errors", "total"})), number_at(report, {"errors", "percent"}));

  if (const auto* thresholds = find_path(report, {"thresholds"}); thresholds && thresholds->is_array() &&
                                                             !thresholds->as_array().empty()) {
    html += "<h2>Thresholds</h2>\n<table><tr><th>threshold</th><th>actual</th><th></th></tr>\n";
    for (const auto& t : thresholds->as_array()) {
      const bool passed = find_path(t, {"passed"}) && find_path(t, {"passed"})->is_bool() && find_path(t, {"passed"})->as_bool();
      html += fmt::format(R"(<tr><td>{}</td><td>{}</td><td class="{}">{}</td></tr>)", escape(text(t, {"expr"})),
                          escape(text(t, {"actual_text"})), passed ? "ok" : "missed", passed ? "ok" : "MISSED");
      html += "\n";
    }
    html += "</table>\n";
  }

  using namespace plot_colour;
  html += "<h2>Over time</h2>\n<div class=\"plots\">\n";
  html += plot("Broadcast and /status latency", "ms", series,
               {{"broadcast p50", kBroadcastP50, {"broadcast_ms", "p50"}},
                {"broadcast p99", kBroadcastP99, {"broadcast_ms", "p99"}},
                {"/status p99", kStatusP99, {"status_ms", "p99"}}},
               stage_ends);
  html += plot("Clients", "clients", series,
               {{"planned", kPlanned, {"clients_planned"}, true}, {"connected", kConnected, {"connected"}}},
               stage_ends);
  html += plot("Throughput", "frames/s", series,
               {{"sent", kFramesOut, {"frames_sent_per_s"}}, {"received", kFramesIn, {"frames_received_per_s"}}},
               stage_ends);
  html += plot("Errors", "errors/s", series, {{"errors", kErrors, {"errors_per_s"}}}, stage_ends);
  html += plot("Generator lag (p99)", "ms", series,
               {{"send lag", kSendLag, {"send_lag_ms", "p99"}},
                {"event-loop lag", kLoopLag, {"loop_lag_ms", "p99"}},
                {"write wait", kWriteWait, {"write_wait_ms", "p99"}}},
               stage_ends);
  html += plot("Generator CPU (all workers)", "% of a core", series, {{"CPU", kCpu, {"cpu_percent"}}}, stage_ends);
  html += "</div>\n</body></html>\n";
  return html;
}

}  // namespace tandem::loadtest
