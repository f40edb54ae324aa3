#pragma once

// The end of a run: the merged results of every worker, the thresholds' verdicts, the JSON
// document written by --out, and the table printed for a human.

#include <string>
#include <vector>

#include <boost/json/fwd.hpp>

#include <boost/json/array.hpp>

#include "core/loadtest/health.hpp"
#include "core/loadtest/options.hpp"
#include "core/loadtest/stats.hpp"
#include "core/loadtest/threshold.hpp"
#include "core/loadtest/worker.hpp"

namespace tandem::loadtest {

struct Report {
  const Options* options = nullptr;
  std::string started_at;  // ISO 8601, UTC
  double elapsed_s = 0;    // the longest worker
  std::vector<WorkerResult> workers;
  Stats total;
  std::vector<ThresholdResult> thresholds;
  bool thresholds_passed = true;
  Health health;
  Verdict verdict = Verdict::passed;
  bool passed = true;  // verdict == passed: the generator kept up, the target took the load,
                       // and every threshold passed
  boost::json::array series;  // per second (series.hpp)
};

// Merges the workers and evaluates the thresholds of `options` (already validated).
Report build_report(const Options& options, std::vector<WorkerResult> workers, std::string started_at);

boost::json::value report_json(const Report& report);
// The report as JSON text: numbers in plain decimal form (store::write_json), one line.
std::string report_text(const Report& report);
std::string human_table(const Report& report);

}  // namespace tandem::loadtest
