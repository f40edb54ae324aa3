#pragma once

// The run as a time series: once a second every worker takes a sample (its counters so far and
// the latencies recorded since the previous sample); the parent merges the samples of all
// workers second by second into the `series` of the JSON report.
//
// Samples travel as JSON (histograms in their sparse form), so a long run costs a few hundred
// bytes per second and worker, not a full histogram each.

#include <cstdint>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "core/loadtest/histogram.hpp"
#include "core/loadtest/stats.hpp"

namespace tandem::loadtest {

// Latencies recorded since the last sample. Single-threaded, like the worker that owns it.
struct Window {
  Histogram broadcast;
  Histogram status;
  Histogram send_lag;
  Histogram write_wait;
  Histogram loop_lag;
};

struct SamplePoint {
  double elapsed_s = 0;          // since the run's time zero
  std::uint64_t planned = 0;     // clients the schedule (ramp, stages) wants connected now
  std::uint64_t connected = 0;   // WebSockets open now
};

// One worker's sample: `point`, the cumulative counters of `stats`, and `window` (which it
// then empties).
boost::json::object take_sample(const SamplePoint& point, const Stats& stats, Window& window);

// The per-second series of the run from the samples of every worker (samples with the same
// whole second are merged: counts added, latencies merged). Each entry:
//   {"t": s, "clients_planned", "connected", "joined", "frames_sent_per_s", "frames_received_per_s",
//    "errors", "errors_per_s", "sends_skipped", "cpu_percent" (all workers, 100 = one core),
//    "broadcast_ms" / "status_ms" / "send_lag_ms" / "write_wait_ms" / "loop_lag_ms":
//        {"count","p50","p90","p99","max"}}
// Throws std::invalid_argument on a malformed sample.
boost::json::array merge_series(const std::vector<const boost::json::array*>& workers);

}  // namespace tandem::loadtest
