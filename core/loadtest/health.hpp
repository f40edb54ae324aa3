#pragma once

// Whether a run can vouch for the target at the load it was asked to offer, and the exit code
// that says so. A generator that fell behind (late sends, skipped sends, a lagging event loop)
// did not offer the load: its latencies measure itself, so the run is INVALID whatever the
// thresholds say. A target that pushed back (it stopped reading, so sends were refused or
// waited in the socket) did not take the load: the run is not a pass either, and the report
// names the target as the side that held the load back.
//
// The order of the verdicts: invalid (generator) > unreachable > held back (target) > a missed
// threshold > passed. The first that applies decides the exit code.

#include <string>
#include <vector>

#include "core/loadtest/options.hpp"
#include "core/loadtest/stats.hpp"
#include "core/loadtest/worker.hpp"

namespace tandem::loadtest {

// The exit codes of `tandem loadtest` (its --help and docs/loadtest.md list them).
inline constexpr int kExitPassed = 0;
inline constexpr int kExitThresholdMissed = 1;  // also: a runtime failure, as for every command
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;  // a target unreachable, or most clients never joined
inline constexpr int kExitInvalid = 4;      // the generator fell behind (or a worker failed)
inline constexpr int kExitHeldBack = 5;     // the target pushed back: the load was not applied

enum class Verdict { passed, threshold_missed, held_back, unreachable, invalid };

int exit_code(Verdict v);
std::string_view verdict_name(Verdict v);  // "PASSED", "FAILED", "NOT APPLIED", "UNREACHABLE", "INVALID"

struct Health {
  std::vector<std::string> generator;  // why the generator fell behind; empty when it kept up
  std::vector<std::string> target;     // how the target held the load back; empty when it did not
  std::string unreachable;             // why the run counts as unreachable; empty when it does not
  std::string advice;                  // what to do about the first of the above
  // The generator's own figures, for the report.
  double send_lag_p99_ms = 0;
  double loop_lag_p99_ms = 0;
  double write_wait_p99_ms = 0;
  double skipped_late_percent = 0;     // of scheduled sends
  double skipped_target_percent = 0;   // refused by a full queue + /status polls skipped
  double max_cpu_percent = 0;          // the busiest worker, 100 = one core
};

// Judges `total` (merged) and each worker against options.health.
Health judge_health(const Options& options, const Stats& total, const std::vector<WorkerResult>& workers);

// The verdict of a run: the health first, then the thresholds.
Verdict decide(const Health& health, bool thresholds_passed);

}  // namespace tandem::loadtest
