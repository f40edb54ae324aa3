#pragma once

// One worker: the simulated clients of its share of the rooms on a single-threaded io_context.
// A run has four phases: ramp/run until --duration; drain (no new sends; wait up to --drain until
// the echoes of the last broadcasts and the /status requests in flight are in and every member of
// a room has seen the same last seq); settle (a broadcast that some member of a room received but
// another connected member had not by the end of the drain counts as lost for that member:
// `tail_lost`); close (LEAVE or close 1000, at most kCloseWait, then every socket is dropped).
//
// SIGINT/SIGTERM end the run early (drain and report as usual); a second one stops at once.

#include <functional>

#include <boost/json/array.hpp>
#include <vector>

#include "core/loadtest/options.hpp"
#include "core/loadtest/progress.hpp"
#include "core/loadtest/stats.hpp"
#include "core/loadtest/target.hpp"

namespace tandem::loadtest {

using ProgressSink = std::function<void(const Progress&)>;

struct WorkerResult {
  int index = 0;
  double elapsed_s = 0;  // from the first connect to the end of the close phase
  Stats stats;
  boost::json::array series;  // one sample a second (series.hpp)
};

// Runs worker `index` of options.workers over `targets` (resolved). Calls `progress` once a
// second and once at the end. Throws only on unexpected failures.
WorkerResult run_worker(const Options& options, const std::vector<Target>& targets, int index,
                        const ProgressSink& progress);

}  // namespace tandem::loadtest
