#pragma once

// Pass/fail conditions on a run's results: `--threshold 'p99<50ms' 'lost==0' 'errors<0.1%'`.
//
//   METRIC OP VALUE      OP is one of < <= > >= == !=
//   latency:  [HISTOGRAM.]STAT with a unit (us, ms, s). HISTOGRAM is connect, join, broadcast
//             (the default), relay, status, pong or send_lag; STAT is p50, p90, p99, p99.9, min,
//             mean or max. Example: 'status.p99<50ms'.
//   counts:   any counter of the report (lost, duplicated, out_of_order, reconnects, gave_up, …)
//             or `errors`. A `%` makes it a share: errors of operations; lost, duplicated and
//             out_of_order of the broadcasts due; status_failed of /status requests.

#include <string>
#include <string_view>
#include <variant>

#include "core/loadtest/stats.hpp"

namespace tandem::loadtest {

struct Threshold {
  enum class Op { lt, le, gt, ge, eq, ne };
  enum class Kind { latency, count, percent };
  std::string text;
  std::string histogram;  // latency: which histogram
  std::string stat;       // latency: p99, max, …; count/percent: the counter name
  Op op = Op::lt;
  Kind kind = Kind::count;
  double value = 0;  // latency in microseconds; a count; a percentage
};

struct ThresholdResult {
  std::string text;
  double actual = 0;        // same unit as Threshold::value
  std::string actual_text;  // "3.2ms", "0", "0.004%"
  bool passed = false;
};

// Parses one expression; returns the reason when it is not one (a usage error).
std::variant<Threshold, std::string> parse_threshold(std::string_view text);
ThresholdResult evaluate(const Threshold& threshold, const Stats& stats);

// "850us", "3.21ms", "1.5s": a latency in the unit that reads best.
std::string format_micros(double micros);

}  // namespace tandem::loadtest
