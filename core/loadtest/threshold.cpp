#include "core/loadtest/threshold.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace tandem::loadtest {

namespace {

struct OpName {
  std::string_view text;
  Threshold::Op op;
};
// Two-character operators first.
constexpr std::array<OpName, 6> kOps{{{"<=", Threshold::Op::le},
                                      {">=", Threshold::Op::ge},
                                      {"==", Threshold::Op::eq},
                                      {"!=", Threshold::Op::ne},
                                      {"<", Threshold::Op::lt},
                                      {">", Threshold::Op::gt}}};

constexpr std::array<std::string_view, 8> kStats{"p50", "p90", "p99", "p99.9", "p999", "min", "mean", "max"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool percent_allowed(std::string_view counter) {
  return counter == "errors" || counter == "lost" || counter == "duplicated" || counter == "out_of_order" ||
         counter == "status_failed";
}

double stat_value(const Histogram& h, std::string_view stat) {
  if (stat == "p50") return static_cast<double>(h.quantile(0.50));
  if (stat == "p90") return static_cast<double>(h.quantile(0.90));
  if (stat == "p99") return static_cast<double>(h.quantile(0.99));
  if (stat == "p99.9" || stat == "p999") return static_cast<double>(h.quantile(0.999));
  if (stat == "min") return static_cast<double>(h.min());
  if (stat == "mean") return h.mean();
  return static_cast<double>(h.max());
}

double counter_value(const Stats& s, std::string_view name) {
  if (name == "errors") return static_cast<double>(s.errors());
  const auto* c = s.counter(name);
  return c ? static_cast<double>(*c) : 0.0;
}

double percent_value(const Stats& s, std::string_view name) {
  double part = counter_value(s, name);
  double whole = 0;
  if (name == "errors") {
    whole = static_cast<double>(s.operations());
  } else if (name == "status_failed") {
    whole = static_cast<double>(s.status_requests);
  } else {
    whole = static_cast<double>(s.broadcasts_received + s.lost);
  }
  return whole > 0 ? 100.0 * part / whole : 0.0;
}

bool compare(double actual, Threshold::Op op, double wanted) {
  switch (op) {
    case Threshold::Op::lt: return actual < wanted;
    case Threshold::Op::le: return actual <= wanted;
    case Threshold::Op::gt: return actual > wanted;
    case Threshold::Op::ge: return actual >= wanted;
    case Threshold::Op::eq: return actual == wanted;
    case Threshold::Op::ne: return actual != wanted;
  }
  return false;
}

}  // namespace

std::string format_micros(double micros) {
  if (micros < 1000) return fmt::format("{:.0f}us", micros);
  if (micros < 1'000'000) return fmt::format("{:.{}f}ms", micros / 1000, micros < 10'000 ? 2 : 1);
  return fmt::format("{:.2f}s", micros / 1'000'000);
}

std::variant<Threshold, std::string> parse_threshold(std::string_view text) {
  Threshold t;
  t.text = std::string(text);
  const auto refuse = [&](std::string_view why) {
    return fmt::format("--threshold '{}': {} (expected e.g. 'p99<50ms', 'status.p99<50ms', 'lost==0', "
                       "'errors<0.1%')",
                       text, why);
  };
  std::size_t at = std::string_view::npos;
  std::string_view op_text;
  for (const auto& candidate : kOps) {
    const auto pos = text.find(candidate.text);
    if (pos != std::string_view::npos && (at == std::string_view::npos || pos < at ||
                                          (pos == at && candidate.text.size() > op_text.size()))) {
      at = pos;
      op_text = candidate.text;
      t.op = candidate.op;
    }
  }
  if (at == std::string_view::npos) return refuse("no comparison operator");
  const std::string_view metric = trim(text.substr(0, at));
  std::string_view rhs = trim(text.substr(at + op_text.size()));
  if (metric.empty()) return refuse("no metric before the operator");

  // The number, then its unit.
  std::size_t digits = 0;
  while (digits < rhs.size() && (std::isdigit(static_cast<unsigned char>(rhs[digits])) || rhs[digits] == '.')) ++digits;
  if (digits == 0) return refuse("no number after the operator");
  const std::string number(rhs.substr(0, digits));
  double value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size()) return refuse("not a number");
  const std::string_view unit = trim(rhs.substr(digits));

  std::string_view histogram = "broadcast";
  std::string_view stat = metric;
  for (const auto& h : Stats::histograms()) {
    if (metric.size() > h.name.size() && metric.starts_with(h.name) && metric[h.name.size()] == '.') {
      histogram = h.name;
      stat = metric.substr(h.name.size() + 1);
    }
  }
  const bool is_stat = std::find(kStats.begin(), kStats.end(), stat) != kStats.end();
  if (is_stat) {
    double scale = 0;
    if (unit == "us" || unit == "µs") scale = 1;
    if (unit == "ms") scale = 1000;
    if (unit == "s") scale = 1'000'000;
    if (scale == 0) return refuse(unit.empty() ? "a latency needs a unit: us, ms or s" : "unknown unit; use us, ms or s");
    t.kind = Threshold::Kind::latency;
    t.histogram = std::string(histogram);
    t.stat = std::string(stat);
    t.value = value * scale;
    return t;
  }
  if (metric != "errors" && !Stats{}.counter(metric)) {
    return refuse(fmt::format("unknown metric '{}'", metric));
  }
  t.stat = std::string(metric);
  if (unit == "%") {
    if (!percent_allowed(metric)) return refuse("% applies to errors, lost, duplicated, out_of_order, status_failed");
    t.kind = Threshold::Kind::percent;
  } else if (unit.empty()) {
    t.kind = Threshold::Kind::count;
  } else {
    return refuse("a count takes no unit (or % for a share)");
  }
  t.value = value;
  return t;
}

ThresholdResult evaluate(const Threshold& t, const Stats& stats) {
  ThresholdResult r;
  r.text = t.text;
  switch (t.kind) {
    case Threshold::Kind::latency: {
      const Histogram* h = stats.histogram(t.histogram);
      r.actual = h ? stat_value(*h, t.stat) : 0.0;
      r.actual_text = (h && h->count() == 0) ? "no samples" : format_micros(r.actual);
      // A latency condition over no samples proves nothing: it fails.
      r.passed = h && h->count() > 0 && compare(r.actual, t.op, t.value);
      return r;
    }
    case Threshold::Kind::count:
      r.actual = counter_value(stats, t.stat);
      r.actual_text = fmt::format("{:.0f}", r.actual);
      break;
    case Threshold::Kind::percent:
      r.actual = percent_value(stats, t.stat);
      r.actual_text = fmt::format("{:.4g}%", r.actual);
      break;
  }
  r.passed = compare(r.actual, t.op, t.value);
  return r;
}

}  // namespace tandem::loadtest
