#include "core/loadtest/health.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/loadtest/client.hpp"
#include "core/loadtest/threshold.hpp"

namespace tandem::loadtest {

namespace {

double ms(std::int64_t micros) { return static_cast<double>(micros) / 1000.0; }
double percent(std::uint64_t part, std::uint64_t whole) {
  return whole > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0;
}

}  // namespace

int exit_code(Verdict v) {
  switch (v) {
    case Verdict::passed: return kExitPassed;
    case Verdict::threshold_missed: return kExitThresholdMissed;
    case Verdict::held_back: return kExitHeldBack;
    case Verdict::unreachable: return kExitUnreachable;
    case Verdict::invalid: return kExitInvalid;
  }
  return kExitInvalid;
}

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::passed: return "PASSED";
    case Verdict::threshold_missed: return "FAILED";
    case Verdict::held_back: return "NOT APPLIED";
    case Verdict::unreachable: return "UNREACHABLE";
    case Verdict::invalid: return "INVALID";
  }
  return "INVALID";
}

Health judge_health(const Options& options, const Stats& total, const std::vector<WorkerResult>& workers) {
  const HealthBounds& bounds = options.health;
  Health h;
  const auto bound_ms = static_cast<double>(bounds.max_lag.count());
  h.send_lag_p99_ms = ms(total.send_lag.quantile(0.99));
  h.loop_lag_p99_ms = ms(total.loop_lag.quantile(0.99));
  h.write_wait_p99_ms = ms(total.write_wait.quantile(0.99));
  const std::uint64_t scheduled = total.frames_sent + total.sends_skipped + total.status_requests;
  h.skipped_late_percent = percent(total.sends_skipped_late, scheduled);
  h.skipped_target_percent = percent(total.sends_refused + total.status_skipped, scheduled);
  int busiest = -1;
  for (const auto& w : workers) {
    const double cpu = w.elapsed_s > 0 ? static_cast<double>(w.stats.cpu_us) / (w.elapsed_s * 1e4) : 0.0;
    if (cpu > h.max_cpu_percent) {
      h.max_cpu_percent = cpu;
      busiest = w.index;
    }
  }

  if (h.send_lag_p99_ms > bound_ms) {
    h.generator.push_back(fmt::format("send lag p99 {} (scheduled → handed to the socket) is above --max-lag {}",
                                      format_micros(h.send_lag_p99_ms * 1000), format_micros(bound_ms * 1000)));
  }
  if (h.loop_lag_p99_ms > bound_ms) {
    h.generator.push_back(fmt::format("event-loop lag p99 {} is above --max-lag {}",
                                      format_micros(h.loop_lag_p99_ms * 1000), format_micros(bound_ms * 1000)));
  }
  if (total.sends_skipped_late > 0 && h.skipped_late_percent > bounds.max_skipped_percent) {
    h.generator.push_back(fmt::format("{} scheduled sends ({:.2f}%) were skipped because the generator was "
                                      "{}+ periods late (--max-skipped {:g}%)",
                                      total.sends_skipped_late, h.skipped_late_percent, Client::kMaxCatchUp,
                                      bounds.max_skipped_percent));
  }
  if (!h.generator.empty() && busiest >= 0) {
    h.generator.push_back(fmt::format("worker {} used {:.0f}% of a core", busiest, h.max_cpu_percent));
  }

  if (total.clients > 0 && total.joined * 2 < total.clients) {
    h.unreachable = fmt::format("only {} of {} clients ever joined ({} failed connects)", total.joined,
                                total.clients, total.connect_failures);
  }

  const std::uint64_t held = total.sends_refused + total.status_skipped;
  if (held > 0 && h.skipped_target_percent > bounds.max_skipped_percent) {
    h.target.push_back(fmt::format("{} sends ({:.2f}%) were not made because the target had not taken the "
                                   "earlier ones ({} refused by a full send queue, {} /status polls still unanswered)",
                                   held, h.skipped_target_percent, total.sends_refused, total.status_skipped));
  }
  if (h.write_wait_p99_ms > bound_ms) {
    h.target.push_back(fmt::format("frames waited p99 {} for their write to complete (the target did not read), "
                                   "above --max-lag {}",
                                   format_micros(h.write_wait_p99_ms * 1000), format_micros(bound_ms * 1000)));
  }

  if (!h.generator.empty()) {
    h.advice = fmt::format(
        "the generator, not the target, was the bottleneck: its latencies measure itself. Run again with more "
        "workers (--workers {}) or fewer clients per worker, on a less busy machine, or lower the rates.",
        std::max(2, options.workers * 2));
  } else if (!h.unreachable.empty()) {
    h.advice = "check the URL, the node's limits (limits.max_conns_per_ip) and the failed connects above.";
  } else if (!h.target.empty()) {
    h.advice = "the target held the load back: it did not keep up with the load offered. This load is above "
               "what it sustains; lower it to find the capacity.";
  }
  return h;
}

Verdict decide(const Health& health, bool thresholds_passed) {
  if (!health.generator.empty()) return Verdict::invalid;
  if (!health.unreachable.empty()) return Verdict::unreachable;
  if (!health.target.empty()) return Verdict::held_back;
  return thresholds_passed ? Verdict::passed : Verdict::threshold_missed;
}

}  // namespace tandem::loadtest
