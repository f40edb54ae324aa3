#pragma once

// The once-a-second summary a worker reports while it runs, and the live line built from the
// summaries of all workers.

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/fwd.hpp>

#include "core/loadtest/histogram.hpp"

namespace tandem::loadtest {

struct Progress {
  double elapsed_s = 0;
  std::uint64_t target = 0;     // clients of the worker
  std::uint64_t connected = 0;  // WebSockets open
  std::uint64_t joined = 0;
  std::uint64_t sent = 0;       // frames, cumulative
  std::uint64_t received = 0;
  std::uint64_t errors = 0;
  std::uint64_t lost = 0;
  std::string phase;            // "ramp", "run", "drain", "close"
  Histogram broadcast;          // cumulative

  boost::json::value to_json() const;
  static Progress from_json(const boost::json::value& v);  // throws std::invalid_argument
};

// Renders "[ 12s] run  connected 4000/5000  joined 4000  msgs/s out 9.1k in 21.3k  bcast p99 3.2ms
// errors 0  lost 0" from the latest summary of every worker and the previous totals.
class ProgressLine {
 public:
  explicit ProgressLine(std::size_t workers) : latest_(workers) {}
  void update(std::size_t worker, Progress p) { latest_.at(worker) = std::move(p); }
  std::string render();

 private:
  std::vector<Progress> latest_;
  double last_elapsed_ = 0;
  std::uint64_t last_sent_ = 0;
  std::uint64_t last_received_ = 0;
};

}  // namespace tandem::loadtest
