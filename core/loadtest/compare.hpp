#pragma once

// `tandem loadtest compare A.json B.json`: two runs' reports (--out) side by side, B against A:
// p50/p99/max of every latency kind, throughput, errors and delivery, each with the ratio B/A,
// so that a release can be held against the last one. Pure: reads documents, returns text.

#include <string>
#include <variant>

#include <boost/json/fwd.hpp>

namespace tandem::loadtest {

struct Comparison {
  std::string table;  // for a terminal, one line per figure
};

// The comparison, or the reason a document is not a loadtest report.
std::variant<Comparison, std::string> compare_reports(const boost::json::value& a, const boost::json::value& b,
                                                const std::string& name_a, const std::string& name_b);

// Reads both files and prints the table on stdout. Exit code: 0, or 2 when a file is not a
// readable report (the reason on stderr).
int run_compare(const std::string& file_a, const std::string& file_b);

}  // namespace tandem::loadtest
